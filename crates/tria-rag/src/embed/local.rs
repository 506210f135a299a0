//! all-MiniLM-L6-v2 (int8) run in-process by fastembed on ONNX Runtime, both loaded from the
//! models directory. Nothing is downloaded here: the files come from `cargo xtask model fetch`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fastembed::{InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel};

use super::model_files::{self, CONFIG, DIMENSION, MODEL_ID, MODEL_ONNX, ONNX_RUNTIME, SPECIAL_TOKENS_MAP, TOKENIZER, TOKENIZER_CONFIG};
use super::{EmbedError, Embedder, normalize};

/// Longer inputs are truncated; policy chunks are ~250 cl100k tokens, which fits.
const MAX_TOKENS: usize = 256;
/// Texts per ONNX run when embedding many.
// Small batches: ONNX Runtime's arena grows to the largest batch × longest text and keeps it;
// 64 × 256 tokens held ~0.5 GB of attention buffers for the process's life.
const BATCH_SIZE: usize = 16;

#[derive(Clone, Debug)]
pub struct LocalEmbedderOptions {
    pub models_dir: PathBuf,
    /// ONNX Runtime threads per inference; `None` uses every core. A server answering many chats
    /// at once is better served by 1 (parallelism comes from concurrent requests).
    pub intra_threads: Option<usize>,
    /// Check every file's sha256 before loading (≈0.1 s). Catches truncated downloads, which
    /// would otherwise surface as an obscure runtime error.
    pub verify_checksums: bool,
}

impl LocalEmbedderOptions {
    pub fn new(models_dir: impl Into<PathBuf>) -> Self {
        Self { models_dir: models_dir.into(), intra_threads: None, verify_checksums: true }
    }
}

/// The in-process embedder. Inference needs exclusive access to the ONNX session, so calls are
/// serialised by a mutex; one call takes a few milliseconds. A bulk call (more than
/// [`BATCH_SIZE`] texts: a policy index, a tenant's evidence passages) takes the session one
/// batch at a time and lets short calls — a customer's message — go first, so a build of
/// seconds never holds up a chat turn for more than one batch.
pub struct LocalEmbedder {
    model: Mutex<TextEmbedding>,
    /// Short calls waiting for or holding the session; bulk calls wait while there are any.
    short_calls: AtomicUsize,
    models_dir: PathBuf,
}

/// Counts a short call in [`LocalEmbedder::short_calls`] while it lives.
struct ShortCall<'a>(&'a AtomicUsize);

impl<'a> ShortCall<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for ShortCall<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbedder").field("models_dir", &self.models_dir).field("model_id", &MODEL_ID).finish()
    }
}

fn read(file: model_files::ModelFile, dir: &Path) -> Result<Vec<u8>, EmbedError> {
    let path = file.require(dir)?;
    Ok(std::fs::read(path)?)
}

impl LocalEmbedder {
    /// Loads ONNX Runtime and the model from `options.models_dir`. Missing or corrupt files give
    /// a typed error naming `cargo xtask model fetch`; nothing here panics.
    pub fn load(options: &LocalEmbedderOptions) -> Result<Self, EmbedError> {
        let dir = &options.models_dir;
        // Check every file before touching ONNX Runtime: its loader panics rather than erroring
        // when the library cannot be opened implicitly, so we only ever open it by explicit path.
        for file in model_files::ALL {
            if options.verify_checksums {
                file.verify(dir)?;
            } else {
                file.require(dir)?;
            }
        }
        let runtime = ONNX_RUNTIME.require(dir)?;
        let runtime = runtime.canonicalize()?;
        let environment = ort::init_from(&runtime).map_err(|e| EmbedError::Runtime(format!("loading {}: {e}", runtime.display())))?;
        // The builder only matters for custom environments; the default one is created lazily.
        drop(environment);

        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(TOKENIZER, dir)?,
            config_file: read(CONFIG, dir)?,
            special_tokens_map_file: read(SPECIAL_TOKENS_MAP, dir)?,
            tokenizer_config_file: read(TOKENIZER_CONFIG, dir)?,
        };
        let model = UserDefinedEmbeddingModel::new(read(MODEL_ONNX, dir)?, tokenizer_files).with_pooling(Pooling::Mean);
        // No CPU arena: ONNX Runtime's arena keeps the peak of every input shape it has seen
        // for the life of the process (+190 MB RSS after the seed scenarios in a release
        // server); without it the buffers go back to the allocator. No spinning: idle inference
        // threads would otherwise spin on the cores the server's request threads need.
        let mut init = InitOptionsUserDefined::new()
            .with_max_length(MAX_TOKENS)
            .with_execution_providers(vec![ort::ep::CPU::default().with_arena_allocator(false).build()])
            .with_session_config("session.intra_op.allow_spinning", "0")
            .with_session_config("session.inter_op.allow_spinning", "0");
        if let Some(threads) = options.intra_threads {
            init = init.with_intra_threads(threads.max(1));
        }
        // Belt and braces: a panic inside the native-library glue becomes an error, not a crash.
        let created = catch_unwind(AssertUnwindSafe(|| TextEmbedding::try_new_from_user_defined(model, init)))
            .map_err(|_| EmbedError::Runtime("ONNX Runtime panicked while creating the session".into()))?
            .map_err(|e| EmbedError::Runtime(e.to_string()))?;
        let embedder = Self { model: Mutex::new(created), short_calls: AtomicUsize::new(0), models_dir: dir.clone() };
        let probe = embedder.embed_one("probe")?;
        if probe.len() != DIMENSION {
            return Err(EmbedError::Runtime(format!("the model produced {} dimensions, expected {DIMENSION}", probe.len())));
        }
        Ok(embedder)
    }
}

impl Embedder for LocalEmbedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimension(&self) -> usize {
        DIMENSION
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let bulk = texts.len() > BATCH_SIZE;
        let _short = (!bulk).then(|| ShortCall::enter(&self.short_calls));
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH_SIZE) {
            // std's mutex is not fair: a bulk call re-locking at once would win over a woken
            // waiter nearly every time, so it steps aside while short calls are pending.
            while bulk && self.short_calls.load(Ordering::Acquire) > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut model = self.model.lock().map_err(|_| EmbedError::Inference("embedder lock poisoned".into()))?;
            let batch_vectors = catch_unwind(AssertUnwindSafe(|| model.embed(batch, Some(BATCH_SIZE))))
                .map_err(|_| EmbedError::Inference("ONNX Runtime panicked during inference".into()))?
                .map_err(|e| EmbedError::Inference(e.to_string()))?;
            drop(model);
            vectors.extend(batch_vectors);
        }
        if vectors.len() != texts.len() {
            return Err(EmbedError::Inference(format!("{} vectors for {} texts", vectors.len(), texts.len())));
        }
        for v in &mut vectors {
            if v.len() != DIMENSION {
                return Err(EmbedError::Inference(format!("vector of {} dimensions, expected {DIMENSION}", v.len())));
            }
            normalize(v);
        }
        Ok(vectors)
    }
}
