//! The intent model: explicit rules first, then nearest labelled examples combined with keyword
//! evidence in one softmax whose temperature and keyword weight are fitted by leave-one-out on
//! the examples, so `confidence` behaves like a probability on messages like the examples.

use tria_core::IntentLabel;

use crate::knn::ExampleIndex;
use crate::rules::{RuleClassifier, keyword_scores};
use crate::{Classification, DecidedBy, IntentClassifier, LabelledExample, assess_tone, explicit_intent, extract_entities};

/// Keyword scores are clipped here before weighting: a long message full of cues must not
/// overwhelm the embedding evidence.
const KEYWORD_CAP: f32 = 6.0;
const TEMPERATURES: [f32; 9] = [0.008, 0.012, 0.016, 0.02, 0.025, 0.03, 0.04, 0.06, 0.1];
const KEYWORD_WEIGHTS: [f32; 8] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];
/// Below this confidence the agent may ask its LLM fallback.
pub const DEFAULT_FALLBACK_THRESHOLD: f32 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{examples} examples but {vectors} vectors")]
    Mismatch { examples: usize, vectors: usize },
    #[error("no examples for {0}")]
    MissingLabel(IntentLabel),
}

/// A second opinion for low-confidence messages, e.g. an LLM prompted with the ten label
/// definitions. The agent implements it over its LLM client; this crate builds none.
#[async_trait::async_trait]
pub trait IntentFallback: Send + Sync {
    /// A label and confidence for `message`, or `None` to keep the first verdict.
    async fn classify(&self, message: &str, first_verdict: &Classification) -> Option<(IntentLabel, f32)>;
}

#[derive(Clone, Debug)]
pub struct IntentModel {
    examples: ExampleIndex,
    temperature: f32,
    keyword_weight: f32,
    fallback_threshold: f32,
}

fn softmax(logits: &[f32; 10]) -> [f32; 10] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut out = [0.0f32; 10];
    let mut sum = 0.0;
    for (o, l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += *o;
    }
    for o in &mut out {
        *o /= sum;
    }
    out
}

fn logits(similarity: &[f32; 10], keywords: &[f32; 10], temperature: f32, keyword_weight: f32) -> [f32; 10] {
    let mut out = [0.0f32; 10];
    for i in 0..10 {
        out[i] = similarity[i] / temperature + keyword_weight * keywords[i].min(KEYWORD_CAP);
    }
    out
}

impl IntentModel {
    /// Builds the model from examples and their embeddings (same order), fitting the softmax
    /// temperature and keyword weight by leave-one-out log-likelihood.
    pub fn from_examples(examples: &[LabelledExample], vectors: &[Vec<f32>]) -> Result<Self, ModelError> {
        if examples.len() != vectors.len() {
            return Err(ModelError::Mismatch { examples: examples.len(), vectors: vectors.len() });
        }
        for label in IntentLabel::ALL {
            if !examples.iter().any(|e| e.label == label) {
                return Err(ModelError::MissingLabel(label));
            }
        }
        let labels: Vec<IntentLabel> = examples.iter().map(|e| e.label).collect();
        let index = ExampleIndex::new(&labels, vectors);
        let held_out: Vec<([f32; 10], [f32; 10], usize)> = (0..index.len())
            .map(|i| {
                let sims = index.similarities(index.row(i));
                let text = &examples[i].text;
                (index.label_scores_from(&sims, Some(i)), keyword_scores(text, &extract_entities(text)), index.label_of(i))
            })
            .collect();
        let mut best = (f32::INFINITY, 0.02, 0.0);
        for &t in &TEMPERATURES {
            for &w in &KEYWORD_WEIGHTS {
                let nll: f32 = held_out
                    .iter()
                    .map(|(s, k, truth)| -softmax(&logits(s, k, t, w))[*truth].max(1e-9).ln())
                    .sum();
                if nll < best.0 {
                    best = (nll, t, w);
                }
            }
        }
        tracing::debug!(temperature = best.1, keyword_weight = best.2, nll = best.0, "intent model calibrated");
        Ok(Self { examples: index, temperature: best.1, keyword_weight: best.2, fallback_threshold: DEFAULT_FALLBACK_THRESHOLD })
    }

    pub fn with_fallback_threshold(mut self, threshold: f32) -> Self {
        self.fallback_threshold = threshold;
        self
    }

    /// Whether `verdict` is unsure enough to ask an [`IntentFallback`].
    pub fn needs_fallback(&self, verdict: &Classification) -> bool {
        verdict.decided_by != DecidedBy::Rule && verdict.confidence < self.fallback_threshold
    }

    /// The fitted (temperature, keyword weight).
    pub fn calibration(&self) -> (f32, f32) {
        (self.temperature, self.keyword_weight)
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
        let probabilities = softmax(&logits(&similarity, &keywords, self.temperature, self.keyword_weight));
        let mut ranked: Vec<(IntentLabel, f32)> = IntentLabel::ALL.iter().copied().zip(probabilities).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (label, confidence) = ranked[0];
        Classification { label, confidence, runner_up: ranked.get(1).copied(), entities, tone, decided_by: DecidedBy::Embedding }
    }
}
