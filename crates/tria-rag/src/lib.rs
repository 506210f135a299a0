//! Policy and catalogue retrieval for one tenant at a time: heading-aware chunking, local
//! embeddings behind the [`Embedder`] trait, and hybrid BM25 + vector search fused by RRF.

pub mod bm25;
pub mod chunk;
pub mod cross_lingual;
pub mod embed;
pub mod evidence;
pub mod flat;
pub mod hybrid;
pub mod index;
pub mod indexer;
pub mod ingest;
pub mod products;
pub mod tokens;

pub use chunk::{Chunk, ChunkOptions, chunk_markdown};
pub use embed::{EmbedError, Embedder, EmbedderStatus, LocalEmbedder, LocalEmbedderOptions, embed_batch_cached};
pub use evidence::{EVIDENCE_TOP, EvidenceIndex};
pub use hybrid::{RetrievalMode, reciprocal_rank_fusion};
pub use index::{IndexedChunk, PolicyHit, TenantIndex};
pub use indexer::{IndexReport, embed_missing_chunks};
pub use ingest::{IngestReport, sync_policies};
pub use products::{ProductDoc, ProductHit, ProductIndex};

/// Why retrieval or ingestion failed.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error("store: {0}")]
    Store(#[from] tria_store::StoreError),
    #[error("tokenizer unavailable: {0}")]
    Tokenizer(String),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}
