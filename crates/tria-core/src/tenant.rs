//! What the rest of the system knows about the tenant a request acts for.

use serde::{Deserialize, Serialize};

use crate::TenantId;

/// How a tenant wants its assistant to sound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToneStyle {
    #[default]
    Friendly,
    Formal,
    Concise,
}

/// The tenant's voice: style plus the few phrases that make it recognisable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToneProfile {
    #[serde(default)]
    pub style: ToneStyle,
    #[serde(default)]
    pub persona: String,
    #[serde(default)]
    pub greeting: String,
    #[serde(default)]
    pub sign_off: String,
}

/// The role an API key grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiRole {
    /// Acts for exactly one tenant.
    Tenant,
    /// Operates the deployment (`/admin/*`).
    Admin,
    /// A publishable web-widget key: acts for one tenant, may only chat in sessions it opened.
    Widget,
    /// A BPO operator: the console, across the tenants assigned to the key (`operator_tenants`).
    Operator,
}

impl ApiRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Tenant => "tenant",
            ApiRole::Admin => "admin",
            ApiRole::Widget => "widget",
            ApiRole::Operator => "operator",
        }
    }

    /// Whether keys of this role belong to exactly one tenant (`api_keys.tenant_id`).
    pub fn has_tenant(self) -> bool {
        matches!(self, ApiRole::Tenant | ApiRole::Widget)
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tenant" => Some(ApiRole::Tenant),
            "admin" => Some(ApiRole::Admin),
            "widget" => Some(ApiRole::Widget),
            "operator" => Some(ApiRole::Operator),
            _ => None,
        }
    }
}

/// The authenticated tenant a request acts for; every tenant-owned read takes one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantContext {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub tone: ToneProfile,
    /// Free-form tenant settings (support hours, thresholds …) as stored.
    pub settings: serde_json::Value,
}
