//! The configuration exactly as written in files and environment, before validation.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: String,
    pub data_dir: String,
    pub fixtures_dir: String,
    pub models_dir: String,
    pub server: RawServer,
    pub database: RawDatabase,
    pub cache: RawCache,
    pub embedding: RawEmbedding,
    pub llm: RawLlm,
    pub seed: RawSeed,
    pub limits: RawLimits,
    #[serde(default)]
    pub integrations: RawIntegrations,
    #[serde(default)]
    pub knowledge: crate::knowledge::RawKnowledge,
    #[serde(default)]
    pub import: crate::import::RawImport,
    #[serde(default)]
    pub intent: crate::intent::RawIntent,
    #[serde(default)]
    pub secrets: crate::secrets::RawSecrets,
    #[serde(default)]
    pub retention: crate::retention::RawRetention,
}

/// `[integrations.*]`: every external system is off unless configured.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIntegrations {
    pub xero: RawXero,
    /// The Xero app tenants connect their own organisations to.
    pub xero_app: crate::xero_app::RawXeroApp,
    pub slack: RawSlack,
    pub gorgias: RawGorgias,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawXero {
    pub enabled: bool,
    /// Start an in-process loopback fake of Xero and invoice into it (demo, tests).
    pub fake: bool,
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub xero_tenant_id: String,
    pub sales_account_code: String,
    pub timeout_ms: u64,
    pub poll_ms: u64,
    pub max_attempts: u32,
}

