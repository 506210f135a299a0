//! Exact nearest neighbours by a flat scan: one contiguous `Vec<f32>` of unit vectors, scored
//! with dot products. At policy-corpus sizes (tens to thousands of chunks) a scan is faster than
//! any graph index; the 100k-chunk benchmark in `benches/retrieval.rs` records where it stands.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::embed::dot;

/// Row-major unit vectors, all of one dimension.
#[derive(Clone, Debug, Default)]
pub struct FlatVectors {
    dimension: usize,
    data: Vec<f32>,
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
        Self { dimension, data: Vec::new() }
    }

    pub fn with_capacity(dimension: usize, rows: usize) -> Self {
        Self { dimension, data: Vec::with_capacity(dimension * rows) }
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
        } else {
            self.data.extend(std::iter::repeat_n(0.0, self.dimension));
        }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dimension..(i + 1) * self.dimension]
    }

    /// The `k` rows most similar to `query` (highest dot product first), ties by row order.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        if k == 0 || query.len() != self.dimension || self.dimension == 0 {
            return Vec::new();
        }
        let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
        for (i, row) in self.data.chunks_exact(self.dimension).enumerate() {
            let score = dot(query, row);
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
    }
}
