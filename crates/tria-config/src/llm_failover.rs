//! `[[llm.failover]]`: the deployment's providers after `[llm]`'s, in order. A turn asks the
//! next one when the one before is held back (breaker open, 429) or fails within the turn's
//! deadline; tenants without an LLM of their own use this list (see docs/OPERATIONS.md).

use serde::Deserialize;

use crate::ConfigError;
use crate::settings::LlmProvider;

/// One failover entry as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLlmEndpoint {
    pub provider: String,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub api_key: String,
    /// Azure only: the deployment (empty: `model`).
    #[serde(default)]
    pub deployment: String,
    /// Azure only: the `api-version` (empty: the client's default).
    #[serde(default)]
    pub api_version: String,
}

/// One validated failover entry: the same fields as `[llm]`'s provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmEndpoint {
    pub provider: LlmProvider,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub deployment: String,
    pub api_version: String,
}

/// At most this many entries after `[llm]`'s provider.
pub const MAX_FAILOVER: usize = 3;

pub(crate) fn validate_failover(entries: &[RawLlmEndpoint], primary: LlmProvider) -> Result<Vec<LlmEndpoint>, ConfigError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    if primary == LlmProvider::Offline {
        return Err(ConfigError::invalid("llm.failover", "needs llm.provider to name a provider (it is `offline`)"));
    }
    if entries.len() > MAX_FAILOVER {
        return Err(ConfigError::invalid("llm.failover", format!("at most {MAX_FAILOVER} entries (got {})", entries.len())));
    }
    entries.iter().enumerate().map(|(i, e)| validate_entry(&format!("llm.failover[{i}]"), e)).collect()
}

fn validate_entry(key: &str, e: &RawLlmEndpoint) -> Result<LlmEndpoint, ConfigError> {
    let provider = match e.provider.as_str() {
        "openai" => LlmProvider::OpenAi,
        "azure" => LlmProvider::Azure,
        "anthropic" => LlmProvider::Anthropic,
        other => {
            return Err(ConfigError::invalid(
                format!("{key}.provider"),
                format!("must be `openai`, `azure` or `anthropic` (got `{other}`)"),
            ));
        }
    };
    let http_url = e.base_url.starts_with("http://") || e.base_url.starts_with("https://");
    let named = |field: &str, value: &str| -> Result<(), ConfigError> {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(format!("{key}.{field}"), format!("is required for provider \"{}\"", e.provider)));
        }
        Ok(())
    };
    match provider {
        LlmProvider::Anthropic if !(e.base_url.is_empty() || http_url) => {
            return Err(ConfigError::invalid(format!("{key}.base_url"), "must be empty (https://api.anthropic.com) or an http(s) URL"));
        }
        LlmProvider::Anthropic => named("api_key", &e.api_key)?,
        _ if !http_url => return Err(ConfigError::invalid(format!("{key}.base_url"), "must be an http(s) URL")),
        LlmProvider::Azure => {
            named("api_key", &e.api_key)?;
            named("deployment", if e.deployment.trim().is_empty() { &e.model } else { &e.deployment })?;
        }
        _ => {}
    }
    named("model", &e.model)?;
    Ok(LlmEndpoint {
        provider,
        base_url: e.base_url.clone(),
        model: e.model.clone(),
        api_key: e.api_key.clone(),
        deployment: e.deployment.trim().to_owned(),
        api_version: e.api_version.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(provider: &str, base_url: &str, model: &str, api_key: &str) -> RawLlmEndpoint {
        RawLlmEndpoint {
            provider: provider.into(),
            base_url: base_url.into(),
            model: model.into(),
            api_key: api_key.into(),
            deployment: String::new(),
            api_version: String::new(),
        }
    }

    #[test]
    fn entries_are_checked_like_the_primary_and_named_by_index() {
        let ok = validate_failover(
            &[entry("anthropic", "", "claude-3-5-haiku", "k"), entry("openai", "http://127.0.0.1:8090/v1", "gpt-4o-mini", "")],
            LlmProvider::OpenAi,
        )
        .expect("valid");
        assert_eq!((ok[0].provider, ok[1].provider), (LlmProvider::Anthropic, LlmProvider::OpenAi));
        let err = validate_failover(&[entry("openai", "http://x/v1", "m", ""), entry("bedrock", "", "m", "")], LlmProvider::OpenAi)
            .expect_err("unknown provider");
        assert!(err.to_string().contains("llm.failover[1].provider"), "{err}");
        let err = validate_failover(&[entry("anthropic", "", "m", "")], LlmProvider::OpenAi).expect_err("no key");
        assert!(err.to_string().contains("llm.failover[0].api_key"), "{err}");
        let err = validate_failover(&[entry("openai", "ftp://x", "m", "")], LlmProvider::OpenAi).expect_err("not http");
        assert!(err.to_string().contains("llm.failover[0].base_url"), "{err}");
        let err = validate_failover(&[entry("openai", "http://x/v1", "m", "")], LlmProvider::Offline).expect_err("offline primary");
        assert!(err.to_string().contains("llm.failover"), "{err}");
        let many = vec![entry("openai", "http://x/v1", "m", ""); MAX_FAILOVER + 1];
        assert!(validate_failover(&many, LlmProvider::OpenAi).is_err());
    }
}
