//! Lexical and vector retrieval over one list of documents, fused by reciprocal rank fusion
//! (RRF). RRF needs no score calibration between BM25 and cosine similarity, which live on
//! unrelated scales, and rewards documents that both retrievers rank well.

use crate::bm25::Bm25Index;
use crate::flat::FlatVectors;

/// The usual RRF constant: dampens the advantage of rank 1 over rank 2.
pub const RRF_K: f32 = 60.0;
/// How deep each retriever's list goes into the fusion, at least.
const MIN_CANDIDATES: usize = 30;

/// Which retriever(s) answer a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrievalMode {
    Lexical,
    Vector,
    Hybrid,
}

impl RetrievalMode {
    pub const ALL: [RetrievalMode; 3] = [RetrievalMode::Lexical, RetrievalMode::Vector, RetrievalMode::Hybrid];

    pub fn as_str(self) -> &'static str {
        match self {
            RetrievalMode::Lexical => "bm25",
            RetrievalMode::Vector => "vector",
            RetrievalMode::Hybrid => "hybrid",
        }
    }
}

/// One ranked document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub doc: usize,
    /// The fused RRF score in hybrid mode, otherwise the retriever's own score.
    pub score: f32,
    /// Cosine similarity to the query when vectors took part.
    pub similarity: Option<f32>,
}

/// Fuses ranked lists: each document scores `Σ 1 / (RRF_K + rank)` over the lists it appears in
/// (rank from 1). Ties go to the smaller document number so results are deterministic.
pub fn reciprocal_rank_fusion(lists: &[&[usize]], k: usize) -> Vec<(usize, f32)> {
    let mut fused: Vec<(usize, f32)> = Vec::new();
    for list in lists {
        for (rank, &doc) in list.iter().enumerate() {
            let contribution = 1.0 / (RRF_K + rank as f32 + 1.0);
            match fused.iter_mut().find(|(d, _)| *d == doc) {
                Some((_, score)) => *score += contribution,
                None => fused.push((doc, contribution)),
            }
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused.truncate(k);
    fused
}

/// BM25 over every document plus, when available, one unit vector per document.
#[derive(Clone, Debug, Default)]
pub struct HybridIndex {
    lexical: Bm25Index,
    vectors: Option<FlatVectors>,
}

impl HybridIndex {
    pub fn new(lexical: Bm25Index, vectors: Option<FlatVectors>) -> Self {
        let vectors = vectors.filter(|v| v.len() == lexical.len() && !v.is_empty());
        Self { lexical, vectors }
    }

    pub fn len(&self) -> usize {
        self.lexical.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lexical.is_empty()
    }

    pub fn has_vectors(&self) -> bool {
        self.vectors.is_some()
    }

    pub fn vector_dimension(&self) -> Option<usize> {
        self.vectors.as_ref().map(FlatVectors::dimension)
    }

    /// The best `k` documents for the query. Vector and hybrid modes need `query_vector` and
    /// stored vectors; without them both degrade to lexical, so callers never get nothing merely
    /// because the embedder is down.
    pub fn search(&self, mode: RetrievalMode, query: &str, query_vector: Option<&[f32]>, k: usize) -> Vec<Ranked> {
        let vectors = match (self.vectors.as_ref(), query_vector) {
            (Some(v), Some(q)) if q.len() == v.dimension() => Some((v, q)),
            _ => None,
        };
        let lexical_only =
            |k| self.lexical.search(query, k).into_iter().map(|(doc, score)| Ranked { doc, score, similarity: None }).collect();
        let Some((vectors, q)) = vectors else {
            return lexical_only(k);
        };
        match mode {
            RetrievalMode::Lexical => lexical_only(k),
            RetrievalMode::Vector => {
                vectors.search(q, k).into_iter().map(|(doc, s)| Ranked { doc, score: s, similarity: Some(s) }).collect()
            }
            RetrievalMode::Hybrid => {
                let depth = (k * 4).max(MIN_CANDIDATES);
                let lexical: Vec<usize> = self.lexical.search(query, depth).into_iter().map(|(d, _)| d).collect();
                let semantic = vectors.search(q, depth);
                let semantic_docs: Vec<usize> = semantic.iter().map(|(d, _)| *d).collect();
                reciprocal_rank_fusion(&[&lexical, &semantic_docs], k)
                    .into_iter()
                    .map(|(doc, score)| Ranked { doc, score, similarity: Some(crate::embed::dot(q, vectors.row(doc))) })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement_between_lists() {
        // Doc 2 is second in both lists; docs 0 and 5 each top only one list.
        let fused = reciprocal_rank_fusion(&[&[0, 2, 3], &[5, 2, 4]], 3);
        assert_eq!(fused[0].0, 2, "{fused:?}");
        assert_eq!(fused[1].0, 0, "{fused:?}");
        assert!((fused[0].1 - 2.0 / 62.0).abs() < 1e-6);
        assert_eq!(reciprocal_rank_fusion(&[], 3), []);
        assert_eq!(reciprocal_rank_fusion(&[&[1, 2, 3]], 2).len(), 2);
    }

    #[test]
    fn hybrid_finds_what_only_vectors_know_and_degrades_to_lexical() {
        let docs = ["returns within thirty days", "free shipping over 250 dollars", "warranty for one year"];
        let mut vectors = FlatVectors::new(3);
        vectors.push(&[1.0, 0.0, 0.0]);
        vectors.push(&[0.0, 1.0, 0.0]);
        vectors.push(&[0.0, 0.0, 1.0]);
        let index = HybridIndex::new(Bm25Index::build(docs), Some(vectors));
        // No shared words with any document: only the vector side can answer.
        let hits = index.search(RetrievalMode::Hybrid, "guarantee period", Some(&[0.0, 0.1, 0.99]), 2);
        assert_eq!(hits[0].doc, 2, "{hits:?}");
        // Without a query vector, hybrid is lexical.
        let hits = index.search(RetrievalMode::Hybrid, "free shipping", None, 2);
        assert_eq!(hits[0].doc, 1);
        assert_eq!(hits[0].similarity, None);
        // A vector of the wrong size is ignored rather than trusted.
        let hits = index.search(RetrievalMode::Vector, "warranty", Some(&[1.0]), 1);
        assert_eq!(hits[0].doc, 2);
    }

    #[test]
    fn vectors_that_do_not_cover_every_document_are_dropped() {
        let mut vectors = FlatVectors::new(2);
        vectors.push(&[1.0, 0.0]);
        let index = HybridIndex::new(Bm25Index::build(["a b", "c d"]), Some(vectors));
        assert!(!index.has_vectors());
    }
}
