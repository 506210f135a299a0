//! The chat request and reply exchanged over `POST /api/chat` and the agent's library API.

use serde::{Deserialize, Serialize};

use crate::IntentLabel;

/// A customer's message. `session_id` continues a conversation; `customer_id` is the tenant's
/// own external customer id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub message: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
}

impl ChatRequest {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), session_id: None, customer_id: None }
    }
}

/// Which cache level answered, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheLevel {
    L1,
    L2,
    L3,
    #[default]
    None,
}

impl CacheLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheLevel::L1 => "l1",
            CacheLevel::L2 => "l2",
            CacheLevel::L3 => "l3",
            CacheLevel::None => "none",
        }
    }
}

/// The classifier's verdict as shown to API users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentVerdict {
    pub label: IntentLabel,
    pub confidence: f32,
}

/// A piece of grounding the reply relied on, for citations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Stable chunk id.
    pub id: String,
    /// Document title.
    pub title: String,
    /// Heading path inside the document, e.g. `Returns › Refund timelines`.
    pub heading: String,
    pub score: f32,
}

/// What producing one reply cost: the LLM's tokens and dollars, and the prompt version that
/// wrote it. Zeros (and no version) when a cache level or the offline responder answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplyUsage {
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub cost_usd: f64,
    pub prompt_version: Option<String>,
}

/// The answer to one chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatReply {
    pub reply: String,
    pub session_id: String,
    pub intent: IntentVerdict,
    pub sources: Vec<SourceRef>,
    pub cache: CacheLevel,
    pub latency_ms: u64,
    /// The stored assistant message, for feedback (`POST /api/v1/messages/{id}/feedback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Always serialized; defaulted when reading replies from before it existed.
    #[serde(default)]
    pub usage: ReplyUsage,
    /// True when the conversation is now with a person (the bot no longer answers it).
    #[serde(default)]
    pub handoff: bool,
}
