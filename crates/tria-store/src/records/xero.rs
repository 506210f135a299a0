//! Per-tenant Xero connections and pending authorizations as stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::entity;

/// A tenant's Xero connection. Never carries a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XeroConnection {
    pub tenant_id: Uuid,
    /// Xero's connection id (`DELETE /connections/{id}` disconnects it).
    pub connection_id: String,
    /// The organisation, sent as `xero-tenant-id`.
    pub xero_tenant_id: String,
    pub org_name: String,
    /// `connected` or `revoked`.
    pub status: String,
    /// The OAuth client the tokens were issued to (the app's, or the tenant's own).
    pub client_id: String,
    /// Bumped by every persisted refresh: a refresh may start only from the generation it read.
    pub token_generation: i64,
    pub refresh_holder: Option<String>,
    pub refresh_lease_until: Option<DateTime<Utc>>,
    pub connected_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl XeroConnection {
    pub const CONNECTED: &'static str = "connected";
    pub const REVOKED: &'static str = "revoked";

    pub fn is_connected(&self) -> bool {
        self.status == Self::CONNECTED
    }
}

impl From<entity::xero_connection::Model> for XeroConnection {
    fn from(m: entity::xero_connection::Model) -> Self {
        Self {
            tenant_id: m.tenant_id,
            connection_id: m.connection_id,
            xero_tenant_id: m.xero_tenant_id,
            org_name: m.org_name,
            status: m.status,
            client_id: m.client_id,
            token_generation: m.token_generation,
            refresh_holder: m.refresh_holder,
            refresh_lease_until: m.refresh_lease_until,
            connected_at: m.connected_at,
            revoked_at: m.revoked_at,
            updated_at: m.updated_at,
        }
    }
}

/// A pending authorization, as taken (deleted) by the callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XeroConnectState {
    pub state_hash: String,
    pub tenant_id: Uuid,
    pub organisation: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<entity::xero_connect_state::Model> for XeroConnectState {
    fn from(m: entity::xero_connect_state::Model) -> Self {
        Self {
            state_hash: m.state_hash,
            tenant_id: m.tenant_id,
            organisation: m.organisation,
            expires_at: m.expires_at,
            created_at: m.created_at,
        }
    }
}
