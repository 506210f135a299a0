//! Validated, typed settings that the binaries build components from.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ConfigError;
use crate::raw::{RawCache, RawDatabase, RawEmbedding, RawLimits, RawLlm, RawSeed, RawServer, RawSettings};

#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub fixtures_dir: PathBuf,
    pub models_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub cache: CacheSettings,
    pub embedding: EmbeddingProvider,
    /// `embedding.required`: without the model loaded, `/health/ready` answers 503 naming it
    /// (production), instead of serving BM25 and rule intents as `degraded` (dev, tests).
    pub embedding_required: bool,
    pub llm: LlmSettings,
    pub seed: SeedSettings,
    pub limits: LimitSettings,
    pub integrations: IntegrationSettings,
    pub knowledge: crate::knowledge::KnowledgeSettings,
    pub import: crate::import::ImportSettings,
    pub intent: crate::intent::IntentSettings,
    pub secrets: crate::secrets::SecretsSettings,
    pub retention: crate::retention::RetentionSettings,
}

/// Overload protection: the chat concurrency gate and per-tenant request rates.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    pub max_in_flight: usize,
    pub max_queue: usize,
    pub queue_timeout: Duration,
    /// 0 turns the per-tenant limit off.
    pub tenant_per_second: f64,
    pub tenant_burst: u32,
    /// Per-customer (`customer_id` / OpenAI `user`) rate within a tenant; 0 turns it off.
    pub customer_per_second: f64,
    pub customer_burst: u32,
    /// Per-tenant LLM spend budgets per UTC hour and calendar month; 0 turns each off.
    pub tenant_tokens_per_hour: u64,
    pub tenant_usd_per_hour: f64,
    pub tenant_tokens_per_month: u64,
    pub tenant_usd_per_month: f64,
    /// Share limits between instances through `cache.redis_url` when it is set.
    pub shared_via_redis: bool,
    /// The share of the chat gate one tenant may hold (0 < share ≤ 1).
    pub tenant_share: f64,
    /// The share of the chat gate one publishable widget key may hold (0 < share ≤ 1).
    pub widget_key_share: f64,
    /// Chat requests open at once on one connection.
    pub max_chats_per_connection: usize,
    /// Chat requests open at once through one API key.
    pub max_chats_per_key: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    /// How long a chat request's body may take to arrive (read before it takes a gate slot);
    /// slower clients get 408.
    pub body_read_timeout: Duration,
    pub drain_timeout: Duration,
    /// A connection with no request in flight this long is closed.
    pub idle_timeout: Duration,
    /// A response the client has not taken for this long closes its connection.
    pub write_timeout: Duration,
    /// Open connections at most; 0: 80 % of the file-descriptor limit.
    pub max_connections: usize,
    /// HTTP/2 streams per connection at most.
    pub max_streams_per_connection: u32,
    /// How long a verified API key and its tenant are reused without asking the store: a key
    /// revoked or a tenant changed through another instance (or the CLI) takes up to this long
    /// to be seen here; through this instance's admin API at once. Zero: every request asks.
    pub auth_cache_ttl: Duration,
    /// Health and metrics only, served on a dedicated thread so probes and scrapes never queue
    /// behind user traffic. `None` when off.
    pub ops_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub log_filter: String,
}

#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    /// Always a full URL: an empty setting becomes an SQLite file under `data_dir`.
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// PostgreSQL: at most this many conversations have a turn in progress on this replica
    /// (one advisory-lock connection each); SQLite locks turns in process.
    pub turn_lock_connections: u32,
    /// How long a turn waits for its conversation (earlier turns here or on another replica,
    /// a free lock connection) before it is refused with 503 `overloaded`.
    pub turn_lock_wait: Duration,
}

