//! Nearest neighbours by a flat scan: one contiguous `Vec<f32>` of unit vectors, scored with dot
//! products. At policy-corpus sizes (tens to thousands of chunks) an exact scan is faster than any
//! graph index. From [`PREFILTER_MIN_ROWS`] rows on, an f32 scan streams too much memory (154 MB
//! per query at 100k × 384), so a sign-bit copy (one bit per dimension, 48 bytes per 384-d row)
//! is scanned by Hamming distance first and only the best candidates are re-scored exactly, as
//! tria-cache's L3 does. Figures are in docs/PERFORMANCE.md.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use crate::embed::dot;

/// From this many rows on, [`FlatVectors::search`] uses the sign-bit pre-filter.
pub const PREFILTER_MIN_ROWS: usize = 20_000;
/// Candidates kept by the pre-filter for exact re-ranking: `max(k × this, MIN)`.
const CANDIDATES_PER_RESULT: usize = 64;
const MIN_CANDIDATES: usize = 2_048;

/// Row-major unit vectors, all of one dimension.
#[derive(Clone, Debug, Default)]
pub struct FlatVectors {
    dimension: usize,
    data: Vec<f32>,
    /// Built on the first pre-filtered search and dropped by `push`, so loading stays a plain
    /// copy and small indexes never pay for it.
    signs: OnceLock<SignIndex>,
}

/// One sign bit per dimension of each row, after subtracting the mean row: real embeddings
/// share a common direction, and uncentred sign bits would spend most bits on it.
#[derive(Clone, Debug)]
struct SignIndex {
    words: usize,
    bits: Vec<u64>,
}

