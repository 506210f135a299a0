//! What the rest of the system knows about the tenant a request acts for.

use serde::{Deserialize, Serialize};

use crate::TenantId;

/// How a tenant wants its assistant to sound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ToneStyle {
    #[default]
    Friendly,
    Formal,
    Concise,
}

/// The tenant's voice: style plus the few phrases that make it recognisable.
// Every field may be left out (the `Deserialize` impl below); in the OpenAPI document (feature
// `openapi`) the schema is `Tone`, as the admin API has always called it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Tone))]
pub struct ToneProfile {
    #[cfg_attr(feature = "openapi", schema(required = false))]
    pub style: ToneStyle,
    #[cfg_attr(feature = "openapi", schema(required = false, schema_with = crate::openapi::customer_facing_text))]
    pub persona: String,
    #[cfg_attr(feature = "openapi", schema(required = false, schema_with = crate::openapi::customer_facing_text))]
    pub greeting: String,
    #[cfg_attr(feature = "openapi", schema(required = false, schema_with = crate::openapi::customer_facing_text))]
    pub sign_off: String,
}

/// The fields of a [`ToneProfile`], each optional.
#[derive(Deserialize)]
struct ToneFields {
    #[serde(default)]
    style: ToneStyle,
    #[serde(default)]
    persona: String,
    #[serde(default)]
    greeting: String,
    #[serde(default)]
    sign_off: String,
}

/// A tone is an object (a map) only. serde's derived impl also takes a sequence, by field
/// order, so `"tone": []` became the default tone and a PATCH that meant nothing of the sort
/// was accepted with 200.
impl<'de> Deserialize<'de> for ToneProfile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ToneFields { style, persona, greeting, sign_off } =
            crate::json_object::deserialize_object(deserializer, "an object with style, persona, greeting and sign_off")?;
        Ok(Self { style, persona, greeting, sign_off })
    }
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

#[cfg(test)]
mod tone_tests {
    use super::{ToneProfile, ToneStyle};

    #[test]
    fn a_tone_is_read_from_an_object_with_defaults_and_never_from_an_array() {
        let tone: ToneProfile = serde_json::from_str(r#"{"style":"formal","persona":"Ada"}"#).expect("object");
        assert_eq!((tone.style, tone.persona.as_str(), tone.greeting.as_str()), (ToneStyle::Formal, "Ada", ""));
        assert_eq!(serde_json::from_str::<ToneProfile>("{}").expect("empty object"), ToneProfile::default());
        for bad in ["[]", r#"["formal","Ada"]"#, "null", "\"formal\"", "3"] {
            assert!(serde_json::from_str::<ToneProfile>(bad).is_err(), "{bad} must not read as a tone");
        }
        let round = ToneProfile { style: ToneStyle::Concise, persona: "P".into(), greeting: "Hi".into(), sign_off: "Bye".into() };
        assert_eq!(serde_json::from_str::<ToneProfile>(&serde_json::to_string(&round).expect("ser")).expect("de"), round);
    }
}