impl Default for RawXero {
    fn default() -> Self {
        Self {
            enabled: false,
            fake: false,
            base_url: "https://api.xero.com/api.xro/2.0".into(),
            token_url: "https://identity.xero.com/connect/token".into(),
            client_id: String::new(),
            client_secret: String::new(),
            xero_tenant_id: String::new(),
            sales_account_code: "200".into(),
            timeout_ms: 10_000,
            poll_ms: 2_000,
            max_attempts: 8,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSlack {
    pub webhook_url: String,
    pub signing_secret: String,
    /// The tenant (slug) whose people work in the Slack workspace the events come from.
    pub tenant: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGorgias {
    /// `https://{account}.gorgias.com/api`.
    pub base_url: String,
    pub username: String,
    pub api_key: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_in_flight: u32,
    pub max_queue: u32,
    pub queue_timeout_ms: u64,
    #[serde(deserialize_with = "number_or_text")]
    pub tenant_per_second: f64,
    pub tenant_burst: u32,
    /// Per-customer rate within a tenant (0 = off).
    #[serde(default, deserialize_with = "number_or_text")]
    pub customer_per_second: f64,
    #[serde(default = "default_customer_burst")]
    pub customer_burst: u32,
    /// Per-tenant LLM spend budgets (0 = off), fixed UTC hour and calendar-month windows.
    #[serde(default)]
    pub tenant_tokens_per_hour: u64,
    #[serde(default, deserialize_with = "number_or_text")]
    pub tenant_usd_per_hour: f64,
    #[serde(default)]
    pub tenant_tokens_per_month: u64,
    #[serde(default, deserialize_with = "number_or_text")]
    pub tenant_usd_per_month: f64,
    pub shared_via_redis: bool,
    /// The share of `max_in_flight` (and of the queue) one tenant may hold, 0 < share ≤ 1.
    #[serde(default = "default_tenant_share", deserialize_with = "number_or_text")]
    pub tenant_share: f64,
    /// The share one publishable widget key may hold.
    #[serde(default = "default_widget_key_share", deserialize_with = "number_or_text")]
    pub widget_key_share: f64,
    /// Chat requests open at once on one connection (their replies not yet complete).
    #[serde(default = "default_max_chats_per_connection")]
    pub max_chats_per_connection: u32,
    /// Chat requests open at once through one API key.
    #[serde(default = "default_max_chats_per_key")]
    pub max_chats_per_key: u32,
}

fn default_tenant_share() -> f64 {
    0.5
}

fn default_widget_key_share() -> f64 {
    0.25
}

fn default_max_chats_per_connection() -> u32 {
    8
}

fn default_max_chats_per_key() -> u32 {
    256
}

fn default_idle_timeout_ms() -> u64 {
    60_000
}

fn default_write_timeout_ms() -> u64 {
    30_000
}

fn default_max_streams_per_connection() -> u32 {
    100
}

fn default_auth_cache_ttl_ms() -> u64 {
    2000
}

fn default_body_read_timeout_ms() -> u64 {
    10_000
}

fn default_customer_burst() -> u32 {
    10
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub body_limit_bytes: u64,
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    /// How long a chat request's body may take to arrive before it is answered 408.
    #[serde(default = "default_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    pub drain_timeout_ms: u64,
    /// A connection with no request in flight this long is closed.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// A response the client has not taken for this long closes its connection.
    #[serde(default = "default_write_timeout_ms")]
    pub write_timeout_ms: u64,
    /// Open connections at most (0: 80 % of the file-descriptor limit).
    #[serde(default)]
    pub max_connections: u32,
    /// HTTP/2 streams per connection at most.
    #[serde(default = "default_max_streams_per_connection")]
    pub max_streams_per_connection: u32,
    /// How long a verified API key (and its tenant) is trusted before the store is asked again.
    #[serde(default = "default_auth_cache_ttl_ms")]
    pub auth_cache_ttl_ms: u64,
    /// A second address serving only health and metrics on a thread of its own ("" = off).
    #[serde(default)]
    pub ops_listen: String,
    pub log_format: String,
    pub log_filter: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_lifetime_ms: u64,
    /// PostgreSQL only: connections holding conversations' turn locks, beyond the pool.
    #[serde(default = "default_turn_lock_connections")]
    pub turn_lock_connections: u32,
    /// The longest a turn waits for its conversation's lock before it is refused as busy.
    #[serde(default = "default_turn_lock_wait_ms")]
    pub turn_lock_wait_ms: u64,
}

fn default_turn_lock_connections() -> u32 {
    32
}

fn default_turn_lock_wait_ms() -> u64 {
    30_000
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub redis_url: String,
    pub redis_pool_size: u32,
    pub redis_timeout_ms: u64,
    pub probe_interval_ms: u64,
    pub memory_bytes: u64,
    pub l1_bytes: u64,
    pub l1_enabled: bool,
    pub l1_ttl_secs: u64,
    pub l2_enabled: bool,
    pub l2_ttl_secs: u64,
    pub l3_enabled: bool,
    pub l3_ttl_secs: u64,
    #[serde(deserialize_with = "number_or_text")]
    pub l3_threshold: f64,
    #[serde(deserialize_with = "number_or_text")]
    pub l3_evidence_threshold: f64,
    #[serde(deserialize_with = "number_or_text")]
    pub l3_evidence_agreement: f64,
    pub l3_max_entries_per_tenant: u64,
    pub l4_enabled: bool,
    pub l4_intent_ttl_secs: u64,
    pub l4_retrieval_ttl_secs: u64,
    pub l4_embedding_ttl_secs: u64,
    pub context_turns: u32,
    #[serde(deserialize_with = "number_or_text")]
    pub price_per_1k_tokens: f64,
}

/// A float from a file, or from an environment variable (which arrives as text).
pub(crate) fn number_or_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Float(f64),
        Int(i64),
        Text(String),
    }
    match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Float(f) => Ok(f),
        NumberOrText::Int(i) => Ok(i as f64),
        NumberOrText::Text(t) => t.trim().parse().map_err(|_| serde::de::Error::custom(format!("`{t}` is not a number"))),
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmbedding {
    pub provider: String,
    #[serde(default)]
    pub required: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLlm {
    pub provider: String,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    /// Azure only: the `api-version` query parameter (empty: the client's default).
    #[serde(default)]
    pub api_version: String,
    /// Azure only: the deployment to call (empty: `model`).
    #[serde(default)]
    pub deployment: String,
    pub timeout_ms: u64,
    /// A chat turn's whole deadline: LLM calls stop in time for the grounded reply.
    #[serde(default = "default_turn_deadline_ms")]
    pub turn_deadline_ms: u64,
    /// A streamed reply's first token (and each next one) must come within this.
    #[serde(default = "default_first_token_deadline_ms")]
    pub first_token_deadline_ms: u64,
    /// How long a provider's open circuit breaker sends turns to the fallback before probing.
    #[serde(default = "default_breaker_cool_down_ms")]
    pub breaker_cool_down_ms: u64,
    /// `[[llm.failover]]`: providers asked in order when the one before is held back or fails.
    #[serde(default)]
    pub failover: Vec<crate::llm_failover::RawLlmEndpoint>,
    /// `[llm.prices."<model>"]`: dollars per million tokens over the built-in price table.
    #[serde(default)]
    pub prices: BTreeMap<String, crate::llm_prices::RawModelPrice>,
}

fn default_turn_deadline_ms() -> u64 {
    8_000
}

fn default_first_token_deadline_ms() -> u64 {
    3_000
}

fn default_breaker_cool_down_ms() -> u64 {
    10_000
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeed {
    pub demo_on_empty: bool,
    pub log_demo_keys: bool,
    #[serde(default)]
    pub demo_keys: BTreeMap<String, String>,
    #[serde(default)]
    pub widget_keys: BTreeMap<String, String>,
}
