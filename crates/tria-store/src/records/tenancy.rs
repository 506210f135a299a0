//! Policies, daily usage, ticket links and API keys.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::entity;

/// A tenant's policy document (its chunks are `PolicyChunk`s).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDocument {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub title: String,
    pub source_path: String,
    /// Hex SHA-256 of the Markdown; unchanged documents are not re-chunked or re-embedded.
    pub content_hash: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::policy_document::Model> for PolicyDocument {
    fn from(m: entity::policy_document::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            title: m.title,
            source_path: m.source_path,
            content_hash: m.content_hash,
            version: m.version,
            updated_at: m.updated_at,
        }
    }
}

/// One retrievable section of a policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyChunk {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub document_id: Uuid,
    pub ordinal: i32,
    /// Headings from the document root to this chunk, joined with ` › `.
    pub heading_path: String,
    pub text: String,
    pub token_count: i32,
    /// Little-endian f32 vector, `None` until indexed.
    pub embedding: Option<Vec<u8>>,
    pub embedding_model: Option<String>,
}

impl From<entity::policy_chunk::Model> for PolicyChunk {
    fn from(m: entity::policy_chunk::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            document_id: m.document_id,
            ordinal: m.ordinal,
            heading_path: m.heading_path,
            text: m.text,
            token_count: m.token_count,
            embedding: m.embedding,
            embedding_model: m.embedding_model,
        }
    }
}

/// A tenant's usage on one UTC day.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyUsage {
    pub tenant_id: Uuid,
    pub day: NaiveDate,
    /// Customer messages answered (a hand-off notice counts too).
    pub messages: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
    pub cache_l1: i64,
    pub cache_l2: i64,
    pub cache_l3: i64,
    /// LLM tokens cache hits did not spend.
    pub tokens_saved: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::tenant_usage_daily::Model> for DailyUsage {
    fn from(m: entity::tenant_usage_daily::Model) -> Self {
        Self {
            tenant_id: m.tenant_id,
            day: m.day,
            messages: m.messages,
            tokens_in: m.tokens_in,
            tokens_out: m.tokens_out,
            cost_usd: m.cost_usd,
            cache_l1: m.cache_l1,
            cache_l2: m.cache_l2,
            cache_l3: m.cache_l3,
            tokens_saved: m.tokens_saved,
            updated_at: m.updated_at,
        }
    }
}

/// A helpdesk ticket linked to a conversation, customer or Slack message.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketLink {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The helpdesk's ticket id.
    pub ticket_ref: String,
    /// `slack`, `handoff`, …
    pub source: String,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
    pub conversation_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub escalation_id: Option<Uuid>,
    /// `open` or `closed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::ticket_link::Model> for TicketLink {
    fn from(m: entity::ticket_link::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            ticket_ref: m.ticket_ref,
            source: m.source,
            slack_channel: m.slack_channel,
            slack_ts: m.slack_ts,
            conversation_id: m.conversation_id,
            customer_id: m.customer_id,
            escalation_id: m.escalation_id,
            status: m.status,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// An API key's stored row (never the key itself).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKeyRow {
    pub id: Uuid,
    /// `None` for admin keys.
    pub tenant_id: Option<Uuid>,
    /// First characters of the key, indexed, to find candidates without scanning.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
    pub role: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<entity::api_key::Model> for ApiKeyRow {
    fn from(m: entity::api_key::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            prefix: m.prefix,
            key_hash: m.key_hash,
            role: m.role,
            label: m.label,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}
