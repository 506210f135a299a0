//! A tenant's policy chunks held in memory with their lexical index and, when the embedding
//! model is available, their vectors for hybrid retrieval.

use tria_core::{SourceRef, TenantId};
use tria_store::Store;
use uuid::Uuid;

use crate::RagError;
use crate::bm25::Bm25Index;
use crate::embed::Embedder;
use crate::flat::FlatVectors;
use crate::hybrid::{HybridIndex, RetrievalMode};

/// One indexed chunk.
#[derive(Clone, Debug)]
pub struct IndexedChunk {
    pub id: Uuid,
    pub title: String,
    /// The policy file it came from, e.g. `returns-and-refunds.md`.
    pub source_path: String,
    pub heading_path: String,
    pub text: String,
}

impl IndexedChunk {
    /// What the embedder sees: the heading path gives short sections their context.
    pub fn embedding_text(&self) -> String {
        format!("{}\n{}", self.heading_path, self.text)
    }
}

/// A retrieval result.
#[derive(Clone, Debug)]
pub struct PolicyHit {
    pub chunk: IndexedChunk,
    /// Fused RRF score in hybrid mode, BM25 or cosine otherwise.
    pub score: f32,
    /// Cosine similarity to the query, when vectors took part.
    pub similarity: Option<f32>,
}

impl PolicyHit {
    pub fn source_ref(&self) -> SourceRef {
        SourceRef {
            id: self.chunk.id.to_string(),
            title: self.chunk.title.clone(),
            heading: self.chunk.heading_path.clone(),
            score: self.score,
        }
    }
}

