//! The intent model: explicit rules first, then three kinds of evidence in one softmax — a
//! logistic-regression head over the embedding and lexical features, the nearest labelled
//! examples, and keyword cues. Their weights (and so the softmax temperature) are fitted at load
//! time on out-of-fold predictions, so `confidence` behaves like a probability on messages like
//! the examples, and the same pass yields a k-fold accuracy estimate that no eval set informs.

use tria_core::IntentLabel;

use crate::knn::ExampleIndex;
use crate::lexical::intent_features;
use crate::linear::{LinearHead, Row, TrainOptions};
use crate::rules::{RuleClassifier, keyword_scores};
use crate::{Classification, DecidedBy, IntentClassifier, LabelledExample, assess_tone, explicit_intent, extract_entities};

/// Keyword scores are clipped here before weighting: a long message full of cues must not
/// overwhelm the embedding evidence.
const KEYWORD_CAP: f32 = 6.0;
/// Candidate weights of the linear head's logits.
const HEAD_WEIGHTS: [f32; 8] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0];
/// Candidate inverse temperatures of the k-NN similarity (0 = k-NN off).
const KNN_WEIGHTS: [f32; 9] = [0.0, 5.0, 10.0, 16.0, 25.0, 40.0, 60.0, 80.0, 120.0];
const KEYWORD_WEIGHTS: [f32; 8] = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0];
/// Below this confidence the agent may ask its LLM fallback.
pub const DEFAULT_FALLBACK_THRESHOLD: f32 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{examples} examples but {vectors} vectors")]
    Mismatch { examples: usize, vectors: usize },
    #[error("no examples for {0}")]
    MissingLabel(IntentLabel),
    #[error("embeddings must all have the same non-zero length: expected {expected}, found {found}")]
    Dimension { expected: usize, found: usize },
}

/// A second opinion for low-confidence messages, e.g. an LLM prompted with the ten label
/// definitions. This crate builds none; the agent asks the one it is given
/// (`AgentBuilder::intent_fallback`) through [`IntentModel::resolve`].
#[async_trait::async_trait]
pub trait IntentFallback: Send + Sync {
    /// A label and confidence for `message`, or `None` to keep the first verdict.
    async fn classify(&self, message: &str, first_verdict: &Classification) -> Option<(IntentLabel, f32)>;

    /// What its verdicts depend on (model, prompt): part of the key verdicts are cached under,
    /// so a change of either never serves an old verdict.
    fn version(&self) -> &str;
}

/// Training knobs of the linear head; the defaults are what the evals in docs/QUALITY.md used.
#[derive(Clone, Copy, Debug)]
pub struct ModelOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub dense_scale: f32,
    pub lexical_scale: f32,
    /// Folds for the out-of-fold predictions that fit the mixing weights (at least 2).
    pub folds: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        let t = TrainOptions::default();
        Self {
            epochs: t.epochs,
            learning_rate: t.learning_rate,
            l2: t.l2,
            dense_scale: t.dense_scale,
            lexical_scale: t.lexical_scale,
            folds: 5,
        }
    }
}

impl ModelOptions {
    fn train_options(&self) -> TrainOptions {
        TrainOptions {
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            l2: self.l2,
            dense_scale: self.dense_scale,
            lexical_scale: self.lexical_scale,
        }
    }
}

/// How the three kinds of evidence are weighted in the final softmax.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixing {
    pub head_weight: f32,
    pub knn_weight: f32,
    pub keyword_weight: f32,
}

/// What fitting the model learned about itself on its own examples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelFit {
    pub mixing: Mixing,
    /// Accuracy on out-of-fold predictions over the training examples: the explicit rules, then
    /// the full mix with the head trained without the example's fold and the example itself
    /// left out of the neighbours.
    pub cross_validated_accuracy: f32,
    pub folds: usize,
}

#[derive(Clone, Debug)]
pub struct IntentModel {
    examples: ExampleIndex,
    head: LinearHead<{ IntentLabel::ALL.len() }>,
    fit: ModelFit,
    /// The out-of-fold verdict of every training example, in their order: what the k-fold
    /// figure counts, kept so an eval can say which labels and examples it misses.
    out_of_fold: Vec<(IntentLabel, f32)>,
    fallback_threshold: f32,
    /// FNV-1a over the examples, their vectors and the options: equal for models that classify alike.
    data_fingerprint: u64,
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike `std`'s hasher.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const START: Self = Self(0xcbf2_9ce4_8422_2325);

