//! The learned layer of the input screen in the pipeline. Lexical rules run on every message
//! before the cache; the learned screen needs the message's embedding, so it runs where a miss
//! computes one anyway — at generation — and a hit never pays for it (a cached answer was
//! produced for the same normalised text, which passed the same screen). Its refusals are not
//! cached, so a retrained model never serves an old verdict.
//!
//! Training data: the labelled attacks and look-alikes in `fixtures/safety/*.jsonl` plus every
//! intent example in `fixtures/intents` as a benign customer message.

use std::path::Path;

use tria_guard::{LearnedScreen, Refusal, SafetyExample, parse_safety_examples};
use tria_rag::Embedder;

use crate::Agent;

#[derive(Debug, thiserror::Error)]
pub enum SafetyDataError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: String, source: tria_guard::SafetyDataError },
    #[error("{0}")]
    Intents(#[from] tria_intent::ExampleError),
    #[error("embedding the safety examples: {0}")]
    Embed(#[from] tria_rag::EmbedError),
    #[error("{dir} holds no labelled attacks")]
    NoAttacks { dir: String },
}

/// Every labelled message the learned screen trains on, in a stable order.
pub fn safety_training_set(fixtures_dir: &Path) -> Result<Vec<SafetyExample>, SafetyDataError> {
    let dir = fixtures_dir.join("safety");
    let io = |path: &Path, source| SafetyDataError::Io { path: path.display().to_string(), source };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| io(&dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut examples = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        examples
            .extend(parse_safety_examples(&text).map_err(|source| SafetyDataError::Parse { path: path.display().to_string(), source })?);
    }
    if !examples.iter().any(|e| e.category.is_some()) {
        return Err(SafetyDataError::NoAttacks { dir: dir.display().to_string() });
    }
    let intents = tria_intent::load_examples(&fixtures_dir.join("intents"))?;
    examples.extend(intents.into_iter().map(|e| SafetyExample { text: e.text, category: None }));
    Ok(examples)
}

/// Trains the learned screen on [`safety_training_set`], with the examples' vectors kept in
/// `vector_cache_dir` when given (a restart does not embed them again). Blocking.
pub fn learned_safety_screen(
    embedder: &dyn Embedder,
    fixtures_dir: &Path,
    vector_cache_dir: Option<&Path>,
) -> Result<LearnedScreen, SafetyDataError> {
    let examples = safety_training_set(fixtures_dir)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let vectors = match vector_cache_dir {
        Some(cache) => tria_rag::embed_batch_cached(embedder, &texts, cache)?,
        None => embedder.embed_batch(&texts)?,
    };
    Ok(LearnedScreen::train(&examples, &vectors))
}

impl Agent {
    /// The learned screen's verdict on a message that passed the lexical rules; `None` without a
    /// learned screen or an embedder.
    pub(crate) fn learned_refusal(&self, message: &str) -> Option<Refusal> {
        let learned = self.screen().learned()?;
        let vector = self.query_embedding(message)?;
        let refusal = learned.screen(message, &vector)?;
        tracing::warn!(rule = %refusal.rule, category = refusal.category.as_str(), "input refused by the learned safety screen");
        Some(refusal)
    }
}
