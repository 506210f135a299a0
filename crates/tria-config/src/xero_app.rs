//! `[integrations.xero_app]`: the BPO's one Xero app, which each tenant authorizes for its own
//! organisation (OAuth 2.0 authorization code; issue 25). Off unless `enabled`; the
//! deployment-wide `[integrations.xero]` (a custom connection) stays a separate option.

use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;
use crate::secrets::RedactedText;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawXeroApp {
    pub enabled: bool,
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revocation_url: String,
    pub connections_url: String,
    pub api_base_url: String,
    /// This deployment's `https://…/integrations/xero/callback`, as registered with the app.
    pub redirect_uri: String,
    pub scopes: String,
    pub sales_account_code: String,
    pub timeout_ms: u64,
}

impl Default for RawXeroApp {
    fn default() -> Self {
        Self {
            enabled: false,
            client_id: String::new(),
            client_secret: String::new(),
            authorize_url: "https://login.xero.com/identity/connect/authorize".into(),
            token_url: "https://identity.xero.com/connect/token".into(),
            revocation_url: "https://identity.xero.com/connect/revocation".into(),
            connections_url: "https://api.xero.com/connections".into(),
            api_base_url: "https://api.xero.com/api.xro/2.0".into(),
            redirect_uri: String::new(),
            scopes: "offline_access accounting.transactions accounting.contacts".into(),
            sales_account_code: "200".into(),
            timeout_ms: 10_000,
        }
    }
}

/// Validated `[integrations.xero_app]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XeroAppSettings {
    pub client_id: String,
    pub client_secret: RedactedText,
    pub authorize_url: String,
    pub token_url: String,
    pub revocation_url: String,
    pub connections_url: String,
    pub api_base_url: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub sales_account_code: Option<String>,
    pub timeout: Duration,
}

/// An absolute http(s) URL with a host (the server parses it again at start).
fn url(key: &str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace) => Ok(value.to_owned()),
        _ => Err(ConfigError::invalid(key, "must be an absolute http(s) URL")),
    }
}

pub(crate) fn validate_xero_app(raw: &RawXeroApp) -> Result<Option<XeroAppSettings>, ConfigError> {
    if !raw.enabled {
        return Ok(None);
    }
    for (key, value) in [
        ("integrations.xero_app.client_id", &raw.client_id),
        ("integrations.xero_app.client_secret", &raw.client_secret),
        ("integrations.xero_app.redirect_uri", &raw.redirect_uri),
    ] {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(key, "must be set when integrations.xero_app.enabled"));
        }
    }
    if !raw.scopes.split_whitespace().any(|s| s == "offline_access") {
        return Err(ConfigError::invalid("integrations.xero_app.scopes", "must include offline_access (no refresh token without it)"));
    }
    if raw.timeout_ms < 100 {
        return Err(ConfigError::invalid("integrations.xero_app.timeout_ms", format!("must be at least 100 ms (got {})", raw.timeout_ms)));
    }
    Ok(Some(XeroAppSettings {
        client_id: raw.client_id.trim().to_owned(),
        client_secret: RedactedText(raw.client_secret.trim().to_owned()),
        authorize_url: url("integrations.xero_app.authorize_url", &raw.authorize_url)?,
        token_url: url("integrations.xero_app.token_url", &raw.token_url)?,
        revocation_url: url("integrations.xero_app.revocation_url", &raw.revocation_url)?,
        connections_url: url("integrations.xero_app.connections_url", &raw.connections_url)?,
        api_base_url: url("integrations.xero_app.api_base_url", &raw.api_base_url)?,
        redirect_uri: url("integrations.xero_app.redirect_uri", &raw.redirect_uri)?,
        scopes: raw.scopes.split_whitespace().collect::<Vec<_>>().join(" "),
        sales_account_code: Some(raw.sales_account_code.trim().to_owned()).filter(|c| !c.is_empty()),
        timeout: Duration::from_millis(raw.timeout_ms),
    }))
}

#[cfg(test)]
mod tests {
    use crate::{ConfigSources, load};

    fn env(pairs: &[(&str, &str)]) -> ConfigSources {
        ConfigSources { env: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), ..ConfigSources::default() }
    }

    const ON: [(&str, &str); 4] = [
        ("TRIA_INTEGRATIONS__XERO_APP__ENABLED", "true"),
        ("TRIA_INTEGRATIONS__XERO_APP__CLIENT_ID", "app-id"),
        ("TRIA_INTEGRATIONS__XERO_APP__CLIENT_SECRET", "app-secret-value"),
        ("TRIA_INTEGRATIONS__XERO_APP__REDIRECT_URI", "https://tria.example.com/integrations/xero/callback"),
    ];

    #[test]
    fn the_xero_app_is_off_by_default_and_validated_when_on() {
        assert!(load(&env(&[])).expect("default").integrations.xero_app.is_none());
        let app = load(&env(&ON)).expect("valid").integrations.xero_app.expect("on");
        assert_eq!(app.client_id, "app-id");
        assert_eq!(app.token_url, "https://identity.xero.com/connect/token");
        assert!(!format!("{app:?}").contains("app-secret-value"), "the secret is redacted");
        let err = load(&env(&ON[..3])).expect_err("redirect_uri is required");
        assert!(err.to_string().contains("integrations.xero_app.redirect_uri"), "{err}");
        let mut bad = ON.to_vec();
        bad.push(("TRIA_INTEGRATIONS__XERO_APP__TOKEN_URL", "identity.xero.com/connect/token"));
        let err = load(&env(&bad)).expect_err("not a URL");
        assert!(err.to_string().contains("integrations.xero_app.token_url"), "{err}");
        let mut bad = ON.to_vec();
        bad.push(("TRIA_INTEGRATIONS__XERO_APP__SCOPES", "accounting.transactions"));
        assert!(load(&env(&bad)).expect_err("no offline_access").to_string().contains("offline_access"));
    }
}
