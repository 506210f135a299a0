//! `eval intents --intent-fallback mock|BASE_URL`: what the LLM intent fallback costs and gains
//! on each eval set. The verdicts below the intent model's fallback threshold are put to the
//! model through `tria_agent::LlmIntentFallback`, exactly as the server asks (same prompt,
//! deadline, breaker and per-message cache): the share of messages that cost a call, the tokens
//! (counted here with cl100k, and as the provider reported), and accuracy before and after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tria_agent::{LlmGuard, LlmIntentFallback, LlmIntentOptions};
use tria_config::Settings;
use tria_core::IntentLabel;
use tria_intent::{Classification, DecidedBy, IntentModel};
use tria_llm::{CallOutcome, CallRecord, LlmClient, LlmObserver, ObservedLlm, OpenAiClient, OpenAiConfig, PriceTable, RetryPolicy};
use tria_mock_llm::{MockConfig, MockServer};

/// Where `--intent-fallback` sends the unsure verdicts, and the model asked.
pub(crate) struct FallbackTarget<'a> {
    /// `mock` or an OpenAI-compatible base URL.
    pub(crate) target: &'a str,
    pub(crate) model: &'a str,
}

/// Every call the fallback makes, as an observer sees it (what the cost ledger is told).
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    failed: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    micro_usd: Mutex<f64>,
}

impl LlmObserver for Tally {
    fn on_call(&self, record: &CallRecord) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if record.outcome != CallOutcome::Ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(usage) = record.usage {
            self.prompt_tokens.fetch_add(u64::from(usage.prompt_tokens), Ordering::Relaxed);
            self.completion_tokens.fetch_add(u64::from(usage.completion_tokens), Ordering::Relaxed);
        }
        *self.micro_usd.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += record.cost_micro_usd;
    }
}

impl Tally {
    fn snapshot(&self) -> (u64, u64, u64, u64, f64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.prompt_tokens.load(Ordering::Relaxed),
            self.completion_tokens.load(Ordering::Relaxed),
            *self.micro_usd.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The fallback under test, its runtime and (for `mock`) the mock it asks.
pub(crate) struct FallbackEval {
    runtime: tokio::runtime::Runtime,
    fallback: LlmIntentFallback,
    tally: Arc<Tally>,
    describe: String,
    _mock: Option<MockServer>,
}

impl FallbackEval {
    pub(crate) fn start(settings: &Settings, target: FallbackTarget<'_>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let (base_url, mock) = if target.target == "mock" {
            let mock = runtime.block_on(MockServer::start(MockConfig { model: target.model.to_owned(), ..MockConfig::default() }))?;
            (mock.base_url(), Some(mock))
        } else {
            (target.target.to_owned(), None)
        };
        let mut config = OpenAiConfig::new(&base_url, target.model).with_timeout(Duration::from_secs(10)).with_retry(RetryPolicy::none());
        if !settings.llm.api_key.is_empty() && mock.is_none() {
            config = config.with_api_key(&settings.llm.api_key);
        }
        let client: Arc<dyn LlmClient> = Arc::new(OpenAiClient::new(config).context("the fallback's LLM client")?);
        let tally = Arc::new(Tally::default());
        let observed: Arc<dyn LlmClient> = Arc::new(ObservedLlm::new(client, tally.clone(), PriceTable::builtin()));
        let fallback = LlmIntentFallback::new(observed, Arc::new(LlmGuard::default()), LlmIntentOptions::default());
        let describe = format!("{} at {base_url}", target.model);
        Ok(Self { runtime, fallback, tally, describe, _mock: mock })
    }

    /// Asks the fallback for every verdict below the threshold and prints what it cost and changed.
    pub(crate) fn report(
        &self,
        model: &IntentModel,
        texts: &[&str],
        truth: &[IntentLabel],
        verdicts: &[Classification],
    ) -> anyhow::Result<()> {
        let before = self.tally.snapshot();
        let unsure: Vec<usize> = (0..verdicts.len()).filter(|&i| model.needs_fallback(&verdicts[i])).collect();
        let mut resolved: Vec<IntentLabel> = verdicts.iter().map(|v| v.label).collect();
        let mut labelled = 0;
        let mut local_prompt_tokens = 0u64;
        self.runtime.block_on(async {
            for &i in &unsure {
                local_prompt_tokens += u64::from(tria_llm::tokens::count_messages(&self.fallback.request(texts[i]).messages));
                let verdict = model.resolve(texts[i], verdicts[i].clone(), &self.fallback).await;
                if verdict.decided_by == DecidedBy::Fallback {
                    labelled += 1;
                }
                resolved[i] = verdict.label;
            }
        });
        let after = self.tally.snapshot();
        let (calls, failed) = (after.0 - before.0, after.1 - before.1);
        let (prompt, completion, micro_usd) = (after.2 - before.2, after.3 - before.3, after.4 - before.4);
        let n = verdicts.len().max(1) as f64;
        let right = |labels: &[IntentLabel]| labels.iter().zip(truth).filter(|(p, t)| p == t).count();
        let first: Vec<IntentLabel> = verdicts.iter().map(|v| v.label).collect();
        let fixed = unsure.iter().filter(|&&i| first[i] != truth[i] && resolved[i] == truth[i]).count();
        let broken = unsure.iter().filter(|&&i| first[i] == truth[i] && resolved[i] != truth[i]).count();
        let unsure_right = unsure.iter().filter(|&&i| first[i] == truth[i]).count();
        println!("intent fallback ({}):", self.describe);
        println!(
            "  below the threshold: {} of {} messages = {:.1} model calls per 100 messages (classifier right on {} of them)",
            unsure.len(),
            verdicts.len(),
            100.0 * unsure.len() as f64 / n,
            unsure_right
        );
        println!(
            "  calls made: {calls} ({failed} failed or timed out); answered with a label: {labelled}; otherwise the classifier's verdict stood"
        );
        println!(
            "  prompt tokens per call (cl100k, counted here): {:.0}; as the provider reported: {prompt} prompt + {completion} completion in total; cost by the price table: ${:.6}",
            local_prompt_tokens as f64 / unsure.len().max(1) as f64,
            micro_usd / 1_000_000.0
        );
        // A label is at most four tokens; priced as gpt-4o-mini (the built-in table) would bill it.
        if let Some(price) = PriceTable::builtin().price("gpt-4o-mini").filter(|_| !unsure.is_empty()) {
            let per_call = price.micro_usd(local_prompt_tokens / unsure.len().max(1) as u64, 4, 0);
            println!(
                "  at gpt-4o-mini's price: ${:.6} per call, ${:.4} per 1000 messages",
                per_call / 1e6,
                per_call * unsure.len() as f64 / n * 1000.0 / 1e6
            );
        }
        // What a perfect answer to every question would give: the most the fallback can gain.
        let ceiling = right(&first) + (unsure.len() - unsure_right);
        println!(
            "  accuracy: {:.3} without → {:.3} with the fallback (fixed {fixed}, broken {broken}); {:.3} if every answer were right",
            right(&first) as f64 / n,
            right(&resolved) as f64 / n,
            ceiling as f64 / n
        );
        Ok(())
    }
}
