//! A tenant's uploaded knowledge: uploads checked before anything is written, indexed by a
//! leased job into a new knowledge version swapped in atomically; listing, delete and rollback.

mod error;
mod runner;

use sha2::{Digest, Sha256};
use tria_core::TenantId;
use tria_ingest::{IngestOptions, Upload};
use tria_rag::ChunkOptions;
use tria_store::Store;
use tria_store::job_lease::JobHeartbeat;
use tria_store::records::{Job, KnowledgeDocument, KnowledgeVersion};
use tria_store::repo::{KnowledgeChange, LeaseOutcome, NewChunk, NewDocumentVersion, NewJob};

pub use error::KnowledgeError;
pub use runner::{JobRunner, KnowledgeChanged, LEASE, run_next};

/// The job kind that indexes one uploaded document.
pub const INDEX_DOCUMENT_JOB: &str = "index_document";

/// Longest `doc_id` accepted.
pub const DOC_ID_MAX_CHARS: usize = 128;

/// The knowledge operations of one deployment (cheap to clone: the store is shared).
#[derive(Clone, Debug)]
pub struct Knowledge {
    store: Store,
    options: IngestOptions,
    /// How long a job's claim holds ([`LEASE`] unless [`Knowledge::with_job_lease`]).
    lease: std::time::Duration,
}

/// A document's id must be a short, URL-safe name: it is the path segment that replaces it.
fn check_doc_id(doc_id: &str) -> Result<(), KnowledgeError> {
    let ok = !doc_id.is_empty()
        && doc_id.chars().count() <= DOC_ID_MAX_CHARS
        && doc_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(KnowledgeError::InvalidDocId(format!(
            "document id `{doc_id}` must be 1 to {DOC_ID_MAX_CHARS} characters of A-Z, a-z, 0-9, `-`, `_` or `.`"
        )))
    }
}

/// Reads and chunks an upload; the same function on upload (to refuse bad input) and in the job.
fn chunk_upload(upload: &Upload<'_>, options: &IngestOptions) -> Result<(String, Vec<NewChunk>), KnowledgeError> {
    let document = tria_ingest::extract(upload, options)?;
    let chunks = tria_ingest::to_chunks(&document, ChunkOptions::default())?;
    let rows = chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| NewChunk {
            ordinal: i32::try_from(i).unwrap_or(i32::MAX),
            heading_path: c.chunk.heading_path,
            text: c.chunk.text,
            token_count: i32::try_from(c.chunk.token_count).unwrap_or(i32::MAX),
        })
        .collect();
    Ok((document.title, rows))
}

/// [`chunk_upload`] on tokio's blocking pool: reading a 200-page PDF or a 20 MB HTML page is
/// CPU work that would otherwise stall every chat sharing this runtime thread.
async fn chunk_upload_blocking(
    body: Vec<u8>,
    content_type: String,
    title: Option<String>,
    options: IngestOptions,
) -> Result<(String, Vec<NewChunk>, Vec<u8>), KnowledgeError> {
    tokio::task::spawn_blocking(move || {
        let upload = Upload { body: &body, content_type: &content_type, title: title.as_deref() };
        let (title, chunks) = chunk_upload(&upload, &options)?;
        Ok((title, chunks, body))
    })
    .await
    .map_err(|e| KnowledgeError::Indexer(format!("reading the upload stopped: {e}")))?
}

impl Knowledge {
    pub fn new(store: Store, options: IngestOptions) -> Self {
        Self { store, options, lease: LEASE }
    }