impl SignIndex {
    fn build(dimension: usize, data: &[f32]) -> Self {
        let words = dimension.div_ceil(64);
        let rows = data.len() / dimension.max(1);
        let mut mean = vec![0.0f64; dimension];
        for row in data.chunks_exact(dimension) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += f64::from(*x);
            }
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / rows.max(1) as f64) as f32).collect();
        let mut bits = vec![0u64; rows * words];
        for (row, out) in data.chunks_exact(dimension).zip(bits.chunks_exact_mut(words)) {
            for (i, (x, m)) in row.iter().zip(&mean).enumerate() {
                if x - m > 0.0 {
                    out[i / 64] |= 1 << (i % 64);
                }
            }
        }
        Self { words, bits }
    }

    /// The query is not centred: ranking by `q·x` over rows equals ranking by `q·(x − mean)`,
    /// whose angle the Hamming distance between `sign(q)` and the centred row estimates.
    fn query_bits(&self, query: &[f32]) -> Vec<u64> {
        let mut bits = vec![0u64; self.words];
        for (i, x) in query.iter().enumerate() {
            if *x > 0.0 {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    fn distances(&self, query_bits: &[u64]) -> Vec<u16> {
        // A fixed width lets the compiler unroll and vectorise the popcounts for 384-d models.
        match <&[u64; 6]>::try_from(query_bits) {
            Ok(q) => hamming_fixed(&self.bits, q),
            Err(_) => self
                .bits
                .chunks_exact(self.words)
                .map(|row| row.iter().zip(query_bits).map(|(a, b)| (a ^ b).count_ones()).sum::<u32>() as u16)
                .collect(),
        }
    }

    /// Row numbers of the `wanted` rows nearest by Hamming distance (ties by row order),
    /// chosen with a histogram of distances rather than a sort: distances are at most the
    /// dimension, so two linear passes do it.
    fn candidates(&self, query: &[f32], wanted: usize) -> Vec<usize> {
        let distances = self.distances(&self.query_bits(query));
        let mut histogram = vec![0usize; self.words * 64 + 1];
        for &d in &distances {
            histogram[usize::from(d)] += 1;
        }
        let mut cutoff = histogram.len();
        let mut below = 0;
        for (d, &count) in histogram.iter().enumerate() {
            if below + count >= wanted {
                cutoff = d;
                break;
            }
            below += count;
        }
        let mut ties_left = wanted - below;
        let mut out = Vec::with_capacity(wanted);
        for (row, &d) in distances.iter().enumerate() {
            let d = usize::from(d);
            if d < cutoff {
                out.push(row);
            } else if d == cutoff && ties_left > 0 {
                ties_left -= 1;
                out.push(row);
            }
        }
        out
    }
}

fn hamming_fixed<const W: usize>(bits: &[u64], query: &[u64; W]) -> Vec<u16> {
    bits.chunks_exact(W)
        .map(|row| {
            let mut d = 0u32;
            for i in 0..W {
                d += (row[i] ^ query[i]).count_ones();
            }
            d as u16
        })
        .collect()
}

#[derive(PartialEq)]
struct Scored(f32, usize);

impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    // Reversed so the max-heap keeps the *worst* of the current best at the top.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// The best `k` of `scored`, highest first, ties by row order.
fn top_k(scored: impl Iterator<Item = (usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
    for (i, score) in scored {
        if heap.len() < k {
            heap.push(Scored(score, i));
        } else if heap.peek().is_some_and(|worst| score > worst.0) {
            heap.pop();
            heap.push(Scored(score, i));
        }
    }
    let mut out: Vec<(usize, f32)> = heap.into_iter().map(|Scored(s, i)| (i, s)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

impl FlatVectors {
    pub fn new(dimension: usize) -> Self {
        Self { dimension, data: Vec::new(), signs: OnceLock::new() }
    }

    pub fn with_capacity(dimension: usize, rows: usize) -> Self {
        Self { dimension, data: Vec::with_capacity(dimension * rows), signs: OnceLock::new() }
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dimension).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Appends a row; a vector of the wrong size is stored as zeros (it then never matches).
    pub fn push(&mut self, vector: &[f32]) {
        self.signs = OnceLock::new();
        if vector.len() == self.dimension {
            self.data.extend_from_slice(vector);
        } else {
            self.data.extend(std::iter::repeat_n(0.0, self.dimension));
        }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dimension..(i + 1) * self.dimension]
    }

    /// Whether [`Self::search`] pre-filters on sign bits (from [`PREFILTER_MIN_ROWS`] rows) or
    /// scans exactly.
    pub fn uses_prefilter(&self) -> bool {
        self.len() >= PREFILTER_MIN_ROWS
    }

    /// The `k` rows most similar to `query` (highest dot product first), ties by row order.
    /// Exact below [`PREFILTER_MIN_ROWS`] rows; above, the sign-bit pre-filter keeps
    /// `max(64 k, 2048)` candidates for the exact re-rank, which can miss a true neighbour
    /// whose sign pattern is unusually far from the query's (recall is measured in the tests).
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        let candidates = k.saturating_mul(CANDIDATES_PER_RESULT).max(MIN_CANDIDATES);
        if self.uses_prefilter() && candidates < self.len() {
            self.search_prefiltered(query, k, candidates)
        } else {
            self.search_exact(query, k)
        }
    }

    /// Scores every row exactly.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if k == 0 || query.len() != self.dimension || self.dimension == 0 {
            return Vec::new();
        }
        top_k(self.data.chunks_exact(self.dimension).map(|row| dot(query, row)).enumerate(), k)
    }

    /// Keeps the `candidates` rows nearest by sign-bit Hamming distance, then re-ranks them
    /// exactly; scores are exact dot products.
    pub fn search_prefiltered(&self, query: &[f32], k: usize, candidates: usize) -> Vec<(usize, f32)> {
        if k == 0 || query.len() != self.dimension || self.dimension == 0 {
            return Vec::new();
        }
        let signs = self.signs.get_or_init(|| SignIndex::build(self.dimension, &self.data));
        let rows = signs.candidates(query, candidates.max(k));
        top_k(rows.into_iter().map(|i| (i, dot(query, self.row(i)))), k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::normalize;

    #[test]
    fn returns_the_closest_rows_in_order() {
        let mut v = FlatVectors::new(2);
        v.push(&[1.0, 0.0]);
        v.push(&[0.0, 1.0]);
        v.push(&[0.6, 0.8]);
        v.push(&[1.0, 2.0, 3.0]); // wrong size: stored as zeros
        assert_eq!(v.len(), 4);
        let hits = v.search(&[0.0, 1.0], 2);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(v.search(&[0.0, 1.0], 10).len(), 4);
        assert!(v.search(&[1.0], 3).is_empty());
        assert!(v.search(&[1.0, 0.0], 0).is_empty());
        assert!(v.search_prefiltered(&[1.0], 3, 2).is_empty());
    }

    /// Deterministic pseudo-random numbers, so the recall figures below are reproducible.
    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) % 20_000) as f32 / 10_000.0 - 1.0
        }
        fn vector(&mut self, dim: usize) -> Vec<f32> {
            (0..dim).map(|_| self.unit()).collect()
        }
    }

    const DIM: usize = 384;

    fn unit(mut v: Vec<f32>) -> Vec<f32> {
        normalize(&mut v);
        v
    }

    fn mix(a: &[f32], b: &[f32], weight_b: f32) -> Vec<f32> {
        unit(a.iter().zip(b).map(|(x, y)| x + weight_b * y).collect())
    }

    /// Mean recall@k of the pre-filtered search against the exact scan, and whether every
    /// returned score is the exact one.
    fn recall(vectors: &FlatVectors, queries: &[Vec<f32>], k: usize) -> f64 {
        let mut found = 0;
        for q in queries {
            let exact = vectors.search_exact(q, k);
            let fast = vectors.search(q, k);
            assert_eq!(fast.len(), k);
            for (row, score) in &fast {
                assert_eq!(*score, dot(q, vectors.row(*row)), "re-rank scores are exact");
            }
            found += exact.iter().filter(|(row, _)| fast.iter().any(|(r, _)| r == row)).count();
        }
        found as f64 / (queries.len() * k) as f64
    }

    #[test]
    fn small_indexes_are_scanned_exactly() {
        let mut rng = Lcg(1);
        let mut v = FlatVectors::new(DIM);
        for _ in 0..2_000 {
            v.push(&unit(rng.vector(DIM)));
        }
        assert!(!v.uses_prefilter());
        let q = unit(rng.vector(DIM));
        assert_eq!(v.search(&q, 10), v.search_exact(&q, 10));
        assert!(v.signs.get().is_none(), "no sign index is built below the threshold");
    }

    #[test]
    fn prefilter_matches_the_exact_scan_on_clustered_data() {
        // Like real embeddings: a shared direction (which centring removes), topics as clusters,
        // and queries that are noisy versions of a topic.
        let mut rng = Lcg(2);
        let common = rng.vector(DIM).iter().map(|x| x.abs() * 0.8).collect::<Vec<_>>();
        let centres: Vec<Vec<f32>> = (0..200).map(|_| mix(&common, &rng.vector(DIM), 1.0)).collect();
        let mut v = FlatVectors::with_capacity(DIM, PREFILTER_MIN_ROWS);
        for i in 0..PREFILTER_MIN_ROWS {
            let noise = unit(rng.vector(DIM));
            v.push(&mix(&centres[i % centres.len()], &noise, 0.8));
        }
        assert!(v.uses_prefilter());
        let queries: Vec<Vec<f32>> = (0..20).map(|i| mix(&centres[i * 7], &unit(rng.vector(DIM)), 0.8)).collect();
        let r = recall(&v, &queries, 10);
        assert!(r >= 0.99, "clustered recall@10 {r}");
    }

    #[test]
    fn prefilter_finds_true_neighbours_on_random_data() {
        // Isotropic random rows; each query is a noisy copy of one row (cosine ≈ 0.7), so it has
        // one true neighbour and nine rows that are merely the least unrelated (cosine ≈ 0.2).
        let mut rng = Lcg(3);
        let mut v = FlatVectors::with_capacity(DIM, PREFILTER_MIN_ROWS);
        for _ in 0..PREFILTER_MIN_ROWS {
            v.push(&unit(rng.vector(DIM)));
        }
        let planted: Vec<usize> = (0..20).map(|i| i * 997).collect();
        let queries: Vec<Vec<f32>> = planted.iter().map(|&row| mix(v.row(row), &unit(rng.vector(DIM)), 1.0)).collect();
        for (q, &row) in queries.iter().zip(&planted) {
            assert_eq!(v.search(q, 10)[0].0, row, "the planted neighbour comes first");
        }
        let planted_recall = recall(&v, &queries, 1);
        assert!(planted_recall >= 0.99, "planted recall@1 {planted_recall}");
        // With no true neighbour at all (pure noise queries) the top-10 is a ranking of
        // near-orthogonal rows (cosine ≈ 0.2), the pre-filter's worst case: 0.99 measured here
        // at 20k rows, lower at 100k (docs/PERFORMANCE.md).
        let noise: Vec<Vec<f32>> = (0..20).map(|_| unit(rng.vector(DIM))).collect();
        let noise_recall = recall(&v, &noise, 10);
        assert!(noise_recall >= 0.95, "noise-query recall@10 {noise_recall}");
    }
}