    fn bytes(mut self, bytes: &[u8]) -> Self {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    fn f32s(self, values: &[f32]) -> Self {
        values.iter().fold(self, |h, v| h.bytes(&v.to_bits().to_le_bytes()))
    }

    fn text(self, text: &str) -> Self {
        self.bytes(&(text.len() as u64).to_le_bytes()).bytes(text.as_bytes())
    }
}

fn data_fingerprint(examples: &[LabelledExample], vectors: &[Vec<f32>], options: &ModelOptions) -> u64 {
    let o = options;
    let h = Fnv::START.text(env!("CARGO_PKG_VERSION")).f32s(&[o.learning_rate, o.l2, o.dense_scale, o.lexical_scale]);
    let h = h.bytes(&(o.epochs as u64).to_le_bytes()).bytes(&(o.folds as u64).to_le_bytes());
    examples.iter().zip(vectors).fold(h, |h, (e, v)| h.text(e.label.as_str()).text(&e.text).f32s(v)).0
}

/// One score per intent label.
type Scores = [f32; 10];

fn softmax(logits: &[f32; 10]) -> [f32; 10] {
    let mut out = *logits;
    crate::linear::softmax_in_place(&mut out);
    out
}

fn mix(head: &[f32; 10], similarity: &[f32; 10], keywords: &[f32; 10], m: Mixing) -> [f32; 10] {
    let mut out = [0.0f32; 10];
    for i in 0..10 {
        out[i] = m.head_weight * head[i] + m.knn_weight * similarity[i] + m.keyword_weight * keywords[i].min(KEYWORD_CAP);
    }
    out
}

fn argmax(values: &[f32; 10]) -> usize {
    let mut best = 0;
    for i in 1..10 {
        if values[i] > values[best] {
            best = i;
        }
    }
    best
}

impl IntentModel {
    /// Builds the model from examples and their embeddings (same order) with default options.
    pub fn from_examples(examples: &[LabelledExample], vectors: &[Vec<f32>]) -> Result<Self, ModelError> {
        Self::from_examples_with(examples, vectors, ModelOptions::default())
    }