    /// How long a claim on an index job holds before another replica may take it over
    /// (`knowledge.job_lease_ms`).
    pub fn with_job_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease;
        self
    }

    pub(crate) fn lease(&self) -> std::time::Duration {
        self.lease
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks the upload (size, type, encoding, text to index) and enqueues the job that indexes
    /// it; a bad upload is an error before anything is written. The reading runs on the
    /// blocking pool.
    pub async fn upload_document(&self, tenant: TenantId, doc_id: &str, upload: Upload<'_>) -> Result<Job, KnowledgeError> {
        check_doc_id(doc_id)?;
        let (title, chunks, body) =
            chunk_upload_blocking(upload.body.to_vec(), upload.content_type.to_owned(), upload.title.map(str::to_owned), self.options)
                .await?;
        let payload = serde_json::json!({
            "doc_id": doc_id,
            "content_type": upload.content_type,
            "title": upload.title,
            "resolved_title": title,
            "size_bytes": upload.body.len(),
            "sha256": hex::encode(Sha256::digest(&body)),
        });
        let new = NewJob {
            kind: INDEX_DOCUMENT_JOB.into(),
            tenant,
            payload,
            total: i64::try_from(chunks.len()).unwrap_or(i64::MAX),
            input: Some(body),
        };
        Ok(self.store.jobs().enqueue(new).await?)
    }

    /// Stops serving a document: a new knowledge version without it, current at once. Returns
    /// the new version.
    pub async fn delete_document(&self, tenant: TenantId, doc_id: &str) -> Result<i32, KnowledgeError> {
        check_doc_id(doc_id)?;
        Ok(self.store.knowledge().publish(tenant, KnowledgeChange::Delete(doc_id.to_owned())).await?)
    }

    /// The documents serving now.
    pub async fn documents(&self, tenant: TenantId) -> Result<Vec<KnowledgeDocument>, KnowledgeError> {
        Ok(self.store.knowledge().documents(tenant).await?)
    }

    /// Every knowledge version, newest first.
    pub async fn versions(&self, tenant: TenantId) -> Result<Vec<KnowledgeVersion>, KnowledgeError> {
        Ok(self.store.knowledge().versions(tenant).await?)
    }

    /// Serves knowledge version `version` again.
    pub async fn rollback(&self, tenant: TenantId, version: i32) -> Result<(), KnowledgeError> {
        Ok(self.store.knowledge().rollback(tenant, version).await?)
    }

    /// A job by id.
    pub async fn job(&self, id: uuid::Uuid) -> Result<Option<Job>, KnowledgeError> {
        Ok(self.store.jobs().get(id).await?)
    }

    /// Indexes a claimed document job: stages the version (safe to redo: a retry replaces what an
    /// earlier attempt staged), then publishes it. Returns the new knowledge version.
    async fn index_document(&self, job: &Job, heartbeat: &JobHeartbeat) -> Result<i32, KnowledgeError> {
        let tenant = TenantId(job.tenant_id);
        // An earlier attempt published and then died (before the job read `succeeded`): the
        // work is done; publishing again would only add an identical version.
        if let Some(version) = self.store.knowledge().published_by_job(tenant, job.id).await? {
            return Ok(version);
        }
        let field = |name: &str| job.payload.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let doc_id = field("doc_id").ok_or_else(|| KnowledgeError::BadJob(format!("job {} has no doc_id", job.id)))?;
        let content_type = field("content_type").unwrap_or_default();
        let given_title = field("title");
        let body = self.store.jobs().input(job.id).await?.ok_or_else(|| KnowledgeError::BadJob(format!("job {} has no input", job.id)))?;
        let (title, chunks, body) = chunk_upload_blocking(body, content_type.clone(), given_title, self.options).await?;
        let total = i64::try_from(chunks.len()).unwrap_or(i64::MAX);
        let new = NewDocumentVersion {
            doc_id,
            title,
            content_type: tria_ingest::DeclaredType::parse(&content_type)?.kind.media_type().to_owned(),
            size_bytes: i64::try_from(body.len()).unwrap_or(i64::MAX),
            sha256: hex::encode(Sha256::digest(&body)),
            job_id: job.id,
        };
        let staged = self.store.knowledge().stage(tenant, new, chunks).await?;
        let held = self.store.jobs().progress(job, total, total, self.lease).await?;
        // Another worker claimed the job (this one stalled past its lease): it publishes, not us.
        if held == LeaseOutcome::LeaseLost || heartbeat.lost() {
            return Err(KnowledgeError::LeaseLost(job.id));
        }
        Ok(self.store.knowledge().publish(tenant, KnowledgeChange::Put(staged.id)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::check_doc_id;

    #[test]
    fn doc_ids_are_short_url_safe_names() {
        assert!(check_doc_id("returns-policy_v2.md").is_ok());
        for bad in ["", "a/b", "with space", "é", &"x".repeat(129)] {
            assert!(check_doc_id(bad).is_err(), "{bad:?}");
        }
    }
}
