//! Conversations, their messages, hand-offs and feedback.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity;

/// A conversation row: who, on which channel, in which state.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub channel: String,
    pub status: String,
    pub resolution: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::conversation::Model> for Conversation {
    fn from(m: entity::conversation::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            customer_id: m.customer_id,
            channel: m.channel,
            status: m.status,
            resolution: m.resolution,
            started_at: m.started_at,
            updated_at: m.updated_at,
        }
    }
}

/// A stored message with what the pipeline decided about it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    pub content: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    /// Cited chunk ids as a JSON array.
    pub sources: serde_json::Value,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub latency_ms: i64,
    pub cache_level: Option<String>,
    /// The prompt template version that wrote an assistant reply (none: cache or offline).
    pub prompt_version: Option<String>,
    pub cost_usd: f64,
    /// The customer's sentiment on a user message (`negative`, `neutral`, `positive`).
    pub sentiment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::message::Model> for StoredMessage {
    fn from(m: entity::message::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            conversation_id: m.conversation_id,
            role: m.role,
            content: m.content,
            intent: m.intent,
            confidence: m.confidence,
            sources: m.sources,
            tokens_in: m.tokens_in,
            tokens_out: m.tokens_out,
            latency_ms: m.latency_ms,
            cache_level: m.cache_level,
            prompt_version: m.prompt_version,
            cost_usd: m.cost_usd,
            sentiment: m.sentiment,
            created_at: m.created_at,
        }
    }
}

/// A conversation's hand-off to a person.
#[derive(Clone, Debug, PartialEq)]
pub struct Escalation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub conversation_id: Uuid,
    pub reason: String,
    pub ticket_ref: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::escalation::Model> for Escalation {
    fn from(m: entity::escalation::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            conversation_id: m.conversation_id,
            reason: m.reason,
            ticket_ref: m.ticket_ref,
            status: m.status,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A customer's rating of one assistant reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Feedback {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    /// `up` or `down`.
    pub rating: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::message_feedback::Model> for Feedback {
    fn from(m: entity::message_feedback::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            conversation_id: m.conversation_id,
            message_id: m.message_id,
            rating: m.rating,
            comment: m.comment,
            created_at: m.created_at,
        }
    }
}