#[derive(Clone, Debug)]
pub struct CacheSettings {
    pub redis_url: Option<String>,
    pub redis_pool_size: usize,
    pub redis_timeout: Duration,
    pub probe_interval: Duration,
    pub memory_bytes: u64,
    pub l1_bytes: u64,
    pub l1_enabled: bool,
    pub l1_ttl: Duration,
    pub l2_enabled: bool,
    pub l2_ttl: Duration,
    pub l3_enabled: bool,
    pub l3_ttl: Duration,
    /// Cosine similarity in (0, 1] that is enough on its own.
    pub l3_threshold: f32,
    /// The lower cosine, in (0, `l3_threshold`], that is enough when both messages select the
    /// same answer evidence (policy sentences, products).
    pub l3_evidence_threshold: f32,
    /// How much the evidence must agree for that, in [0, 1]; above 1 turns the evidence rule off.
    pub l3_evidence_agreement: f32,
    pub l3_max_entries_per_tenant: usize,
    pub l4_enabled: bool,
    pub l4_intent_ttl: Duration,
    pub l4_retrieval_ttl: Duration,
    pub l4_embedding_ttl: Duration,
    pub context_turns: usize,
    pub price_per_1k_tokens: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddingProvider {
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlmProvider {
    Offline,
    OpenAi,
    /// Azure OpenAI: `base_url` is the resource endpoint; `deployment` (or `model`), `api_version`.
    Azure,
    /// Anthropic's Messages API (`base_url` empty: https://api.anthropic.com).
    Anthropic,
}

#[derive(Clone, Debug)]
pub struct LlmSettings {
    pub provider: LlmProvider,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    /// Azure's `api-version`; empty: the client's default.
    pub api_version: String,
    /// Azure's deployment; empty: `model`.
    pub deployment: String,
    pub timeout: Duration,
    /// `llm.turn_deadline_ms`: every LLM call of a turn ends in time for the grounded reply.
    pub turn_deadline: Duration,
    /// `llm.first_token_deadline_ms`: a stream's first token, and each next one, within this.
    pub first_token_deadline: Duration,
    /// `llm.breaker_cool_down_ms`: an open provider breaker's wait before a probe call.
    pub breaker_cool_down: Duration,
    /// `[[llm.failover]]`: the providers after this one, in order.
    pub failover: Vec<crate::llm_failover::LlmEndpoint>,
    /// `[llm.prices."<model>"]`: the deployment's prices over the built-in table.
    pub prices: std::collections::BTreeMap<String, crate::llm_prices::ModelPriceSetting>,
}

/// External systems; each is `None` when not configured.
#[derive(Clone, Debug, Default)]
pub struct IntegrationSettings {
    pub xero: Option<XeroSettings>,
    /// The Xero app each tenant connects its own organisation to (`[integrations.xero_app]`).
    pub xero_app: Option<crate::xero_app::XeroAppSettings>,
    pub slack: SlackSettings,
    pub gorgias: Option<GorgiasSettings>,
}

/// Where invoices go: Xero itself, or an in-process fake of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XeroTarget {
    Fake,
    Remote { base_url: String, token_url: String, client_id: String, client_secret: String, xero_tenant_id: String },
}

#[derive(Clone, Debug)]
pub struct XeroSettings {
    pub target: XeroTarget,
    pub sales_account_code: Option<String>,
    pub timeout: Duration,
    pub poll: Duration,
    pub max_attempts: u32,
}

#[derive(Clone, Debug, Default)]
pub struct SlackSettings {
    pub webhook_url: Option<String>,
    pub signing_secret: Option<String>,
    pub tenant: Option<String>,
}

#[derive(Clone, Debug)]
pub struct GorgiasSettings {
    pub base_url: String,
    pub username: String,
    pub api_key: String,
}

fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn non_blank(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn integrations(raw: &crate::raw::RawIntegrations) -> Result<IntegrationSettings, ConfigError> {
    let x = &raw.xero;
    let xero = if x.enabled {
        let target = if x.fake {
            XeroTarget::Fake
        } else {
            for (key, value) in [
                ("integrations.xero.client_id", &x.client_id),
                ("integrations.xero.client_secret", &x.client_secret),
                ("integrations.xero.xero_tenant_id", &x.xero_tenant_id),
            ] {
                if value.trim().is_empty() {
                    return Err(ConfigError::invalid(key, "must be set when integrations.xero.enabled (or set fake = true)"));
                }
            }
            for (key, value) in [("integrations.xero.base_url", &x.base_url), ("integrations.xero.token_url", &x.token_url)] {
                if !is_http_url(value) {
                    return Err(ConfigError::invalid(key, "must be an http(s) URL"));
                }
            }
            XeroTarget::Remote {
                base_url: x.base_url.clone(),
                token_url: x.token_url.clone(),
                client_id: x.client_id.clone(),
                client_secret: x.client_secret.clone(),
                xero_tenant_id: x.xero_tenant_id.clone(),
            }
        };
        if x.max_attempts == 0 {
            return Err(ConfigError::invalid("integrations.xero.max_attempts", "must be at least 1"));
        }
        Some(XeroSettings {
            target,
            sales_account_code: non_blank(&x.sales_account_code),
            timeout: millis("integrations.xero.timeout_ms", x.timeout_ms, 100)?,
            poll: millis("integrations.xero.poll_ms", x.poll_ms, 10)?,
            max_attempts: x.max_attempts,
        })
    } else {
        None
    };
    let s = &raw.slack;
    if !s.webhook_url.is_empty() && !is_http_url(&s.webhook_url) {
        return Err(ConfigError::invalid("integrations.slack.webhook_url", "must be an http(s) URL"));
    }
    let slack = SlackSettings {
        webhook_url: non_blank(&s.webhook_url),
        signing_secret: non_blank(&s.signing_secret),
        tenant: non_blank(&s.tenant),
    };
    if slack.signing_secret.is_some() && slack.tenant.is_none() {
        return Err(ConfigError::invalid("integrations.slack.tenant", "must name the tenant (slug) Slack events act for"));
    }
    let g = &raw.gorgias;
    let gorgias = match non_blank(&g.base_url) {
        None => None,
        Some(base_url) if is_http_url(&base_url) => {
            Some(GorgiasSettings { base_url, username: g.username.clone(), api_key: g.api_key.clone() })
        }
        Some(_) => return Err(ConfigError::invalid("integrations.gorgias.base_url", "must be an http(s) URL")),
    };
    let xero_app = crate::xero_app::validate_xero_app(&raw.xero_app)?;
    Ok(IntegrationSettings { xero, xero_app, slack, gorgias })
}

#[derive(Clone, Debug)]
pub struct SeedSettings {
    pub demo_on_empty: bool,
    pub log_demo_keys: bool,
    /// Tenant slug → fixed demo key.
    pub demo_keys: BTreeMap<String, String>,
    /// Tenant slug → fixed publishable web-widget key (the chat page `/` uses the first).
    pub widget_keys: BTreeMap<String, String>,
}

fn millis(key: &str, value: u64, min: u64) -> Result<Duration, ConfigError> {
    if value < min {
        return Err(ConfigError::invalid(key, format!("must be at least {min} ms (got {value})")));
    }
    Ok(Duration::from_millis(value))
}

impl Settings {
    pub(crate) fn validate(profile: String, raw: RawSettings) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|_| ConfigError::invalid("listen", format!("`{}` is not an address like 127.0.0.1:8080", raw.listen)))?;
        let data_dir = non_empty_path("data_dir", &raw.data_dir)?;
        // In this order: the first bad key is the one reported.
        let server = validate_server(&raw.server)?;
        let database = validate_database(&raw.database, &data_dir)?;
        let cache = validate_cache(&raw.cache)?;
        let embedding = validate_embedding(&raw.embedding)?;
        let llm = validate_llm(&raw.llm)?;
        if llm.turn_deadline >= server.request_timeout {
            // The request's deadline would answer 503 before the turn could fall back.
            return Err(ConfigError::invalid(
                "llm.turn_deadline_ms",
                format!(
                    "must be less than server.request_timeout_ms ({} ms; got {})",
                    raw.server.request_timeout_ms, raw.llm.turn_deadline_ms
                ),
            ));
        }
        let seed = validate_seed(raw.seed, &profile)?;
        let limits = validate_limits(&raw.limits)?;
        let integrations = integrations(&raw.integrations)?;
        let knowledge = crate::knowledge::validate_knowledge(&raw.knowledge)?;
        let import = crate::import::validate_import(&raw.import)?;
        let intent = crate::intent::validate_intent(&raw.intent)?;
        let secrets = crate::secrets::validate_secrets(&raw.secrets, &profile, &data_dir)?;
        let retention = crate::retention::validate_retention(&raw.retention)?;

        Ok(Settings {
            integrations,
            knowledge,
            import,
            intent,
            secrets,
            retention,
            limits,
            profile,
            listen,
            fixtures_dir: non_empty_path("fixtures_dir", &raw.fixtures_dir)?,
            models_dir: non_empty_path("models_dir", &raw.models_dir)?,
            data_dir,
            server,
            database,
            cache,
            embedding,
            embedding_required: raw.embedding.required,
            llm,
            seed,
        })
    }
}