    /// Builds the model: out-of-fold head predictions and leave-one-out neighbours fit the mixing
    /// weights by log-likelihood, then the head is trained once more on every example.
    pub fn from_examples_with(examples: &[LabelledExample], vectors: &[Vec<f32>], options: ModelOptions) -> Result<Self, ModelError> {
        if examples.len() != vectors.len() {
            return Err(ModelError::Mismatch { examples: examples.len(), vectors: vectors.len() });
        }
        for label in IntentLabel::ALL {
            if !examples.iter().any(|e| e.label == label) {
                return Err(ModelError::MissingLabel(label));
            }
        }
        let dimension = vectors.first().map_or(0, Vec::len);
        if let Some(bad) = vectors.iter().find(|v| v.len() != dimension || v.is_empty()) {
            return Err(ModelError::Dimension { expected: dimension, found: bad.len() });
        }
        let labels: Vec<IntentLabel> = examples.iter().map(|e| e.label).collect();
        let index = ExampleIndex::new(&labels, vectors);
        let label_ids: Vec<usize> = (0..index.len()).map(|i| index.label_of(i)).collect();
        let lexical: Vec<Vec<(u32, f32)>> = examples.iter().map(|e| intent_features(&e.text)).collect();
        let rows: Vec<Row<'_>> = vectors.iter().zip(&lexical).map(|(v, l)| Row { dense: v, sparse: l }).collect();
        let train = options.train_options();

        // Stratified folds: the n-th example of each label goes to fold n mod k.
        let folds = options.folds.max(2);
        let mut seen = [0usize; 10];
        let fold_of: Vec<usize> = label_ids
            .iter()
            .map(|&l| {
                seen[l] += 1;
                (seen[l] - 1) % folds
            })
            .collect();
        let mut head_out_of_fold = vec![[0.0f32; 10]; rows.len()];
        for fold in 0..folds {
            let train_ids: Vec<usize> = (0..rows.len()).filter(|&i| fold_of[i] != fold).collect();
            let fold_rows: Vec<Row<'_>> = train_ids.iter().map(|&i| rows[i]).collect();
            let fold_labels: Vec<usize> = train_ids.iter().map(|&i| label_ids[i]).collect();
            let head = LinearHead::train(&fold_rows, &fold_labels, train);
            for i in (0..rows.len()).filter(|&i| fold_of[i] == fold) {
                head_out_of_fold[i] = head.logits(rows[i]);
            }
        }
        let held_out: Vec<(Scores, Scores, Scores, usize)> = (0..index.len())
            .map(|i| {
                let sims = index.similarities(index.row(i));
                let text = &examples[i].text;
                (head_out_of_fold[i], index.label_scores_from(&sims, Some(i)), keyword_scores(text, &extract_entities(text)), label_ids[i])
            })
            .collect();
        let mut best = (f32::INFINITY, Mixing { head_weight: 1.0, knn_weight: 0.0, keyword_weight: 0.0 });
        for &head_weight in &HEAD_WEIGHTS {
            for &knn_weight in &KNN_WEIGHTS {
                for &keyword_weight in &KEYWORD_WEIGHTS {
                    let m = Mixing { head_weight, knn_weight, keyword_weight };
                    let nll: f32 = held_out.iter().map(|(h, s, k, truth)| -softmax(&mix(h, s, k, m))[*truth].max(1e-9).ln()).sum();
                    if nll < best.0 {
                        best = (nll, m);
                    }
                }
            }
        }
        let mixing = best.1;
        // Counted as the classifier answers: the explicit rules first, then the mix.
        let out_of_fold: Vec<(IntentLabel, f32)> = held_out
            .iter()
            .zip(examples)
            .map(|((h, s, k, _), example)| {
                explicit_intent(&example.text).unwrap_or_else(|| {
                    let p = softmax(&mix(h, s, k, mixing));
                    let best = argmax(&p);
                    (IntentLabel::ALL[best], p[best])
                })
            })
            .collect();
        let correct = out_of_fold.iter().zip(&label_ids).filter(|((predicted, _), truth)| *predicted == IntentLabel::ALL[**truth]).count();
        let fit = ModelFit { mixing, cross_validated_accuracy: correct as f32 / held_out.len().max(1) as f32, folds };
        tracing::debug!(?fit, nll = best.0, "intent model fitted");
        let head = LinearHead::train(&rows, &label_ids, train);
        let data_fingerprint = data_fingerprint(examples, vectors, &options);
        Ok(Self { examples: index, head, fit, out_of_fold, fallback_threshold: DEFAULT_FALLBACK_THRESHOLD, data_fingerprint })
    }

    pub fn with_fallback_threshold(mut self, threshold: f32) -> Self {
        self.fallback_threshold = threshold;
        self
    }

    /// Whether `verdict` is unsure enough to ask an [`IntentFallback`].
    pub fn needs_fallback(&self, verdict: &Classification) -> bool {
        verdict.decided_by != DecidedBy::Rule && verdict.confidence < self.fallback_threshold
    }

    /// Identifies what this model answers: equal for models built from the same examples,
    /// vectors, options and fallback threshold; the agent caches verdicts under it.
    pub fn fingerprint(&self) -> u64 {
        Fnv(self.data_fingerprint).f32s(&[self.fallback_threshold]).0
    }

    /// The fitted mixing weights and the out-of-fold accuracy on the training examples.
    pub fn fit(&self) -> ModelFit {
        self.fit
    }

    /// The out-of-fold verdict (label, confidence) for each training example, in the order the
    /// examples were given: the k-fold figure per label or per example, and its calibration.
    pub fn out_of_fold_verdicts(&self) -> &[(IntentLabel, f32)] {
        &self.out_of_fold
    }

    pub fn dimension(&self) -> usize {
        self.examples.dimension()
    }

