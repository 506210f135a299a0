//! Text embeddings behind one small trait, so retrieval and intent classification do not care
//! whether vectors come from the in-process model or elsewhere.
//!
//! The trait is synchronous on purpose: the backend we ship runs the model in-process and is pure
//! CPU work (a few milliseconds per query). An `async fn` would only hide that work on the
//! reactor; async callers hand the call to `tokio::task::spawn_blocking` instead, as the agent
//! does. A network backend can implement the same trait with a blocking client on that pool.

mod disk;
mod local;
mod memo;
pub mod model_files;
mod vector;

pub use disk::embed_batch_cached;
pub use local::{LocalEmbedder, LocalEmbedderOptions};
pub use memo::Memoized;
pub use vector::{dot, normalize};

/// Runs `embed` — a bulk embedding, seconds of CPU — without holding up the async tasks of
/// the thread it is called on. On a worker of tokio's multi-threaded runtime the worker's other
/// tasks are handed to another thread meanwhile (`block_in_place`); an index loaded on a worker
/// (the first chat turn after a start or a re-index, with chunks `cargo xtask index` had not
/// embedded) otherwise stalled every task queued behind it there, a customer's turn for 12–20 s
/// in the tests. Elsewhere (no runtime, a current-thread runtime) it simply runs.
pub fn blocking_embed<R>(embed: impl FnOnce() -> R) -> R {
    let on_current_thread_runtime =
        tokio::runtime::Handle::try_current().is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    if on_current_thread_runtime { embed() } else { tokio::task::block_in_place(embed) }
}

/// Why an embedding could not be produced. Every variant is something that broke inside or is
/// missing on this machine; none is the customer's fault.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model or runtime file is absent: the message names the command that fetches it.
    #[error(
        "embedding model file missing: {path} ({what}); run `cargo xtask model fetch` to fetch the model and ONNX Runtime into the models directory"
    )]
    MissingFile { path: String, what: &'static str },
    /// A file is present but is not the one we pinned (truncated download, wrong version).
    #[error("embedding model file {path} has sha256 {actual}, expected {expected}; run `cargo xtask model fetch` to fetch it again")]
    Checksum { path: String, expected: &'static str, actual: String },
    /// ONNX Runtime could not be loaded or the model could not be initialised.
    #[error("embedding runtime failed to start: {0}")]
    Runtime(String),
    /// The model ran but failed on this input or returned something unexpected.
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("embedding model I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Turns text into fixed-size, L2-normalised vectors.
pub trait Embedder: Send + Sync {
    /// Stable identifier of the model (and its revision). Stored next to each vector so a model
    /// change re-embeds everything.
    fn model_id(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dimension(&self) -> usize;

    /// One vector per text, in order; each has [`Embedder::dimension`] entries and unit length.
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// The vector of a single text.
    fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_batch(&[text])?.pop().ok_or_else(|| EmbedError::Inference("the model returned no vector".into()))
    }
}

/// What a health check reports about the embedder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedderStatus {
    /// Loaded and answered a probe.
    Ready { model_id: String, dimension: usize },
    /// Not configured or failed to load; retrieval falls back to BM25 and intents to rules.
    /// `reason` names the fix (e.g. the fetch command).
    Unavailable { reason: String },
}

impl EmbedderStatus {
    pub fn is_ready(&self) -> bool {
        matches!(self, EmbedderStatus::Ready { .. })
    }

    /// Probes `embedder` with a tiny input: `Ready` only if it answers with the promised size.
    pub fn probe(embedder: &dyn Embedder) -> Self {
        match embedder.embed_one("health check") {
            Ok(v) if v.len() == embedder.dimension() => {
                EmbedderStatus::Ready { model_id: embedder.model_id().to_owned(), dimension: embedder.dimension() }
            }
            Ok(v) => EmbedderStatus::Unavailable {
                reason: format!("the model returned {} dimensions instead of {}", v.len(), embedder.dimension()),
            },
            Err(e) => EmbedderStatus::Unavailable { reason: e.to_string() },
        }
    }
}