/// `[server]`: body and time limits, connection caps, the ops listener and logging.
fn validate_server(s: &RawServer) -> Result<ServerSettings, ConfigError> {
    if s.body_limit_bytes < 1024 || s.body_limit_bytes > 64 * 1024 * 1024 {
        return Err(ConfigError::invalid(
            "server.body_limit_bytes",
            format!("must be between 1024 and 67108864 (got {})", s.body_limit_bytes),
        ));
    }
    let log_format = match s.log_format.as_str() {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::invalid("server.log_format", format!("must be `pretty` or `json` (got `{other}`)")));
        }
    };
    Ok(ServerSettings {
        body_limit_bytes: usize::try_from(s.body_limit_bytes).unwrap_or(usize::MAX),
        request_timeout: millis("server.request_timeout_ms", s.request_timeout_ms, 100)?,
        header_read_timeout: millis("server.header_read_timeout_ms", s.header_read_timeout_ms, 100)?,
        body_read_timeout: millis("server.body_read_timeout_ms", s.body_read_timeout_ms, 100)?,
        drain_timeout: millis("server.drain_timeout_ms", s.drain_timeout_ms, 0)?,
        idle_timeout: millis("server.idle_timeout_ms", s.idle_timeout_ms, 100)?,
        write_timeout: millis("server.write_timeout_ms", s.write_timeout_ms, 100)?,
        max_connections: s.max_connections as usize,
        max_streams_per_connection: match s.max_streams_per_connection {
            n @ 1..=1000 => n,
            n => return Err(ConfigError::invalid("server.max_streams_per_connection", format!("must be 1 to 1000 (got {n})"))),
        },
        auth_cache_ttl: match s.auth_cache_ttl_ms {
            // A revoked key must stop working soon, whatever the setting says.
            ttl @ 0..=60_000 => Duration::from_millis(ttl),
            ttl => return Err(ConfigError::invalid("server.auth_cache_ttl_ms", format!("must be at most 60000 ms (got {ttl})"))),
        },
        ops_listen: match s.ops_listen.trim() {
            "" => None,
            text => Some(text.parse().map_err(|_| {
                ConfigError::invalid("server.ops_listen", format!("`{text}` is not an address like 0.0.0.0:9090 (or \"\" for off)"))
            })?),
        },
        log_format,
        log_filter: s.log_filter.clone(),
    })
}