fn content_version(chunks: &[IndexedChunk], model_id: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    part(model_id.unwrap_or("").as_bytes());
    for c in chunks {
        part(c.id.as_bytes());
        part(c.title.as_bytes());
        part(c.source_path.as_bytes());
        part(c.heading_path.as_bytes());
        part(c.text.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Decodes a stored embedding (little-endian f32s).
pub fn decode_embedding(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The searchable policy corpus of one tenant.
#[derive(Clone, Debug, Default)]
pub struct TenantIndex {
    chunks: Vec<IndexedChunk>,
    index: HybridIndex,
    model_id: Option<String>,
    /// See [`TenantIndex::version`].
    version: String,
}

impl TenantIndex {
    /// A lexical-only index.
    pub fn from_chunks(chunks: Vec<IndexedChunk>) -> Self {
        Self::from_parts(chunks, None, None)
    }

    /// An index with one vector per chunk (in order) from model `model_id`. Vectors that do not
    /// cover every chunk are ignored and the index is lexical.
    pub fn from_parts(chunks: Vec<IndexedChunk>, vectors: Option<FlatVectors>, model_id: Option<String>) -> Self {
        let texts: Vec<String> = chunks.iter().map(|c| format!("{} {}", c.heading_path, c.text)).collect();
        let lexical = Bm25Index::build(texts.iter().map(String::as_str));
        let index = HybridIndex::new(lexical, vectors);
        let model_id = model_id.filter(|_| index.has_vectors());
        let version = content_version(&chunks, model_id.as_deref());
        Self { chunks, index, model_id, version }
    }

    /// Loads the tenant's chunks from the store. With an embedder, chunks that have no vector
    /// from its model are embedded now and the vectors saved, so the index is hybrid even if
    /// `cargo xtask index` was not run; without one the index is lexical.
    pub async fn load(store: &Store, tenant: TenantId, embedder: Option<&dyn Embedder>) -> Result<Self, RagError> {
        if let Some(embedder) = embedder {
            crate::indexer::embed_missing_chunks(store, tenant, embedder).await?;
        }
        let documents = store.policies().documents(tenant).await?;
        let rows = store.policies().chunks(tenant).await?;
        let wanted_model = embedder.map(|e| (e.model_id().to_owned(), e.dimension()));
        let mut vectors = wanted_model.as_ref().map(|(_, dim)| FlatVectors::with_capacity(*dim, rows.len()));
        let mut chunks = Vec::with_capacity(rows.len());
        for row in rows {
            let document = documents.iter().find(|d| d.id == row.document_id);
            if let (Some(v), Some((model, dim))) = (vectors.as_mut(), wanted_model.as_ref()) {
                match (&row.embedding, &row.embedding_model) {
                    (Some(bytes), Some(m)) if m == model && bytes.len() == dim * 4 => v.push(&decode_embedding(bytes)),
                    // Could not be embedded (the embedder failed mid-way): the whole index goes lexical.
                    _ => vectors = None,
                }
            }
            chunks.push(IndexedChunk {
                id: row.id,
                title: document.map(|d| d.title.clone()).unwrap_or_default(),
                source_path: document.map(|d| d.source_path.clone()).unwrap_or_default(),
                heading_path: row.heading_path,
                text: row.text,
            });
        }
        Ok(Self::from_parts(chunks, vectors, wanted_model.map(|(m, _)| m)))
    }

    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn chunks(&self) -> &[IndexedChunk] {
        &self.chunks
    }

    /// Whether vector and hybrid search are available (vectors loaded for every chunk).
    pub fn is_hybrid(&self) -> bool {
        self.index.has_vectors()
    }

    /// The model whose vectors are loaded, if any.
    pub fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }

    /// A digest of what a search reads (every chunk's id, title, heading and text, and the
    /// vectors' model): two indexes with the same version return the same hits, so a cached
    /// retrieval keyed by it is never served from another corpus (a re-index changes it).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The chunk with this id.
    pub fn chunk(&self, id: Uuid) -> Option<&IndexedChunk> {
        self.chunks.iter().find(|c| c.id == id)
    }

    /// The best `k` chunks for `query` by BM25 alone.
    pub fn search(&self, query: &str, k: usize) -> Vec<PolicyHit> {
        self.search_with(RetrievalMode::Lexical, query, None, k)
    }

    /// The best `k` chunks, fusing BM25 with vector similarity when `query_vector` is given and
    /// the index has vectors; lexical otherwise.
    pub fn hybrid_search(&self, query: &str, query_vector: Option<&[f32]>, k: usize) -> Vec<PolicyHit> {
        self.search_with(RetrievalMode::Hybrid, query, query_vector, k)
    }

    pub fn search_with(&self, mode: RetrievalMode, query: &str, query_vector: Option<&[f32]>, k: usize) -> Vec<PolicyHit> {
        self.index
            .search(mode, query, query_vector, k)
            .into_iter()
            .filter_map(|r| {
                let chunk = self.chunks.get(r.doc)?.clone();
                Some(PolicyHit { chunk, score: r.score, similarity: r.similarity })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: u128, text: &str) -> IndexedChunk {
        IndexedChunk {
            id: Uuid::from_u128(id),
            title: "Returns".into(),
            source_path: "returns.md".into(),
            heading_path: "Returns › Fees".into(),
            text: text.into(),
        }
    }

    #[test]
    fn the_version_changes_with_what_a_search_reads() {
        let a = TenantIndex::from_chunks(vec![chunk(1, "A 15% restocking fee applies."), chunk(2, "Refunds take 5 days.")]);
        let same = TenantIndex::from_chunks(vec![chunk(1, "A 15% restocking fee applies."), chunk(2, "Refunds take 5 days.")]);
        assert_eq!(a.version(), same.version());
        let edited = TenantIndex::from_chunks(vec![chunk(1, "A 10% restocking fee applies."), chunk(2, "Refunds take 5 days.")]);
        assert_ne!(a.version(), edited.version());
        let reindexed = TenantIndex::from_chunks(vec![chunk(3, "A 15% restocking fee applies."), chunk(2, "Refunds take 5 days.")]);
        assert_ne!(a.version(), reindexed.version());
        assert_eq!(a.chunk(Uuid::from_u128(2)).map(|c| c.text.as_str()), Some("Refunds take 5 days."));
        assert!(a.chunk(Uuid::from_u128(3)).is_none());
    }
}
