//! Layered configuration: `config/default.toml` < `config/{profile}.toml` < `--config FILE` <
//! `TRIA_*` environment < CLI flags, parsed into [`RawSettings`] and validated into [`Settings`].
//! Tests pass environment maps in directly; nothing here reads process state on its own.

mod import;
mod intent;
mod knowledge;
mod layers;
mod llm_failover;
mod llm_prices;
mod raw;
mod retention;
mod secrets;
mod settings;
mod xero_app;

pub use import::{ImportSettings, RawImport};
pub use intent::{IntentSettings, RawIntent};
pub use knowledge::{KnowledgeSettings, RawKnowledge};
pub use layers::{ConfigSources, DEFAULT_PROFILE, load};
pub use llm_failover::{LlmEndpoint, MAX_FAILOVER, RawLlmEndpoint};
pub use llm_prices::{ModelPriceSetting, RawModelPrice};
pub use raw::RawSettings;
pub use retention::{MAX_RETENTION_DAYS, RawRetention, RetentionSettings};
pub use secrets::{RawSecrets, RedactedText, SecretsSettings};
pub use settings::{
    CacheSettings, DatabaseSettings, EmbeddingProvider, GorgiasSettings, IntegrationSettings, LimitSettings, LlmProvider, LlmSettings,
    LogFormat, SeedSettings, ServerSettings, Settings, SlackSettings, XeroSettings, XeroTarget,
};
pub use xero_app::{RawXeroApp, XeroAppSettings};

/// Why configuration could not be loaded; the message names the offending key or file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("unknown profile `{0}`: no config/{0}.toml")]
    UnknownProfile(String),
    #[error("invalid config: {key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        // Messages from serde/toml may span lines; a config error is one log line.
        let message: String = message.into();
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        ConfigError::Invalid { key: key.into(), message }
    }
}