/// `[database]`: the URL (SQLite under `data_dir` when empty) and the pool.
fn validate_database(d: &RawDatabase, data_dir: &Path) -> Result<DatabaseSettings, ConfigError> {
    let url = if d.url.is_empty() {
        format!("sqlite://{}?mode=rwc", data_dir.join("tria.db").display())
    } else if d.url.starts_with("sqlite:") || d.url.starts_with("postgres://") || d.url.starts_with("postgresql://") {
        d.url.clone()
    } else {
        return Err(ConfigError::invalid("database.url", "must start with sqlite:, postgres:// or postgresql://"));
    };
    if d.max_connections == 0 {
        return Err(ConfigError::invalid("database.max_connections", "must be at least 1 (got 0)"));
    }
    if d.min_connections > d.max_connections {
        return Err(ConfigError::invalid(
            "database.min_connections",
            format!("must not exceed max_connections ({} > {})", d.min_connections, d.max_connections),
        ));
    }
    Ok(DatabaseSettings {
        url,
        max_connections: d.max_connections,
        min_connections: d.min_connections,
        acquire_timeout: millis("database.acquire_timeout_ms", d.acquire_timeout_ms, 10)?,
        idle_timeout: millis("database.idle_timeout_ms", d.idle_timeout_ms, 1000)?,
        max_lifetime: millis("database.max_lifetime_ms", d.max_lifetime_ms, 1000)?,
        turn_lock_connections: match d.turn_lock_connections {
            0 => return Err(ConfigError::invalid("database.turn_lock_connections", "must be at least 1 (got 0)")),
            n => n,
        },
        turn_lock_wait: millis("database.turn_lock_wait_ms", d.turn_lock_wait_ms, 100)?,
    })
}

