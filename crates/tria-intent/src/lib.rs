//! Intent classification for customer messages: a logistic-regression head and k-nearest-neighbour
//! voting over embedded labelled examples, deterministic rules for high-precision patterns, entity
//! extraction and a lexicon-based tone (sentiment, urgency). Takes vectors as input; embedding is
//! the caller's job.

mod concepts;
mod entities;
mod examples;
mod knn;
pub mod lexical;
pub mod linear;
mod model;
mod rules;
mod tone;

pub use concepts::concepts;
pub use entities::{Entities, extract_entities};
pub use examples::{ExampleError, LabelledExample, load_examples, parse_examples};
pub use knn::ExampleIndex;
pub use model::{DEFAULT_FALLBACK_THRESHOLD, IntentFallback, IntentModel, Mixing, ModelError, ModelFit, ModelOptions};
pub use rules::{RuleClassifier, explicit_intent};
pub use tone::{Sentiment, Tone, Urgency, assess_tone};

use tria_core::IntentLabel;

/// Which stage settled the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DecidedBy {
    /// A high-precision pattern ("speak to a human", a bare greeting).
    Rule,
    /// Keyword evidence only (no embedding available).
    Keywords,
    /// The embedding model: linear head, nearest labelled examples and keyword evidence.
    Embedding,
    /// The optional LLM fallback, after low confidence.
    Fallback,
}

/// The classifier's answer for one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    pub label: IntentLabel,
    /// Probability-like, in `[0, 1]`.
    pub confidence: f32,
    pub runner_up: Option<(IntentLabel, f32)>,
    pub entities: Entities,
    pub tone: Tone,
    pub decided_by: DecidedBy,
}

/// Anything that can label a message.
pub trait IntentClassifier: Send + Sync {
    fn classify(&self, message: &str) -> Classification;

    /// Classifies with the message's embedding when the caller already has one (the agent embeds
    /// each message once for retrieval and intent). Classifiers that do not use vectors ignore it.
    fn classify_embedded(&self, message: &str, embedding: Option<&[f32]>) -> Classification {
        let _ = embedding;
        self.classify(message)
    }
}
