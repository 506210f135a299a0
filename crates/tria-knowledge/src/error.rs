//! What went wrong with a knowledge operation: the caller's input (a bad upload, an unknown
//! document or version) versus the store or the indexer failing.

use tria_ingest::IngestError;
use tria_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// The upload cannot be indexed (4xx; `code()` names the problem).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("{0}")]
    InvalidDocId(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A job row that does not say what to do (written by another version, or damaged).
    #[error("{0}")]
    BadJob(String),
    #[error("chunking failed: {0}")]
    Chunk(#[from] tria_rag::RagError),
    /// The blocking task reading an upload panicked or was cancelled (a bug in a parser).
    #[error("{0}")]
    Indexer(String),
    #[error(transparent)]
    Store(StoreError),
    /// The job's lease ran out while this worker held it and another worker claimed it.
    #[error("job {0} was claimed by another worker")]
    LeaseLost(uuid::Uuid),
}

impl From<StoreError> for KnowledgeError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::NotFound(what),
            other => Self::Store(other),
        }
    }
}

impl KnowledgeError {
    /// A stable name for an error body or a job's `errors` entry.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ingest(e) => e.code(),
            Self::InvalidDocId(_) => "invalid_document_id",
            Self::NotFound(_) => "not_found",
            Self::BadJob(_) => "bad_job",
            Self::Chunk(_) => "chunking_failed",
            Self::Indexer(_) => "indexer_failed",
            Self::Store(_) => "store_error",
            Self::LeaseLost(_) => "lease_lost",
        }
    }

    /// Whether the job is left for a later attempt rather than failed: the database was
    /// unavailable, or another worker holds the job now.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(StoreError::Unavailable(_)) | Self::LeaseLost(_))
    }
}