/// `[cache]`: thresholds, sizes, TTLs and the Redis URL.
fn validate_cache(c: &RawCache) -> Result<CacheSettings, ConfigError> {
    let redis_url = c.redis_url.trim();
    if !(c.l3_threshold > 0.0 && c.l3_threshold <= 1.0) {
        return Err(ConfigError::invalid("cache.l3_threshold", format!("must be in (0, 1] (got {})", c.l3_threshold)));
    }
    if !(c.l3_evidence_threshold > 0.0 && c.l3_evidence_threshold <= c.l3_threshold) {
        return Err(ConfigError::invalid(
            "cache.l3_evidence_threshold",
            format!("must be in (0, cache.l3_threshold = {}] (got {})", c.l3_threshold, c.l3_evidence_threshold),
        ));
    }
    if !(c.l3_evidence_agreement >= 0.0 && c.l3_evidence_agreement.is_finite()) {
        return Err(ConfigError::invalid(
            "cache.l3_evidence_agreement",
            format!("must be a number from 0 to 1, or above 1 to turn the evidence rule off (got {})", c.l3_evidence_agreement),
        ));
    }
    if !(c.price_per_1k_tokens >= 0.0 && c.price_per_1k_tokens.is_finite()) {
        return Err(ConfigError::invalid("cache.price_per_1k_tokens", "must be a non-negative number"));
    }
    if c.redis_pool_size == 0 || c.redis_pool_size > 256 {
        return Err(ConfigError::invalid("cache.redis_pool_size", format!("must be between 1 and 256 (got {})", c.redis_pool_size)));
    }
    if c.memory_bytes < 1 << 20 || c.l1_bytes < 1 << 16 {
        return Err(ConfigError::invalid("cache.memory_bytes", "memory_bytes must be at least 1 MiB and l1_bytes at least 64 KiB"));
    }
    let secs = |key: &str, v: u64| {
        if v == 0 { Err(ConfigError::invalid(format!("cache.{key}"), "must be at least 1 second")) } else { Ok(Duration::from_secs(v)) }
    };
    Ok(CacheSettings {
        redis_pool_size: c.redis_pool_size as usize,
        redis_timeout: millis("cache.redis_timeout_ms", c.redis_timeout_ms, 1)?,
        probe_interval: millis("cache.probe_interval_ms", c.probe_interval_ms, 10)?,
        memory_bytes: c.memory_bytes,
        l1_bytes: c.l1_bytes,
        l1_enabled: c.l1_enabled,
        l1_ttl: secs("l1_ttl_secs", c.l1_ttl_secs)?,
        l2_enabled: c.l2_enabled,
        l2_ttl: secs("l2_ttl_secs", c.l2_ttl_secs)?,
        l3_enabled: c.l3_enabled,
        l3_ttl: secs("l3_ttl_secs", c.l3_ttl_secs)?,
        l3_threshold: c.l3_threshold as f32,
        l3_evidence_threshold: c.l3_evidence_threshold as f32,
        l3_evidence_agreement: c.l3_evidence_agreement as f32,
        l3_max_entries_per_tenant: usize::try_from(c.l3_max_entries_per_tenant.max(1)).unwrap_or(usize::MAX),
        l4_enabled: c.l4_enabled,
        l4_intent_ttl: secs("l4_intent_ttl_secs", c.l4_intent_ttl_secs)?,
        l4_retrieval_ttl: secs("l4_retrieval_ttl_secs", c.l4_retrieval_ttl_secs)?,
        l4_embedding_ttl: secs("l4_embedding_ttl_secs", c.l4_embedding_ttl_secs)?,
        context_turns: c.context_turns as usize,
        price_per_1k_tokens: c.price_per_1k_tokens,
        redis_url: if redis_url.is_empty() {
            None
        } else if ["redis://", "rediss://", "redis-cluster://", "rediss-cluster://", "redis-sentinel://", "rediss-sentinel://"]
            .iter()
            .any(|scheme| redis_url.starts_with(scheme))
        {
            Some(redis_url.to_owned())
        } else {
            return Err(ConfigError::invalid(
                "cache.redis_url",
                "must be a redis://, rediss://, redis-cluster:// or redis-sentinel:// URL",
            ));
        },
    })
}

