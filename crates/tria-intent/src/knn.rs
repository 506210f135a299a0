//! Nearest labelled examples. Each label scores the mean cosine similarity of its `K` closest
//! examples: one lucky neighbour cannot win alone, and labels with more examples gain nothing.

use tria_core::IntentLabel;

use crate::rules::label_index;

/// Neighbours per label that count.
const K: usize = 3;

/// Dot product with eight independent partial sums: a single running sum is a serial chain the
/// compiler may not reorder, eight lanes let it use SIMD registers.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let mut a_chunks = a.chunks_exact(8);
    let mut b_chunks = b.chunks_exact(8);
    for (x, y) in a_chunks.by_ref().zip(b_chunks.by_ref()) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// Embedded examples, row-major.
#[derive(Clone, Debug)]
pub struct ExampleIndex {
    dimension: usize,
    rows: Vec<f32>,
    labels: Vec<usize>,
}

impl ExampleIndex {
    /// `vectors[i]` is the unit-length embedding of an example of `labels[i]`; vectors of another
    /// length than the first are skipped.
    pub fn new(labels: &[IntentLabel], vectors: &[Vec<f32>]) -> Self {
        let dimension = vectors.first().map_or(0, Vec::len);
        let mut rows = Vec::with_capacity(dimension * vectors.len());
        let mut kept = Vec::with_capacity(vectors.len());
        for (label, v) in labels.iter().zip(vectors) {
            if v.len() == dimension {
                rows.extend_from_slice(v);
                kept.push(label_index(*label));
            }
        }
        Self { dimension, rows, labels: kept }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Similarity of `query` to every example.
    pub(crate) fn similarities(&self, query: &[f32]) -> Vec<f32> {
        if query.len() != self.dimension || self.dimension == 0 {
            return Vec::new();
        }
        self.rows.chunks_exact(self.dimension).map(|row| dot(query, row)).collect()
    }

    /// Per-label score in [`IntentLabel::ALL`] order, from precomputed similarities, optionally
    /// leaving one example out (for calibration).
    pub(crate) fn label_scores_from(&self, similarities: &[f32], leave_out: Option<usize>) -> [f32; 10] {
        let mut best: [[f32; K]; 10] = [[f32::NEG_INFINITY; K]; 10];
        for (i, (&s, &label)) in similarities.iter().zip(&self.labels).enumerate() {
            if Some(i) == leave_out {
                continue;
            }
            let slots = &mut best[label];
            if let Some(min_pos) = (0..K).min_by(|&a, &b| slots[a].total_cmp(&slots[b]))
                && s > slots[min_pos]
            {
                slots[min_pos] = s;
            }
        }
        let mut scores = [0.0f32; 10];
        for (label, slots) in best.iter().enumerate() {
            let present: Vec<f32> = slots.iter().copied().filter(|s| s.is_finite()).collect();
            scores[label] = if present.is_empty() { -1.0 } else { present.iter().sum::<f32>() / present.len() as f32 };
        }
        scores
    }

    pub fn label_scores(&self, query: &[f32]) -> [f32; 10] {
        self.label_scores_from(&self.similarities(query), None)
    }

    pub(crate) fn label_of(&self, i: usize) -> usize {
        self.labels[i]
    }

    pub(crate) fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dimension..(i + 1) * self.dimension]
    }
}
