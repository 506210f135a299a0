//! Embedding the chunks that need it: those with no vector yet (new or changed documents, whose
//! chunks the store re-creates without one) and those embedded by another model.

use tria_core::TenantId;
use tria_store::Store;

use crate::RagError;
use crate::embed::Embedder;

/// Chunks embedded per model call.
const BATCH: usize = 32;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexReport {
    pub chunks_total: usize,
    pub chunks_embedded: usize,
    pub chunks_current: usize,
}

/// Embeds and stores vectors for every chunk of `tenant` without a current one. Idempotent: a
/// second run embeds nothing.
pub async fn embed_missing_chunks(store: &Store, tenant: TenantId, embedder: &dyn Embedder) -> Result<IndexReport, RagError> {
    let documents = store.policies().documents(tenant).await?;
    let rows = store.policies().chunks(tenant).await?;
    let model = embedder.model_id().to_owned();
    let expected_bytes = embedder.dimension() * 4;
    let mut report = IndexReport { chunks_total: rows.len(), ..IndexReport::default() };
    let stale: Vec<_> = rows
        .into_iter()
        .filter(|row| {
            let current =
                row.embedding_model.as_deref() == Some(model.as_str()) && row.embedding.as_ref().is_some_and(|b| b.len() == expected_bytes);
            if current {
                report.chunks_current += 1;
            }
            !current
        })
        .collect();
    for batch in stale.chunks(BATCH) {
        let texts: Vec<String> = batch
            .iter()
            .map(|row| {
                let title = documents.iter().find(|d| d.id == row.document_id).map(|d| d.title.as_str()).unwrap_or_default();
                // Same text as `IndexedChunk::embedding_text`, where the heading path starts with the title.
                if row.heading_path.starts_with(title) {
                    format!("{}\n{}", row.heading_path, row.text)
                } else {
                    format!("{title} › {}\n{}", row.heading_path, row.text)
                }
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = crate::embed::blocking_embed(|| embedder.embed_batch(&refs))?;
        for (row, vector) in batch.iter().zip(vectors) {
            store.policies().set_embedding(tenant, row.id, &vector, &model).await?;
            report.chunks_embedded += 1;
        }
    }
    Ok(report)
}