/// `[embedding]`.
fn validate_embedding(e: &RawEmbedding) -> Result<EmbeddingProvider, ConfigError> {
    match e.provider.as_str() {
        "local" => Ok(EmbeddingProvider::Local),
        other => Err(ConfigError::invalid("embedding.provider", format!("must be `local` (got `{other}`)"))),
    }
}

/// `[llm]`: the provider and, for `openai`, its endpoint.
fn validate_llm(l: &RawLlm) -> Result<LlmSettings, ConfigError> {
    let provider = match l.provider.as_str() {
        "offline" => LlmProvider::Offline,
        "openai" => LlmProvider::OpenAi,
        "azure" => LlmProvider::Azure,
        "anthropic" => LlmProvider::Anthropic,
        other => {
            return Err(ConfigError::invalid(
                "llm.provider",
                format!("must be `offline`, `openai`, `azure` or `anthropic` (got `{other}`)"),
            ));
        }
    };
    let http_url = l.base_url.starts_with("http://") || l.base_url.starts_with("https://");
    let named = |key: &str, value: &str| -> Result<(), ConfigError> {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(key, format!("is required when llm.provider = \"{}\"", l.provider)));
        }
        Ok(())
    };
    match provider {
        LlmProvider::Offline => {}
        LlmProvider::OpenAi if !http_url => {
            return Err(ConfigError::invalid("llm.base_url", "must be an http(s) URL when llm.provider = \"openai\""));
        }
        LlmProvider::OpenAi => {}
        LlmProvider::Azure => {
            if !http_url {
                return Err(ConfigError::invalid(
                    "llm.base_url",
                    "must be the resource endpoint (https://{resource}.openai.azure.com) when llm.provider = \"azure\"",
                ));
            }
            named("llm.api_key", &l.api_key)?;
            named("llm.deployment", if l.deployment.trim().is_empty() { &l.model } else { &l.deployment })?;
        }
        LlmProvider::Anthropic => {
            if !(l.base_url.is_empty() || http_url) {
                return Err(ConfigError::invalid("llm.base_url", "must be empty (https://api.anthropic.com) or an http(s) URL"));
            }
            named("llm.api_key", &l.api_key)?;
            named("llm.model", &l.model)?;
        }
    }
    let turn_deadline = millis("llm.turn_deadline_ms", l.turn_deadline_ms, 500)?;
    let first_token_deadline = millis("llm.first_token_deadline_ms", l.first_token_deadline_ms, 100)?;
    if first_token_deadline > turn_deadline {
        return Err(ConfigError::invalid(
            "llm.first_token_deadline_ms",
            format!("must be at most llm.turn_deadline_ms ({} ms; got {})", l.turn_deadline_ms, l.first_token_deadline_ms),
        ));
    }
    Ok(LlmSettings {
        provider,
        base_url: l.base_url.clone(),
        model: l.model.clone(),
        api_key: l.api_key.clone(),
        api_version: l.api_version.trim().to_owned(),
        deployment: l.deployment.trim().to_owned(),
        timeout: millis("llm.timeout_ms", l.timeout_ms, 100)?,
        turn_deadline,
        first_token_deadline,
        breaker_cool_down: millis("llm.breaker_cool_down_ms", l.breaker_cool_down_ms, 100)?,
        failover: crate::llm_failover::validate_failover(&l.failover, provider)?,
        prices: crate::llm_prices::validate_prices(&l.prices)?,
    })
}

