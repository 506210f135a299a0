//! The audit log's entries.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity;

/// One admin or operator action, as recorded.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// Position in the log (ascending); the paging cursor.
    pub seq: i64,
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tenant: Option<String>,
    /// The API key that acted (`None`: the server itself, e.g. a start-up task).
    pub actor_key_id: Option<Uuid>,
    /// `admin`, `operator`, or `system`.
    pub actor_role: String,
    /// What was done, e.g. `customer.erased`, `key.created`.
    pub action: String,
    /// What it was done to: a key id, a document id, a customer number, ….
    pub target: String,
    pub request_id: String,
    /// Action-specific facts (never secrets or message text).
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<entity::audit_log::Model> for AuditEntry {
    fn from(m: entity::audit_log::Model) -> Self {
        Self {
            seq: m.seq,
            id: m.id,
            tenant_id: m.tenant_id,
            tenant: m.tenant_slug,
            actor_key_id: m.actor_key_id,
            actor_role: m.actor_role,
            action: m.action,
            target: m.target,
            request_id: m.request_id,
            details: m.details,
            created_at: m.created_at,
        }
    }
}
