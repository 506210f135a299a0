//! A multinomial logistic-regression head over the message embedding plus hashed lexical
//! features, trained at load time by plain SGD in a fixed order (deterministic: same examples,
//! same weights). It learns which embedding directions separate the labels — e.g. "send 5 cases
//! of X" from "how much is X" — where nearest-neighbour voting is swayed by the product noun.

use crate::knn::dot;
use crate::lexical::BUCKETS;

/// One training or query row: a dense vector (the embedding) and sparse lexical features.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub dense: &'a [f32],
    pub sparse: &'a [(u32, f32)],
}

#[derive(Clone, Copy, Debug)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty per example (weight decay), the main guard against memorising examples.
    pub l2: f32,
    /// Multiplies the dense vector: unit-length embeddings have tiny components, and this sets
    /// their weight against the lexical features under one L2 penalty.
    pub dense_scale: f32,
    /// Multiplies the (unit-length) lexical features; 0 turns them off.
    pub lexical_scale: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { epochs: 30, learning_rate: 0.1, l2: 1e-4, dense_scale: 2.0, lexical_scale: 2.0 }
    }
}

/// A softmax regression over `C` classes.
#[derive(Clone, Debug)]
pub struct LinearHead<const C: usize> {
    dimension: usize,
    options: TrainOptions,
    /// Subtracted from every dense vector: sentence embeddings share a large common direction
    /// that carries no label information and slows SGD down.
    mean: Vec<f32>,
    /// Class-major: `dense[c * dimension + j]`.
    dense: Vec<f32>,
    /// Feature-major: `lexical[bucket * C + c]`.
    lexical: Vec<f32>,
    bias: [f32; C],
    /// The true weights are `scale * dense` and `scale * lexical`: weight decay then costs one
    /// multiplication per step instead of a pass over every weight.
    scale: f32,
}

/// Below this a class's gradient is skipped: late in training most classes are already near
/// zero probability for a given example, and updating them changes nothing measurable.
const GRADIENT_FLOOR: f32 = 1e-4;

