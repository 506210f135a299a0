//! Turning validated settings into running components: data directory, database (migrated),
//! demo data on an empty database, the agent with each tenant's index loaded, the cache.

use std::sync::Arc;

use std::time::Duration;
use tria_agent::Agent;
use tria_agent::setup::{SeededTenant, seed_from_fixtures};

use tria_cache::AnswerCache;
use tria_compose::{cache_config, db_options};
use tria_config::Settings;
use tria_store::Store;

use tria_admission::{BudgetLimits, RateLimiter, SpendBudget};

use crate::metrics::Metrics;
use crate::state::{AppState, Guards, LimitSettings, ServiceSettings};

/// How long start-up waits for Redis before starting degraded (serving from memory).
const REDIS_CONNECT_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Database(#[from] tria_store::StoreError),
    #[error("seeding demo data: {0}")]
    Seed(#[from] tria_agent::AgentError),
    #[error("cache: {0}")]
    Cache(#[from] tria_cache::CacheError),
    #[error("rate limiter: {0}")]
    RateLimiter(#[from] tria_admission::RateLimiterError),
    #[error("llm: {0}")]
    Llm(String),
    #[error("integrations: {0}")]
    Integration(String),
    #[error("secrets: {0}")]
    Secrets(#[from] tria_secrets::SecretsError),
}

/// Settings that only the library using them parses: the Redis URL (the cache's and the shared
/// rate limits' client) and the other URLs. Checked before anything starts, so a bad one stops
/// the server as bad config (exit code 2, one line naming the key) instead of failing start-up
/// or every request later. The message never repeats the URL: it may carry a password.
pub fn check_settings(settings: &Settings) -> Result<(), String> {
    if let Some(url) = &settings.cache.redis_url {
        fred::prelude::Config::from_url(url)
            .map_err(|e| format!("cache.redis_url (TRIA_REDIS_URL): not a usable Redis URL: {}", e.details()))?;
    }
    let http_url = |key: &str, url: &str| match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(_) => Err(format!("{key}: the URL names no host")),
        Err(e) => Err(format!("{key}: not a URL: {e}")),
    };
    // Anthropic's empty base_url means its public endpoint.
    if settings.llm.provider != tria_config::LlmProvider::Offline && !settings.llm.base_url.is_empty() {
        http_url("llm.base_url", &settings.llm.base_url)?;
    }
    if let Some(url) = &settings.integrations.slack.webhook_url {
        http_url("integrations.slack.webhook_url", url)?;
    }
    if let Some(gorgias) = &settings.integrations.gorgias {
        http_url("integrations.gorgias.base_url", &gorgias.base_url)?;
    }
    if !settings.database.url.starts_with("sqlite:") {
        reqwest::Url::parse(&settings.database.url).map_err(|e| format!("database.url (TRIA_DATABASE_URL): not a URL: {e}"))?;
    }
    Ok(())
}

/// An LLM client and the prompts it is driven with.
pub type LlmParts = (Arc<dyn tria_llm::LlmClient>, Arc<tria_llm::PromptLibrary>);

/// The `[llm]` provider as a [`tria_llm::ProviderConfig`] (for [`tria_llm::build`]), `None`
/// for the offline responder.
pub fn provider_config(llm: &tria_config::LlmSettings) -> Option<tria_llm::ProviderConfig> {
    use tria_config::LlmProvider;
    let provider = match llm.provider {
        LlmProvider::Offline => return None,
        LlmProvider::OpenAi => tria_llm::Provider::OpenAi,
        LlmProvider::Azure => tria_llm::Provider::Azure,
        LlmProvider::Anthropic => tria_llm::Provider::Anthropic,
    };
    let mut config = tria_llm::ProviderConfig::new(provider, llm.base_url.clone(), llm.model.clone());
    let given = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    config.api_key = given(&llm.api_key);
    config.deployment = given(&llm.deployment);
    config.api_version = given(&llm.api_version);
    config.http.timeout = llm.timeout;
    // Outgoing calls carry the current span's W3C `traceparent` (when tracing export is on).
    config.http.header_source = Some(Arc::new(crate::telemetry::outgoing_trace_headers));
    Some(config)
}

/// The retention job over `[retention]` (each tenant's `settings.retention` over its defaults).
pub fn retention_job(store: &tria_store::Store, retention: &tria_config::RetentionSettings) -> tria_store::retention::RetentionJob {
    let defaults = tria_store::retention::RetentionPolicy {
        transcripts_days: retention.transcripts_days,
        escalations_days: retention.escalations_days,
        audit_days: retention.audit_days,
    };
    let options = tria_store::retention::RetentionOptions {
        defaults,
        batch_size: retention.batch_size,
        pause: retention.batch_pause,
        ..tria_store::retention::RetentionOptions::default()
    };
    tria_store::retention::RetentionJob::new(store, options)
}

/// The built-in LLM price table with the deployment's `[llm.prices]` over it: what the cost
/// ledger and each reply's reported cost price tokens at.
pub fn price_table(llm: &tria_config::LlmSettings) -> tria_llm::PriceTable {
    tria_llm::PriceTable::builtin_with(
        llm.prices
            .iter()
            .map(|(model, p)| (model.clone(), tria_llm::ModelPrice::new(p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok))),
    )
}

/// The LLM client and prompts when `llm.provider` names one (openai, azure, anthropic), `None`
/// for the offline responder. Prompts come from `config/prompts` when that directory exists,
/// else the built-in copy.
pub fn llm_parts(settings: &Settings) -> Result<Option<LlmParts>, StartupError> {
    let llm = &settings.llm;
    let Some(config) = provider_config(llm) else {
        return Ok(None);
    };
    if llm.provider == tria_config::LlmProvider::OpenAi && (llm.base_url.trim().is_empty() || llm.model.trim().is_empty()) {
        return Err(StartupError::Llm(
            "llm.provider = \"openai\" needs llm.base_url and llm.model (TRIA_LLM__BASE_URL, TRIA_LLM__MODEL)".into(),
        ));
    }
    let client = tria_llm::ProviderClient::new(config).map_err(|e| StartupError::Llm(e.to_string()))?;
    Ok(Some((Arc::new(client), prompt_library()?)))
}

/// The prompts from `config/prompts` when that directory exists, else the built-in copy.
pub fn prompt_library() -> Result<Arc<tria_llm::PromptLibrary>, StartupError> {
    let dir = std::path::Path::new("config/prompts");
    let prompts = if dir.is_dir() { tria_llm::PromptLibrary::load_dir(dir) } else { tria_llm::PromptLibrary::embedded() }
        .map_err(|e| StartupError::Llm(format!("prompts: {e}")))?;
    Ok(Arc::new(prompts))
}

/// The turn deadlines and provider breakers of LLM calls from `[llm]`.
pub fn llm_resilience(llm: &tria_config::LlmSettings) -> tria_agent::LlmResilience {
    let defaults = tria_agent::LlmResilience::default();
    tria_agent::LlmResilience {
        turn_deadline: llm.turn_deadline,
        first_token_deadline: llm.first_token_deadline,
        breaker: tria_integrations::resilience::BreakerConfig { cool_down: llm.breaker_cool_down, ..defaults.breaker },
    }
}

/// The server's limit settings from the validated config.
pub fn limit_settings(l: &tria_config::LimitSettings) -> LimitSettings {
    LimitSettings {
        max_in_flight: l.max_in_flight,
        max_queue: l.max_queue,
        queue_timeout: l.queue_timeout,
        tenant_per_second: l.tenant_per_second,
        tenant_burst: l.tenant_burst,
        customer_per_second: l.customer_per_second,
        customer_burst: l.customer_burst,
        budget: BudgetLimits {
            tokens_per_hour: l.tenant_tokens_per_hour,
            usd_per_hour: l.tenant_usd_per_hour,
            tokens_per_month: l.tenant_tokens_per_month,
            usd_per_month: l.tenant_usd_per_month,
        },
        tenant_share: l.tenant_share,
        widget_key_share: l.widget_key_share,
        max_chats_per_connection: l.max_chats_per_connection,
        max_chats_per_key: l.max_chats_per_key,
    }
}

/// Spend budgets shared through the rate limiter's Redis pool when it has one.
pub fn spend_budget(limiter: &RateLimiter, limits: &LimitSettings, timeout: Duration) -> SpendBudget {
    SpendBudget::beside(limiter, limits.budget, "tria", timeout)
}

/// Shared (Redis) rate limits when Redis is configured and sharing is on, else per instance.
pub fn rate_limiter(settings: &Settings, limits: &LimitSettings) -> Result<RateLimiter, StartupError> {
    match (&settings.cache.redis_url, settings.limits.shared_via_redis) {
        (Some(url), true) => {
            // A check waits at most this long for Redis before the local limiter decides.
            let timeout = settings.cache.redis_timeout.max(Duration::from_millis(20));
            Ok(RateLimiter::shared(limits, url, "tria", timeout)?)
        }
        _ => Ok(RateLimiter::local(limits)),
    }
}

/// What start-up did, for the log, and the background work to stop on shutdown.
#[derive(Debug, Default)]
pub struct StartupReport {
    pub seeded: Vec<SeededTenant>,
    pub tenants: usize,
    /// The invoice worker (when `integrations.xero` is on); `shutdown()` it after serving.
    pub background: crate::integrations::Background,
}

/// Connects and migrates the database named in `settings`, creating the data directory the
/// default SQLite file lives in.
pub async fn open_store(settings: &Settings) -> Result<Store, StartupError> {
    if settings.database.url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|source| StartupError::DataDir { path: settings.data_dir.display().to_string(), source })?;
    }
    let store = Store::connect(&db_options(settings)).await?;
    store.migrate().await?;
    Ok(store)
}

/// Tenants' secrets under the master key `[secrets]` names; `None` when none is configured (the
/// secrets API then answers 503 and nothing else changes). Logs the key's id and, in dev, the
/// file it created — never the key.
pub fn secret_store(settings: &Settings, store: &Store) -> Result<Option<tria_secrets::SecretStore>, StartupError> {
    let sources = tria_secrets::KeySources::from_settings(&settings.secrets);
    let (keyring, created) = tria_secrets::Keyring::load(&sources)?;
    let Some(keyring) = keyring else {
        tracing::info!("secrets.master_key_file is not set: the tenant secrets API is off");
        return Ok(None);
    };
    if created {
        let file = sources.dev_key_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
        tracing::warn!(%file, "dev profile: generated a master key for tenant secrets; set secrets.master_key_file in production");
    }
    tracing::info!(key_id = %keyring.current().id(), previous = sources.previous_key_files.len(), "tenant secrets enabled");
    Ok(Some(tria_secrets::SecretStore::new(store.clone(), keyring)))
}

/// How often `/health` re-reads which tenants' Xero connections are revoked.
const XERO_STATUS_POLL: Duration = Duration::from_secs(30);

/// How often an idle replica looks for queued knowledge jobs (an upload starts its own job at
/// once on the replica that took it; the poll picks up the rest).
const KNOWLEDGE_JOB_POLL: Duration = Duration::from_secs(2);

/// Builds every component the service needs.
pub async fn build_state(settings: &Settings) -> Result<(AppState, StartupReport), StartupError> {
    let store = open_store(settings).await?;
    let mut report = StartupReport::default();
    if settings.seed.demo_on_empty && store.tenants().count().await? == 0 {
        if settings.fixtures_dir.join("tenants").is_dir() {
            report.seeded = seed_from_fixtures(&store, &settings.fixtures_dir, &settings.seed.demo_keys).await?;
        } else {
            tracing::warn!(dir = %settings.fixtures_dir.display(), "no demo fixtures found; starting with an empty database");
        }
    }
    crate::web::seed_widget_keys(&store, &settings.seed.widget_keys).await?;
    let cache = Arc::new(AnswerCache::connect(cache_config(&settings.cache), REDIS_CONNECT_WAIT).await?);
    // Model load and embedding the intent examples take a second or two of CPU: off the runtime.
    let (models_dir, fixtures_dir) = (settings.models_dir.clone(), settings.fixtures_dir.clone());
    let semantic = tokio::task::spawn_blocking(move || tria_agent::load_semantic(&models_dir, &fixtures_dir))
        .await
        .unwrap_or_else(|e| tria_agent::SemanticParts::unavailable(format!("loading the embedding model failed: {e}")));
    let tenants = store.tenants().list().await?;
    // The screen refuses messages that probe for another tenant by name.
    let screen = tria_guard::InputScreen::new().with_other_tenants(tenants.iter().flat_map(|t| [t.name.clone(), t.slug.clone()]));
    let limits = limit_settings(&settings.limits);
    let limiter = rate_limiter(settings, &limits)?;
    if limiter.is_shared() && !limiter.wait_connected(REDIS_CONNECT_WAIT).await {
        tracing::warn!("Redis not reachable for rate limits; limiting per instance until it is");
    }
    let budget = spend_budget(&limiter, &limits, settings.cache.redis_timeout.max(Duration::from_millis(20)));
    let metrics = Arc::new(Metrics::new());
    let secrets = secret_store(settings, &store)?;
    let integrations = crate::integrations::build(settings, &store, secrets.as_ref()).await?;
    // Every LLM call and cache hit, durably: rows queue to one batch writer (flushed on shutdown).
    let ledger = Arc::new(tria_agent::ledger::LlmLedger::new(tria_store::ledger::LedgerWriter::spawn(store.clone())));
    let prices = price_table(&settings.llm);
    // Hand-offs and replies go to each tenant's own helpdesk, Slack and LLM, else the deployment's.
    let wrap_llm: crate::tenant_integrations::LlmWrapper = {
        let (metrics, budget) = (metrics.clone(), budget.clone());
        let ledger: Arc<dyn tria_llm::LlmObserver> = ledger.clone();
        let prices = prices.clone();
        Arc::new(move |client| tria_admission::observe_with(client, metrics.clone(), budget.clone(), Some(ledger.clone()), prices.clone()))
    };
    let llm = llm_parts(settings)?;
    // The deployment's model labels messages the intent model is unsure of (counted like replies).
    let intent_llm = llm.as_ref().filter(|_| settings.intent.llm_fallback).map(|(client, _)| wrap_llm(client.clone()));
    let own = crate::tenant_integrations::from_settings(settings, &store, secrets.clone(), llm, wrap_llm)?;
    let turn_locks =
        tria_store::TurnLockOptions { connections: settings.database.turn_lock_connections, wait: settings.database.turn_lock_wait };
    let mut builder = Agent::builder(store.clone())
        .turn_locks(store.turn_locks(turn_locks))
        .knowledge_check_interval(settings.knowledge.version_check)
        .answer_cache(cache)
        .semantic(semantic)
        .input_screen(screen)
        .handoff_notifier(own.helpdesk.clone())
        .llm_directory_priced(own.integrations.clone(), own.prompts.clone(), prices);
    if let Some(probe) = &integrations.invoicing {
        builder = builder.invoicing_probe(probe.clone());
    }
    builder = builder.llm_resilience(llm_resilience(&settings.llm));
    // A provider's 429 `Retry-After` holds back every replica: shared through the limits' Redis.
    if let Some(hold_off) =
        tria_admission::RedisHoldOff::beside(&limiter, "tria", settings.cache.redis_timeout.max(Duration::from_millis(20)))
    {
        builder = builder.llm_shared_hold_off(Arc::new(hold_off));
    }
    if let Some(client) = intent_llm {
        let options =
            tria_agent::LlmIntentOptions { deadline: settings.intent.llm_fallback_deadline, ..tria_agent::LlmIntentOptions::default() };
        builder = builder.llm_intent_fallback(client, options);
    }
    let llm_description = own.llm_description.clone();
    let agent = builder.build();
    own.integrations.set_llm_guard(agent.llm_guard().clone());
    report.tenants = tenants.len();
    for tenant in &tenants {
        let chunks = agent.reload_index(tenant.id).await?;
        tracing::debug!(tenant = %tenant.slug, chunks, "policy index loaded");
    }
    let service = ServiceSettings {
        body_limit_bytes: settings.server.body_limit_bytes,
        request_timeout: settings.server.request_timeout,
        body_read_timeout: settings.server.body_read_timeout,
        llm_description,
        limits,
        demo_widget_key: settings.seed.widget_keys.values().next().cloned(),
        auth_cache_ttl: settings.server.auth_cache_ttl,
        knowledge_job_lease: settings.knowledge.job_lease,
        max_document_bytes: settings.knowledge.max_document_bytes,
        import: settings.import,
        embedding_required: settings.embedding_required,
    };
    let guards = Guards { rate_limiter: limiter, budget, metrics };
    let mut probes = integrations.probes;
    probes.push(own.integrations.clone());
    let mut state =
        AppState::with_guards(store, agent, probes, service, guards).with_tenant_integrations(own.integrations.clone()).with_ledger(ledger);
    // Slack events: signed with the app's secret or a tenant's own (which needs the secrets store).
    let slack_events = settings.integrations.slack.signing_secret.is_some() || secrets.is_some();
    if let Some(secrets) = secrets {
        state = state.with_secrets(secrets);
    }
    if slack_events {
        state = state.with_slack_events(crate::slack_events::SlackEvents {
            signing_secret: settings.integrations.slack.signing_secret.clone(),
            tenant_slug: settings.integrations.slack.tenant.clone(),
            helpdesk: own.helpdesk.clone(),
        });
    }
    if settings.integrations.xero.is_none() {
        tracing::info!("integrations.xero is off: confirmed orders wait in the outbox until it is on");
    }
    if let Some(xero) = &integrations.xero_tenants {
        state = state.with_xero_tenants(xero.clone());
    }
    let retention = retention_job(state.store(), &settings.retention);
    state = state.with_retention(retention.totals());
    report.background = crate::integrations::Background::start(integrations.worker, integrations.fake_xero);
    if let Some(xero) = integrations.xero_tenants {
        // Other replicas' revocations and reconnections reach this one's /health.
        let directory = xero.directory.clone();
        report.background.spawn(move |stop| directory.watch(XERO_STATUS_POLL, stop));
    }
    // Uploaded documents are indexed by jobs any replica may claim; this one polls for them.
    let runner = tria_knowledge::JobRunner::new(
        crate::knowledge::knowledge(&state),
        Arc::new(crate::knowledge::AgentReload(state.clone())),
        KNOWLEDGE_JOB_POLL,
    );
    report.background.spawn(move |stop| runner.run(stop));
    // Large catalogue and customer uploads are imported by jobs any replica may claim.
    let imports = crate::catalogue_upload::import_jobs(&state);
    let reload: Arc<dyn tria_store::import_jobs::ImportFinished> = Arc::new(crate::catalogue_upload::ImportReload(state.clone()));
    let import_poll = settings.import.job_poll;
    report.background.spawn(move |stop| imports.run(reload, import_poll, stop));
    // Data past its tenant's retention limits is deleted by one replica at a time.
    let retention_every = settings.retention.interval;
    report.background.spawn(move |stop| retention.run(retention_every, stop));
    // L3's evidence passages are embedded in the background, so the first customer of each
    // tenant after a first start does not wait seconds for them (later starts read them from
    // the vector cache). Until they are ready, L3 matches on its plain threshold.
    let warming = state.clone();
    let tenant_ids: Vec<_> = tenants.iter().map(|t| t.id).collect();
    tokio::spawn(async move {
        for tenant in tenant_ids {
            warming.agent().prepare_evidence(tenant).await;
        }
    });
    Ok((state, report))
}