/// `[seed]`: fixed demo and widget keys (demo keys are never logged in production).
fn validate_seed(seed: RawSeed, profile: &str) -> Result<SeedSettings, ConfigError> {
    for (slug, key) in &seed.demo_keys {
        if key.len() < 24 {
            return Err(ConfigError::invalid(format!("seed.demo_keys.{slug}"), "demo keys must be at least 24 characters"));
        }
    }
    for (slug, key) in &seed.widget_keys {
        if key.len() < 24 {
            return Err(ConfigError::invalid(format!("seed.widget_keys.{slug}"), "widget keys must be at least 24 characters"));
        }
    }
    Ok(SeedSettings {
        demo_on_empty: seed.demo_on_empty,
        log_demo_keys: seed.log_demo_keys && profile != "production",
        demo_keys: seed.demo_keys,
        widget_keys: seed.widget_keys,
    })
}

/// `[limits]`: the chat gate, request rates, spend budgets and per-connection/key caps.
fn validate_limits(l: &RawLimits) -> Result<LimitSettings, ConfigError> {
    if l.max_in_flight == 0 {
        return Err(ConfigError::invalid("limits.max_in_flight", "must be at least 1"));
    }
    if !l.tenant_per_second.is_finite() || l.tenant_per_second < 0.0 {
        return Err(ConfigError::invalid("limits.tenant_per_second", format!("must be 0 (off) or positive (got {})", l.tenant_per_second)));
    }
    if l.tenant_burst == 0 {
        return Err(ConfigError::invalid("limits.tenant_burst", "must be at least 1"));
    }
    for (name, value) in [
        ("limits.customer_per_second", l.customer_per_second),
        ("limits.tenant_usd_per_hour", l.tenant_usd_per_hour),
        ("limits.tenant_usd_per_month", l.tenant_usd_per_month),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(ConfigError::invalid(name, format!("must be 0 (off) or positive (got {value})")));
        }
    }
    if l.customer_burst == 0 {
        return Err(ConfigError::invalid("limits.customer_burst", "must be at least 1"));
    }
    for (name, share) in [("limits.tenant_share", l.tenant_share), ("limits.widget_key_share", l.widget_key_share)] {
        if !(share > 0.0 && share <= 1.0) {
            return Err(ConfigError::invalid(name, format!("must be greater than 0 and at most 1 (got {share})")));
        }
    }
    for (name, max) in [("limits.max_chats_per_connection", l.max_chats_per_connection), ("limits.max_chats_per_key", l.max_chats_per_key)]
    {
        if max == 0 {
            return Err(ConfigError::invalid(name, "must be at least 1"));
        }
    }
    Ok(LimitSettings {
        max_in_flight: l.max_in_flight as usize,
        max_queue: l.max_queue as usize,
        queue_timeout: millis("limits.queue_timeout_ms", l.queue_timeout_ms, 0)?,
        tenant_per_second: l.tenant_per_second,
        tenant_burst: l.tenant_burst,
        customer_per_second: l.customer_per_second,
        customer_burst: l.customer_burst,
        tenant_tokens_per_hour: l.tenant_tokens_per_hour,
        tenant_usd_per_hour: l.tenant_usd_per_hour,
        tenant_tokens_per_month: l.tenant_tokens_per_month,
        tenant_usd_per_month: l.tenant_usd_per_month,
        shared_via_redis: l.shared_via_redis,
        tenant_share: l.tenant_share,
        widget_key_share: l.widget_key_share,
        max_chats_per_connection: l.max_chats_per_connection as usize,
        max_chats_per_key: l.max_chats_per_key as usize,
    })
}

