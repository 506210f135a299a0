//! Background jobs and uploaded knowledge.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => Self::Queued,
        }
    }
}

/// One job as stored. `lease_owner` is the token of the worker running it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub tenant_id: Uuid,
    pub status: JobStatus,
    pub progress_done: i64,
    pub progress_total: i64,
    /// A JSON array of `{code, message}` (or a kind's own report rows).
    pub errors: serde_json::Value,
    pub payload: serde_json::Value,
    /// Claims so far, counting the current one.
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<entity::job::Model> for Job {
    fn from(m: entity::job::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            tenant_id: m.tenant_id,
            status: JobStatus::parse(&m.status),
            progress_done: m.progress_done,
            progress_total: m.progress_total,
            errors: m.errors,
            payload: m.payload,
            attempts: m.attempts,
            lease_owner: m.lease_owner,
            lease_expires_at: m.lease_expires_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            finished_at: m.finished_at,
        }
    }
}

/// One version of an uploaded document.
#[derive(Clone, Debug, PartialEq)]
pub struct KnowledgeDocument {
    /// Also the id of its `PolicyDocument` (whose chunks are this version's chunks).
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub doc_id: String,
    pub version: i32,
    pub title: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub chunk_count: i32,
    pub job_id: Uuid,
    /// The knowledge version that first served it; `None` while staged.
    pub knowledge_version: Option<i32>,
    pub indexed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::knowledge_document::Model> for KnowledgeDocument {
    fn from(m: entity::knowledge_document::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            doc_id: m.doc_id,
            version: m.version,
            title: m.title,
            content_type: m.content_type,
            size_bytes: m.size_bytes,
            sha256: m.sha256,
            chunk_count: m.chunk_count,
            job_id: m.job_id,
            knowledge_version: m.knowledge_version,
            indexed_at: m.indexed_at,
            created_at: m.created_at,
        }
    }
}

/// A published knowledge version.
#[derive(Clone, Debug, PartialEq)]
pub struct KnowledgeVersion {
    pub version: i32,
    /// What changed, e.g. `put returns (v2)`, `delete faq`, `rollback to 3`.
    pub summary: String,
    pub created_at: DateTime<Utc>,
    /// Document versions it serves.
    pub documents: u64,
    pub current: bool,
}