    /// Asks `fallback` when the verdict is unsure; keeps the first verdict otherwise or when
    /// the fallback declines.
    pub async fn resolve(&self, message: &str, verdict: Classification, fallback: &dyn IntentFallback) -> Classification {
        if !self.needs_fallback(&verdict) {
            return verdict;
        }
        match fallback.classify(message, &verdict).await {
            Some((label, confidence)) => Classification {
                runner_up: (label != verdict.label).then_some((verdict.label, verdict.confidence)),
                label,
                confidence: confidence.clamp(0.0, 1.0),
                decided_by: DecidedBy::Fallback,
                ..verdict
            },
            None => verdict,
        }
    }
}

impl IntentClassifier for IntentModel {
    /// Without an embedding the model is the rule classifier.
    fn classify(&self, message: &str) -> Classification {
        RuleClassifier.classify(message)
    }

    fn classify_embedded(&self, message: &str, embedding: Option<&[f32]>) -> Classification {
        let Some(embedding) = embedding.filter(|e| e.len() == self.examples.dimension()) else {
            return self.classify(message);
        };
        let entities = extract_entities(message);
        let tone = assess_tone(message);
        if let Some((label, confidence)) = explicit_intent(message) {
            return Classification { label, confidence, runner_up: None, entities, tone, decided_by: DecidedBy::Rule };
        }
        let similarity = self.examples.label_scores(embedding);
        let keywords = keyword_scores(message, &entities);
        let lexical = intent_features(message);
        let head = self.head.logits(Row { dense: embedding, sparse: &lexical });
        let probabilities = softmax(&mix(&head, &similarity, &keywords, self.fit.mixing));
        let mut ranked: Vec<(IntentLabel, f32)> = IntentLabel::ALL.iter().copied().zip(probabilities).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (label, confidence) = ranked[0];
        Classification { label, confidence, runner_up: ranked.get(1).copied(), entities, tone, decided_by: DecidedBy::Embedding }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors near one axis per label, with deterministic jitter; texts with label words.
    fn toy_examples() -> (Vec<LabelledExample>, Vec<Vec<f32>>) {
        let mut examples = Vec::new();
        let mut vectors = Vec::new();
        for (l, label) in IntentLabel::ALL.iter().enumerate() {
            for i in 0..12 {
                let mut v = vec![0.0f32; 16];
                v[l] = 1.0;
                v[10 + i % 6] = 0.3 + 0.05 * (i as f32);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                examples.push(LabelledExample { label: *label, text: format!("{} example number {i}", label.as_str()) });
                vectors.push(v);
            }
        }
        (examples, vectors)
    }

    fn axis(l: usize) -> Vec<f32> {
        let mut v = vec![0.0f32; 16];
        v[l] = 0.95;
        v[12] = 0.31;
        v
    }

    #[test]
    fn classifies_by_the_embedding_with_a_runner_up_and_a_probability() {
        let (examples, vectors) = toy_examples();
        let model = IntentModel::from_examples(&examples, &vectors).expect("model");
        for (l, label) in IntentLabel::ALL.iter().enumerate() {
            let verdict = model.classify_embedded("something unrelated to any cue", Some(&axis(l)));
            assert_eq!(verdict.label, *label);
            assert_eq!(verdict.decided_by, DecidedBy::Embedding);
            assert!((0.0..=1.0).contains(&verdict.confidence));
            let (runner_up, p) = verdict.runner_up.expect("runner-up");
            assert_ne!(runner_up, *label);
            assert!(p <= verdict.confidence);
        }
        let fit = model.fit();
        assert!(fit.cross_validated_accuracy > 0.9, "{fit:?}");
        assert_eq!(fit.folds, 5);
        let verdicts = model.out_of_fold_verdicts();
        assert_eq!(verdicts.len(), examples.len());
        let right = verdicts.iter().zip(&examples).filter(|((v, _), e)| *v == e.label).count();
        assert_eq!(right as f32 / examples.len() as f32, fit.cross_validated_accuracy);
    }

    #[test]
    fn building_twice_gives_identical_verdicts() {
        let (examples, vectors) = toy_examples();
        let a = IntentModel::from_examples(&examples, &vectors).expect("model");
        let b = IntentModel::from_examples(&examples, &vectors).expect("model");
        assert_eq!(a.fit(), b.fit());
        let q = axis(3);
        assert_eq!(a.classify_embedded("hmm", Some(&q)), b.classify_embedded("hmm", Some(&q)));
    }

    #[test]
    fn explicit_rules_win_and_a_missing_or_wrong_size_embedding_falls_back_to_rules() {
        let (examples, vectors) = toy_examples();
        let model = IntentModel::from_examples(&examples, &vectors).expect("model");
        let verdict = model.classify_embedded("let me talk to a human", Some(&axis(0)));
        assert_eq!((verdict.label, verdict.decided_by), (IntentLabel::HumanHandoff, DecidedBy::Rule));
        let verdict = model.classify_embedded("where is my order ORD-10001", Some(&[0.5; 3]));
        assert_eq!((verdict.label, verdict.decided_by), (IntentLabel::OrderStatus, DecidedBy::Keywords));
        assert_eq!(model.classify_embedded("where is my order", None).decided_by, DecidedBy::Keywords);
    }

    #[test]
    fn the_fingerprint_follows_the_data_and_the_threshold() {
        let (examples, mut vectors) = toy_examples();
        let a = IntentModel::from_examples(&examples, &vectors).expect("model");
        let b = IntentModel::from_examples(&examples, &vectors).expect("model");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), a.clone().with_fallback_threshold(0.7).fingerprint());
        vectors[0][15] += 0.01;
        assert_ne!(a.fingerprint(), IntentModel::from_examples(&examples, &vectors).expect("model").fingerprint());
    }

