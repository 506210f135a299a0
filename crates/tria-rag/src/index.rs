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
        Self { chunks, index, model_id }
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
