//! Sealed tenant secrets as stored (`tria-secrets` seals and opens them).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity;

/// One sealed secret: which key sealed it, the nonce, the ciphertext, and the hint admins see.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantSecret {
    pub tenant_id: Uuid,
    pub name: String,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub hint: String,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::tenant_secret::Model> for TenantSecret {
    fn from(m: entity::tenant_secret::Model) -> Self {
        Self {
            tenant_id: m.tenant_id,
            name: m.name,
            key_id: m.key_id,
            nonce: m.nonce,
            ciphertext: m.ciphertext,
            hint: m.hint,
            updated_at: m.updated_at,
        }
    }
}
