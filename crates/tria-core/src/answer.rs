//! [`Answer`]: what the chat pipeline answers a message with, whichever part produced it (the
//! responder, the LLM, the order flow, a refusal) or kept it (the answer cache).

use serde::{Deserialize, Serialize};

use crate::{IntentLabel, SourceRef};

/// A reply with what it was answered as and from. The answer cache stores it as it is (its
/// serde form is the cache's stored format: add fields only with a new cache key version).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub reply: String,
    pub intent: IntentLabel,
    pub confidence: f32,
    pub sources: Vec<SourceRef>,
    /// LLM tokens (prompt + completion) the answer took when it was generated, counted with
    /// cl100k; what a cache hit saves.
    pub tokens: u32,
    /// The model that wrote it (`None`: no model did — the responder, a template).
    pub model: Option<String>,
    /// What writing it cost in micro-dollars, every call of that turn included: what a cache
    /// hit on it saves (0 for an answer no model wrote).
    pub cost_micro_usd: u64,
}

impl Answer {
    /// An answer without sources or tokens (a template, a refusal, an order reply).
    pub fn new(reply: impl Into<String>, intent: IntentLabel, confidence: f32) -> Self {
        Self { reply: reply.into(), intent, confidence, sources: Vec::new(), tokens: 0, model: None, cost_micro_usd: 0 }
    }

    pub fn with_sources(mut self, sources: Vec<SourceRef>) -> Self {
        self.sources = sources;
        self
    }

    pub fn with_tokens(mut self, tokens: u32) -> Self {
        self.tokens = tokens;
        self
    }
}
