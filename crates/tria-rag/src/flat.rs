//! Nearest neighbours by a flat scan: one contiguous `Vec<f32>` of unit vectors, scored with dot
//! products. At policy-corpus sizes (tens to thousands of chunks) a scan is faster than any graph
//! index. Past [`QUANTIZED_SCAN_FROM`] rows the scan streams an int8 copy instead (a quarter of
//! the memory traffic, which is what bounds a 100k-row f32 scan) and re-scores the best
//! candidates exactly; `benches/retrieval.rs` compares both at 100k rows (docs/PERFORMANCE.md).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::embed::dot;

/// From this many rows `search` scans the int8 copy and re-ranks exactly; below it the f32 scan
/// is already fast and exact.
pub const QUANTIZED_SCAN_FROM: usize = 8_192;

/// Candidates re-scored exactly after the int8 scan, besides `8 * k`. Quantisation moves a unit
/// vector's dot product by about 1e-3, far less than the score gap between the k-th and this
/// many-th neighbour, so the final top k matches the exact scan.
const RERANK_EXTRA: usize = 64;

/// Row-major unit vectors, all of one dimension, with an int8 copy (one scale per row).
#[derive(Clone, Debug, Default)]
pub struct FlatVectors {
    dimension: usize,
    data: Vec<f32>,
    quantized: Vec<i8>,
    scales: Vec<f32>,
}

/// Symmetric int8 quantisation of one vector: `x ≈ scale * q`.
fn quantize(vector: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    out.extend(vector.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8));
    scale
}

/// Integer dot product in sixteen i32 lanes, which the compiler turns into widening
/// multiply-adds.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0i32; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (x, y) in (&mut a_chunks).zip(&mut b_chunks) {
        for i in 0..LANES {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    let tail: i32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    acc.iter().sum::<i32>() + tail
}

/// Keeps the best `k` of a stream of scored rows.
struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    fn offer(&mut self, score: f32, i: usize) {
        if self.heap.len() < self.k {
            self.heap.push(Scored(score, i));
        } else if self.heap.peek().is_some_and(|worst| score > worst.0) {
            self.heap.pop();
            self.heap.push(Scored(score, i));
        }
    }

    fn sorted(self) -> Vec<(usize, f32)> {
        let mut out: Vec<(usize, f32)> = self.heap.into_iter().map(|Scored(s, i)| (i, s)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
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

impl FlatVectors {
    pub fn new(dimension: usize) -> Self {
        Self { dimension, ..Self::default() }
    }

    pub fn with_capacity(dimension: usize, rows: usize) -> Self {
        Self {
            dimension,
            data: Vec::with_capacity(dimension * rows),
            quantized: Vec::with_capacity(dimension * rows),
            scales: Vec::with_capacity(rows),
        }
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn len(&self) -> usize {
        if self.dimension == 0 { 0 } else { self.data.len() / self.dimension }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Appends a row; a vector of the wrong size is stored as zeros (it then never matches).
    pub fn push(&mut self, vector: &[f32]) {
        if vector.len() == self.dimension {
            self.data.extend_from_slice(vector);
            let scale = quantize(vector, &mut self.quantized);
            self.scales.push(scale);
        } else {
            self.data.extend(std::iter::repeat_n(0.0, self.dimension));
            self.quantized.extend(std::iter::repeat_n(0, self.dimension));
            self.scales.push(1.0);
        }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dimension..(i + 1) * self.dimension]
    }

    /// The `k` rows most similar to `query` (highest dot product first), ties by row order.
    /// Scores are exact f32 dot products whichever scan found the rows.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if self.len() >= QUANTIZED_SCAN_FROM { self.search_quantized(query, k) } else { self.search_exact(query, k) }
    }

    /// The plain f32 scan over every row.
    pub fn search_exact(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if k == 0 || query.len() != self.dimension || self.dimension == 0 {
            return Vec::new();
        }
        let mut top = TopK::new(k);
        for (i, row) in self.data.chunks_exact(self.dimension).enumerate() {
            top.offer(dot(query, row), i);
        }
        top.sorted()
    }

    /// The int8 scan, then an exact re-score of the best `8k + 64` candidates.
    pub fn search_quantized(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if k == 0 || query.len() != self.dimension || self.dimension == 0 {
            return Vec::new();
        }
        let mut q = Vec::with_capacity(self.dimension);
        quantize(query, &mut q);
        let mut candidates = TopK::new(k * 8 + RERANK_EXTRA);
        for (i, (row, scale)) in self.quantized.chunks_exact(self.dimension).zip(&self.scales).enumerate() {
            // The query's own scale is common to every row, so it does not change the order.
            candidates.offer(dot_i8(&q, row) as f32 * scale, i);
        }
        let mut top = TopK::new(k);
        for (i, _) in candidates.sorted() {
            top.offer(dot(query, self.row(i)), i);
        }
        top.sorted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(v.search_quantized(&[0.0, 1.0], 2), hits);
        assert!(v.search_quantized(&[1.0], 3).is_empty());
    }

    /// Deterministic unit vectors with some shared structure, like real embeddings.
    fn pseudo_random_vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % 20_000) as f32 / 10_000.0 - 1.0
        };
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = (0..dim).map(|j| next() + if j < 8 { 0.5 } else { 0.0 }).collect();
                crate::embed::normalize(&mut v);
                v
            })
            .collect()
    }

    #[test]
    fn the_quantized_scan_finds_the_same_rows_with_exact_scores() {
        let dim = 64;
        let mut flat = FlatVectors::with_capacity(dim, 3_000);
        for v in pseudo_random_vectors(3_000, dim, 1) {
            flat.push(&v);
        }
        for query in pseudo_random_vectors(40, dim, 2) {
            assert_eq!(flat.search_quantized(&query, 10), flat.search_exact(&query, 10));
        }
    }

    #[test]
    fn quantization_round_trips_closely() {
        let v = pseudo_random_vectors(1, 384, 3).remove(0);
        let mut q = Vec::new();
        let scale = quantize(&v, &mut q);
        let back: Vec<f32> = q.iter().map(|x| f32::from(*x) * scale).collect();
        assert!((dot(&v, &back) - 1.0).abs() < 1e-3);
        assert_eq!(dot_i8(&[1, -2, 3], &[4, 5, -6]), 4 - 10 - 18);
        let mut zeros = Vec::new();
        assert_eq!(quantize(&[0.0; 4], &mut zeros), 1.0);
        assert_eq!(zeros, [0; 4]);
    }
}