fn non_empty_path(key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    Ok(PathBuf::from(value))
}

#[cfg(test)]
mod llm_provider_tests {
    use super::LlmProvider;
    use crate::{ConfigSources, load};

    fn with(pairs: &[(&str, &str)]) -> Result<crate::Settings, crate::ConfigError> {
        load(&ConfigSources { env: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), ..ConfigSources::default() })
    }

    #[test]
    fn anthropic_and_azure_are_providers_and_their_required_keys_are_named() {
        let anthropic =
            with(&[("TRIA_LLM_PROVIDER", "anthropic"), ("TRIA_LLM_MODEL", "claude-x"), ("TRIA_LLM_API_KEY", "k")]).expect("valid");
        assert_eq!(anthropic.llm.provider, LlmProvider::Anthropic);
        let err = with(&[("TRIA_LLM_PROVIDER", "anthropic"), ("TRIA_LLM_MODEL", "claude-x")]).expect_err("no key");
        assert!(err.to_string().contains("llm.api_key"), "{err}");
        let azure = [("TRIA_LLM_PROVIDER", "azure"), ("TRIA_LLM_BASE_URL", "https://r.openai.azure.com"), ("TRIA_LLM_API_KEY", "k")];
        let err = with(&azure).expect_err("no deployment or model");
        assert!(err.to_string().contains("llm.deployment"), "{err}");
        let ok = with(&[azure[0], azure[1], azure[2], ("TRIA_LLM__DEPLOYMENT", "chat"), ("TRIA_LLM__API_VERSION", "2024-10-21")])
            .expect("valid");
        assert_eq!((ok.llm.provider, ok.llm.deployment.as_str(), ok.llm.api_version.as_str()), (LlmProvider::Azure, "chat", "2024-10-21"));
        let err = with(&[("TRIA_LLM_PROVIDER", "azure"), ("TRIA_LLM_API_KEY", "k"), ("TRIA_LLM_MODEL", "m")]).expect_err("no endpoint");
        assert!(err.to_string().contains("llm.base_url") && !err.to_string().contains('\n'), "{err}");
        let err = with(&[("TRIA_LLM_PROVIDER", "bedrock")]).expect_err("unknown");
        assert!(err.to_string().contains("`anthropic`"), "{err}");
    }
}

#[cfg(test)]
mod llm_deadline_tests {
    use crate::{ConfigSources, load};

    fn with(pairs: &[(&str, &str)]) -> Result<crate::Settings, crate::ConfigError> {
        load(&ConfigSources { env: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), ..ConfigSources::default() })
    }

    #[test]
    fn the_turn_deadlines_default_and_are_validated_against_each_other_and_the_request_deadline() {
        let defaults = with(&[]).expect("valid");
        assert_eq!(defaults.llm.turn_deadline.as_millis(), 8000);
        assert_eq!(defaults.llm.first_token_deadline.as_millis(), 3000);
        assert_eq!(defaults.llm.breaker_cool_down.as_millis(), 10000);
        let err = with(&[("TRIA_LLM__TURN_DEADLINE_MS", "499")]).expect_err("too short");
        assert!(err.to_string().contains("llm.turn_deadline_ms") && err.to_string().contains("at least 500"), "{err}");
        let err = with(&[("TRIA_LLM__TURN_DEADLINE_MS", "2000")]).expect_err("first token after the turn's end");
        assert!(err.to_string().contains("llm.first_token_deadline_ms") && err.to_string().contains("at most"), "{err}");
        let err = with(&[("TRIA_LLM__TURN_DEADLINE_MS", "30000")]).expect_err("the request deadline would come first");
        assert!(err.to_string().contains("server.request_timeout_ms"), "{err}");
        let ok = with(&[("TRIA_LLM__TURN_DEADLINE_MS", "2000"), ("TRIA_LLM__FIRST_TOKEN_DEADLINE_MS", "800")]).expect("valid");
        assert_eq!(ok.llm.first_token_deadline.as_millis(), 800);
    }
}
