//! The model-backed parts of the pipeline — the embedder and the intent model built from
//! `fixtures/intents` — loaded so that a missing model degrades the agent (BM25 retrieval, rule
//! intents) instead of stopping it, and reported for health checks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tria_guard::LearnedScreen;
use tria_intent::{IntentModel, load_examples};
use tria_rag::embed::Memoized;
use tria_rag::{Embedder, EmbedderStatus, LocalEmbedder, LocalEmbedderOptions};

/// Recent query vectors kept so a message is embedded once for intent, retrieval and cache.
const QUERY_MEMO: usize = 256;

/// What [`load_semantic`] produced; hand it to [`crate::AgentBuilder::semantic`].
#[derive(Clone)]
pub struct SemanticParts {
    pub embedder: Option<Arc<dyn Embedder>>,
    pub intent_model: Option<Arc<IntentModel>>,
    /// The learned input-safety screen (see [`crate::safety`]), trained on the same embedder.
    pub safety: Option<Arc<LearnedScreen>>,
    pub status: EmbedderStatus,
    /// Where vectors of fixed texts (intent examples, L3's evidence passages) are kept so a
    /// restart does not embed them again; `None`: embedded on every start.
    pub vector_cache_dir: Option<PathBuf>,
}

impl std::fmt::Debug for SemanticParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticParts")
            .field("status", &self.status)
            .field("intent_model", &self.intent_model.is_some())
            .field("safety", &self.safety.is_some())
            .finish()
    }
}

impl SemanticParts {
    /// No model: BM25 retrieval and rule intents. `reason` is what health reports.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            embedder: None,
            intent_model: None,
            safety: None,
            status: EmbedderStatus::Unavailable { reason: reason.into() },
            vector_cache_dir: None,
        }
    }

    /// Wraps any embedder (local, remote, a test double) and builds the intent model from the
    /// examples in `intent_examples_dir`. An unreadable examples dir leaves intents to the rules.
    pub fn from_embedder(embedder: Arc<dyn Embedder>, intent_examples_dir: &Path) -> Self {
        Self::build(embedder, intent_examples_dir, None)
    }

    /// [`Self::from_embedder`], keeping the examples' vectors in `vector_cache_dir` so a restart
    /// does not embed them again.
    pub fn from_embedder_cached(embedder: Arc<dyn Embedder>, intent_examples_dir: &Path, vector_cache_dir: &Path) -> Self {
        Self::build(embedder, intent_examples_dir, Some(vector_cache_dir))
    }

    fn build(embedder: Arc<dyn Embedder>, intent_examples_dir: &Path, vector_cache_dir: Option<&Path>) -> Self {
        let embedder: Arc<dyn Embedder> = Arc::new(Memoized::new(embedder, QUERY_MEMO));
        let status = EmbedderStatus::Ready { model_id: embedder.model_id().to_owned(), dimension: embedder.dimension() };
        let intent_model = match intent_model(embedder.as_ref(), intent_examples_dir, vector_cache_dir) {
            Ok(model) => Some(Arc::new(model)),
            Err(e) => {
                tracing::warn!(error = %e, dir = %intent_examples_dir.display(), "intent model unavailable; using rules");
                None
            }
        };
        Self { embedder: Some(embedder), intent_model, safety: None, status, vector_cache_dir: vector_cache_dir.map(Path::to_path_buf) }
    }

    /// Adds the learned safety screen, trained on `fixtures_dir/safety` and the intent examples
    /// with this embedder. Without an embedder, or when the data cannot be read, the lexical
    /// screen works alone (logged).
    pub fn with_learned_safety(mut self, fixtures_dir: &Path, vector_cache_dir: Option<&Path>) -> Self {
        let Some(embedder) = &self.embedder else { return self };
        match crate::safety::learned_safety_screen(embedder.as_ref(), fixtures_dir, vector_cache_dir) {
            Ok(screen) => self.safety = Some(Arc::new(screen)),
            Err(e) => tracing::warn!(error = %e, "learned safety screen unavailable; the lexical screen works alone"),
        }
        self
    }
}

fn intent_model(
    embedder: &dyn Embedder,
    dir: &Path,
    vector_cache_dir: Option<&Path>,
) -> Result<IntentModel, Box<dyn std::error::Error + Send + Sync>> {
    let examples = load_examples(dir)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let vectors = match vector_cache_dir {
        Some(cache) => tria_rag::embed_batch_cached(embedder, &texts, cache)?,
        None => embedder.embed_batch(&texts)?,
    };
    Ok(IntentModel::from_examples(&examples, &vectors)?)
}

/// Loads the local model from `models_dir` and the intent examples from
/// `fixtures_dir/intents`. Never fails: when the model files are missing the result says which
/// command fetches them (`cargo xtask model fetch`) and the agent runs on BM25 and rules.
/// Blocking (≈0.5 s model load plus ≈1–2 s embedding the examples): call it from
/// `tokio::task::spawn_blocking` in async code.
pub fn load_semantic(models_dir: &Path, fixtures_dir: &Path) -> SemanticParts {
    match LocalEmbedder::load(&LocalEmbedderOptions::new(models_dir)) {
        Ok(embedder) => {
            let cache = models_dir.join("vector-cache");
            SemanticParts::from_embedder_cached(Arc::new(embedder), &fixtures_dir.join("intents"), &cache)
                .with_learned_safety(fixtures_dir, Some(&cache))
        }
        Err(e) => {
            tracing::warn!(error = %e, "embedding model unavailable: retrieval falls back to BM25 and intents to rules");
            SemanticParts::unavailable(e.to_string())
        }
    }
}
