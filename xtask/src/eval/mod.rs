//! `eval intents`, `eval retrieval`, `eval safety`, `eval answers`, `eval conversations`: quality figures from held-out sets under fixtures/eval.
//! They print a report for docs/QUALITY.md; they are measurements, not pass/fail tests.

mod answers;
mod conversations;
pub(crate) mod harness;
mod intent_fallback;
mod intents;
mod retrieval;
mod safety;

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use tria_config::Settings;
use tria_rag::{Embedder, LocalEmbedder, LocalEmbedderOptions};

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Intent classification on fixtures/eval/intents.jsonl (plus intents_fresh and intents_multilingual).
    Intents {
        /// List every misclassified message.
        #[arg(long)]
        verbose: bool,
        /// Run only the final split (fixtures/eval/intents_independent.jsonl: written
        /// independently of the training text, with per-label and per-slice accuracy). Run it
        /// once when training is frozen; never tune on it.
        #[arg(long = "final")]
        final_split: bool,
        /// Also put the verdicts below the fallback threshold to an LLM, as the server's intent
        /// fallback does: `mock` (the in-repo mock LLM) or an OpenAI-compatible base URL
        /// (key from `llm.api_key` / TRIA_LLM__API_KEY). Reports calls per 100 messages,
        /// tokens and the accuracy with its answers.
        #[arg(long, value_name = "mock|BASE_URL")]
        intent_fallback: Option<String>,
        /// The model the fallback asks.
        #[arg(long, default_value = "tria-mock")]
        fallback_model: String,
    },
    /// Semantic cache (L3) on fixtures/eval/cache_pairs.jsonl: hit and wrong-answer rate per threshold.
    Cache {
        /// List missed paraphrases and wrongly shared near-misses.
        #[arg(long)]
        verbose: bool,
    },
    /// Input safety screen on fixtures/eval/safety: refusal rate on attacks, false refusals on benign.
    Safety {
        /// List every verdict with the rule that fired.
        #[arg(long)]
        verbose: bool,
    },
    /// The pipeline on fixtures/eval/answers.jsonl: correctness, ungrounded-number rate, latency.
    Answers {
        /// Hybrid retrieval and model intents (needs `cargo xtask model fetch`), as the server runs.
        #[arg(long)]
        semantic: bool,
        /// List every wrong or ungrounded answer.
        #[arg(long)]
        verbose: bool,
    },
    /// Scripted multi-turn conversations (fixtures/eval/conversations), each run `--repeat` times: pass^k.
    Conversations {
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// Use the offline grounded responder instead of the mock LLM.
        #[arg(long)]
        offline: bool,
        /// The protocol the mock LLM speaks and the client uses: openai, anthropic or azure.
        #[arg(long, default_value = "openai", value_parser = |s: &str| s.parse::<tria_llm::Provider>())]
        provider: tria_llm::Provider,
        /// Hybrid retrieval and model intents (needs `cargo xtask model fetch`).
        #[arg(long)]
        semantic: bool,
        /// List every failing run, not only the first.
        #[arg(long)]
        verbose: bool,
    },
    /// Policy retrieval on fixtures/eval/retrieval.jsonl (BM25, vector, hybrid).
    Retrieval {
        /// List the questions hybrid retrieval misses at 5.
        #[arg(long)]
        verbose: bool,
    },
}

pub(crate) fn run(args: &EvalArgs, settings: &Settings) -> anyhow::Result<()> {
    match &args.which {
        Which::Intents { verbose, final_split, intent_fallback, fallback_model } => {
            let fallback = intent_fallback.as_deref().map(|target| intents::FallbackTarget { target, model: fallback_model });
            intents::run(settings, *verbose, *final_split, fallback)
        }
        Which::Retrieval { verbose } => retrieval::run(settings, *verbose),
        Which::Cache { verbose } => crate::eval_cache::run(settings, *verbose),
        Which::Safety { verbose } => safety::run(settings, *verbose),
        Which::Answers { semantic, verbose } => answers::run(settings, *semantic, *verbose),
        Which::Conversations { repeat, offline, provider, semantic, verbose } => {
            conversations::run(settings, *repeat, (!*offline).then_some(*provider), *semantic, *verbose)
        }
    }
}

pub(crate) fn embedder(settings: &Settings) -> anyhow::Result<Arc<dyn Embedder>> {
    let embedder = LocalEmbedder::load(&LocalEmbedderOptions::new(&settings.models_dir)).context("loading the embedding model")?;
    Ok(Arc::new(embedder))
}