/// A deterministic permutation source (xorshift64*); the order of SGD steps must not depend on
/// anything but the examples.
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn permute(&mut self, order: &mut [usize]) {
        for i in (1..order.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
}

pub fn softmax_in_place<const C: usize>(logits: &mut [f32; C]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for l in logits.iter_mut() {
        *l = (*l - max).exp();
        sum += *l;
    }
    for l in logits.iter_mut() {
        *l /= sum;
    }
}

impl<const C: usize> LinearHead<C> {
    /// Trains on `rows` with `labels` (class indices below `C`; for intents, indices into
    /// [`tria_core::IntentLabel::ALL`]). Rows whose dense length differs from the first are ignored.
    pub fn train(rows: &[Row<'_>], labels: &[usize], options: TrainOptions) -> Self {
        let dimension = rows.first().map_or(0, |r| r.dense.len());
        let usable: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].dense.len() == dimension && labels[i] < C).collect();
        let mut mean = vec![0.0f32; dimension];
        for &i in &usable {
            for (m, x) in mean.iter_mut().zip(rows[i].dense) {
                *m += x;
            }
        }
        let n = usable.len().max(1) as f32;
        for m in &mut mean {
            *m /= n;
        }
        let mut head =
            Self { dimension, options, mean, dense: vec![0.0; C * dimension], lexical: vec![0.0; BUCKETS * C], bias: [0.0; C], scale: 1.0 };
        let mut order = usable;
        let mut shuffle = Shuffle(0x9e37_79b9_7f4a_7c15);
        let mut x = vec![0.0f32; dimension];
        let total_steps = (options.epochs * order.len()).max(1) as f32;
        let mut step = 0usize;
        for _ in 0..options.epochs {
            shuffle.permute(&mut order);
            for &i in &order {
                // Linear decay to a tenth of the initial rate: large steps first, then settling.
                let rate = options.learning_rate * (1.0 - 0.9 * step as f32 / total_steps);
                step += 1;
                head.centred(rows[i].dense, &mut x);
                let mut p = head.logits_centred(&x, rows[i].sparse);
                softmax_in_place(&mut p);
                p[labels[i]] -= 1.0; // now the gradient of the loss w.r.t. the logits
                head.scale *= 1.0 - rate * options.l2;
                if head.scale < 1e-3 {
                    head.fold_scale();
                }
                let step_scale = rate / head.scale;
                for (c, &g) in p.iter().enumerate() {
                    head.bias[c] -= rate * g;
                    if g.abs() < GRADIENT_FLOOR {
                        continue;
                    }
                    let w = &mut head.dense[c * dimension..(c + 1) * dimension];
                    let step_size = step_scale * g;
                    for (wj, xj) in w.iter_mut().zip(&x) {
                        *wj -= step_size * xj;
                    }
                }
                if options.lexical_scale > 0.0 {
                    for &(bucket, value) in rows[i].sparse {
                        let v = value * options.lexical_scale * step_scale;
                        let w = &mut head.lexical[bucket as usize * C..(bucket as usize + 1) * C];
                        for (wc, g) in w.iter_mut().zip(&p) {
                            *wc -= g * v;
                        }
                    }
                }
            }
        }
        head.fold_scale();
        head
    }

    /// Multiplies the scale into the weights, keeping them in a comfortable float range.
    fn fold_scale(&mut self) {
        let scale = self.scale;
        for w in self.dense.iter_mut().chain(self.lexical.iter_mut()) {
            *w *= scale;
        }
        self.scale = 1.0;
    }

    fn centred(&self, dense: &[f32], out: &mut [f32]) {
        for ((o, x), m) in out.iter_mut().zip(dense).zip(&self.mean) {
            *o = (x - m) * self.options.dense_scale;
        }
    }

    fn logits_centred(&self, x: &[f32], sparse: &[(u32, f32)]) -> [f32; C] {
        let mut raw = [0.0f32; C];
        for (c, o) in raw.iter_mut().enumerate() {
            *o = dot(&self.dense[c * self.dimension..(c + 1) * self.dimension], x);
        }
        if self.options.lexical_scale > 0.0 {
            for &(bucket, value) in sparse {
                let w = &self.lexical[bucket as usize * C..(bucket as usize + 1) * C];
                for (o, wc) in raw.iter_mut().zip(w) {
                    *o += wc * value * self.options.lexical_scale;
                }
            }
        }
        let mut out = self.bias;
        for (o, r) in out.iter_mut().zip(raw) {
            *o += self.scale * r;
        }
        out
    }

    /// Length of the dense vectors it was trained on.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Raw class scores (log-odds up to a constant) for one row; zeros for a wrong dimension.
    pub fn logits(&self, row: Row<'_>) -> [f32; C] {
        if row.dense.len() != self.dimension {
            return [0.0; C];
        }
        let mut x = vec![0.0f32; self.dimension];
        self.centred(row.dense, &mut x);
        self.logits_centred(&x, row.sparse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_toy_problem_deterministically() {
        // Two classes on two axes, no lexical features.
        let vectors: Vec<Vec<f32>> =
            (0..40).map(|i| if i % 2 == 0 { vec![1.0, 0.1 * (i % 5) as f32] } else { vec![0.1 * (i % 5) as f32, 1.0] }).collect();
        let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let rows: Vec<Row<'_>> = vectors.iter().map(|v| Row { dense: v, sparse: &[] }).collect();
        let head = LinearHead::<10>::train(&rows, &labels, TrainOptions::default());
        let a = head.logits(Row { dense: &[0.9, 0.0], sparse: &[] });
        let b = head.logits(Row { dense: &[0.0, 0.9], sparse: &[] });
        assert!(a[0] > a[1] && b[1] > b[0]);
        let again = LinearHead::<10>::train(&rows, &labels, TrainOptions::default());
        assert_eq!(again.logits(Row { dense: &[0.9, 0.0], sparse: &[] }), a);
        assert_eq!(head.logits(Row { dense: &[1.0], sparse: &[] }), [0.0; 10]);
    }
}