    /// Answers with a fixed label, or declines; counts the questions.
    struct Fixed(Option<IntentLabel>, std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl IntentFallback for Fixed {
        async fn classify(&self, _message: &str, _first: &Classification) -> Option<(IntentLabel, f32)> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.map(|label| (label, 1.7))
        }
        fn version(&self) -> &str {
            "fixed"
        }
    }

    /// Runs a future that never waits (the fallbacks here answer at once).
    fn ready<T>(future: impl Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the future waited"),
        }
    }

    #[test]
    fn resolve_asks_the_fallback_only_for_unsure_model_verdicts() {
        let (examples, vectors) = toy_examples();
        let model = IntentModel::from_examples(&examples, &vectors).expect("model");
        let unsure = Classification { confidence: 0.3, ..model.classify_embedded("hmm", Some(&axis(3))) };
        let billing = Fixed(Some(IntentLabel::Billing), 0.into());
        let resolved = ready(model.resolve("hmm", unsure.clone(), &billing));
        assert_eq!((resolved.label, resolved.confidence, resolved.decided_by), (IntentLabel::Billing, 1.0, DecidedBy::Fallback));
        assert_eq!(resolved.runner_up, (unsure.label != IntentLabel::Billing).then_some((unsure.label, 0.3)));
        let declines = Fixed(None, 0.into());
        assert_eq!(ready(model.resolve("hmm", unsure.clone(), &declines)), unsure);
        // Sure verdicts and rules are never second-guessed.
        let sure = Classification { confidence: 0.9, ..unsure.clone() };
        assert_eq!(ready(model.resolve("hmm", sure.clone(), &billing)), sure);
        let rule = model.classify_embedded("let me talk to a human", Some(&axis(0)));
        let rule = Classification { confidence: 0.1, ..rule };
        assert_eq!(ready(model.resolve("let me talk to a human", rule.clone(), &billing)), rule);
        assert_eq!(billing.1.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(declines.1.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let (examples, mut vectors) = toy_examples();
        assert!(matches!(IntentModel::from_examples(&examples, &vectors[1..]), Err(ModelError::Mismatch { .. })));
        let without_greetings: Vec<(LabelledExample, Vec<f32>)> =
            examples.iter().cloned().zip(vectors.iter().cloned()).filter(|(e, _)| e.label != IntentLabel::Greeting).collect();
        let (e, v): (Vec<_>, Vec<_>) = without_greetings.into_iter().unzip();
        assert!(matches!(IntentModel::from_examples(&e, &v), Err(ModelError::MissingLabel(IntentLabel::Greeting))));
        vectors[5] = vec![0.1; 8];
        assert!(matches!(IntentModel::from_examples(&examples, &vectors), Err(ModelError::Dimension { expected: 16, found: 8 })));
    }
}
