//! Bringing a tenant's Markdown policies into the store as documents and chunks.

use sha2::{Digest, Sha256};
use tria_core::TenantId;
use tria_store::Store;
use tria_store::fixtures::PolicyFile;
use tria_store::repo::NewChunk;

use crate::RagError;
use crate::chunk::{ChunkOptions, chunk_markdown, document_title};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub documents_changed: usize,
    pub documents_unchanged: usize,
    pub chunks_written: usize,
}

/// Chunks and stores each policy whose content changed since the last run.
pub async fn sync_policies(store: &Store, tenant: TenantId, policies: &[PolicyFile]) -> Result<IngestReport, RagError> {
    let mut report = IngestReport::default();
    for policy in policies {
        let hash = hex::encode(Sha256::digest(policy.markdown.as_bytes()));
        let title = document_title(&policy.markdown, &policy.source_path);
        let chunks = chunk_markdown(&title, &policy.markdown, ChunkOptions::default())?;
        let count = chunks.len();
        let rows = chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| NewChunk {
                ordinal: i32::try_from(i).unwrap_or(i32::MAX),
                heading_path: c.heading_path,
                text: c.text,
                token_count: i32::try_from(c.token_count).unwrap_or(i32::MAX),
            })
            .collect();
        if store.policies().sync_document(tenant, &policy.source_path, &title, &hash, rows).await? {
            report.documents_changed += 1;
            report.chunks_written += count;
        } else {
            report.documents_unchanged += 1;
        }
    }
    Ok(report)
}
