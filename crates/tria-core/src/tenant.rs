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
}

impl ApiRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Tenant => "tenant",
            ApiRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tenant" => Some(ApiRole::Tenant),
            "admin" => Some(ApiRole::Admin),
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
