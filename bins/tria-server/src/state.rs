//! Everything a request handler can reach, shared behind one `Arc`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tria_agent::Agent;
use tria_integrations::IntegrationProbe;
use tria_store::Store;

pub use tria_admission::LimitSettings;
use tria_admission::{RateLimiter, ShedGate, SpendBudget};

use crate::metrics::Metrics;

/// The parts of configuration request handling needs.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long a chat request's body may take to arrive; it is read before the request takes
    /// a slot of the chat gate, and a client still sending after it gets 408.
    pub body_read_timeout: Duration,
    /// Shown in `/health` for the LLM component.
    pub llm_description: String,
    pub limits: LimitSettings,
    /// The publishable widget key the chat page `/` embeds (dev: seeded from `seed.widget_keys`).
    pub demo_widget_key: Option<String>,
    /// How long a verified key and its tenant are reused (`server.auth_cache_ttl_ms`).
    pub auth_cache_ttl: Duration,
    /// How long a claim on a knowledge index job holds (`knowledge.job_lease_ms`).
    pub knowledge_job_lease: Duration,
    /// The largest document `PUT /admin/tenants/{slug}/documents/{doc_id}` takes
    /// (`knowledge.max_document_bytes`); other routes keep `body_limit_bytes`.
    pub max_document_bytes: usize,
    /// Catalogue and customer uploads: their limit, the size above which they run as a job,
    /// and the job's lease (`[import]`).
    pub import: tria_config::ImportSettings,
    /// `embedding.required`: the embedding component is required, so without the model
    /// `/health` and `/health/ready` are `down` (503).
    pub embedding_required: bool,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            llm_description: "offline grounded responder".into(),
            limits: LimitSettings::default(),
            demo_widget_key: None,
            auth_cache_ttl: Duration::from_secs(2),
            knowledge_job_lease: tria_knowledge::LEASE,
            max_document_bytes: tria_ingest::IngestOptions::DEFAULT_MAX_BYTES,
            import: tria_config::ImportSettings::default(),
            embedding_required: false,
        }
    }
}

/// The request guards and meters, built before the state when the LLM observer must share them.
#[derive(Debug)]
pub struct Guards {
    pub rate_limiter: RateLimiter,
    pub budget: SpendBudget,
    pub metrics: Arc<Metrics>,
}

struct Inner {
    store: Store,
    agent: Agent,
    integrations: Vec<Arc<dyn IntegrationProbe>>,
    settings: ServiceSettings,
    shed: ShedGate,
    rate_limiter: RateLimiter,
    budget: SpendBudget,
    metrics: Arc<Metrics>,
    started_at: Instant,
    draining: AtomicBool,
    slack_events: Option<Arc<tria_console::SlackEvents>>,
    /// Tenants' sealed secrets; `None` when no master key is configured.
    secrets: Option<tria_secrets::SecretStore>,
    /// The LLM cost ledger's writer (`None` in states built without one, e.g. some tests).
    ledger: Option<Arc<tria_agent::ledger::LlmLedger>>,
    /// Tenants' own Xero connections; `None` without `[integrations.xero_app]`.
    xero_tenants: Option<Arc<crate::xero_connect::XeroTenants>>,
    /// The retention job's figures (`None` until the job is started).
    retention: Option<Arc<tria_store::retention::RetentionTotals>>,
    /// Each tenant's own helpdesk, Slack and LLM (`None`: every tenant uses the deployment's).
    tenant_integrations: Option<Arc<crate::tenant_integrations::TenantIntegrations>>,
    insights: tria_console::CustomerInsights,
    auth_cache: crate::auth_cache::AuthCache,
    /// The HTTP server's connection counters (passed to [`crate::serve`] through its options).
    connection_stats: Arc<crate::serve::ConnectionStats>,
}

/// Cheap to clone; every clone shares the same components.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

impl AppState {
    /// A state with per-instance rate limits (no Redis).
    pub fn new(store: Store, agent: Agent, integrations: Vec<Arc<dyn IntegrationProbe>>, settings: ServiceSettings) -> Self {
        let limiter = RateLimiter::local(&settings.limits);
        Self::with_rate_limiter(store, agent, integrations, settings, limiter)
    }

    /// A state whose rate limits come from `rate_limiter` (shared through Redis when it has one)
    /// and whose spend budgets are per instance.
    pub fn with_rate_limiter(
        store: Store,
        agent: Agent,
        integrations: Vec<Arc<dyn IntegrationProbe>>,
        settings: ServiceSettings,
        rate_limiter: RateLimiter,
    ) -> Self {
        let guards = Guards { budget: SpendBudget::local(settings.limits.budget), rate_limiter, metrics: Arc::new(Metrics::new()) };
        Self::with_guards(store, agent, integrations, settings, guards)
    }

    /// A state from components built beforehand — the metrics and budget are shared with the
    /// LLM observer wrapped around the agent's client ([`tria_admission::observe`]).
    pub fn with_guards(
        store: Store,
        agent: Agent,
        integrations: Vec<Arc<dyn IntegrationProbe>>,
        settings: ServiceSettings,
        guards: Guards,
    ) -> Self {
        let Guards { rate_limiter, budget, metrics } = guards;
        // Revocations reach every replica on the cache's channel (with Redis).
        let auth_cache = crate::auth_cache::AuthCache::new(settings.auth_cache_ttl).sharing(agent.answer_cache().invalidation_bus());
        Self {
            inner: Arc::new(Inner {
                store,
                agent,
                integrations,
                shed: ShedGate::from_limits(&settings.limits),
                connection_stats: Arc::new(crate::serve::ConnectionStats::default()),
                rate_limiter,
                budget,
                metrics,
                auth_cache,
                settings,
                started_at: Instant::now(),
                draining: AtomicBool::new(false),
                slack_events: None,
                secrets: None,
                ledger: None,
                xero_tenants: None,
                retention: None,
                tenant_integrations: None,
                insights: tria_console::CustomerInsights::default(),
            }),
        }
    }

    /// Enables `POST /integrations/slack/events` (call before the state is shared).
    pub fn with_slack_events(mut self, events: tria_console::SlackEvents) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.slack_events = Some(Arc::new(events)),
            None => tracing::error!("Slack events set after the state was shared; ignored"),
        }
        self
    }

    /// Records cache hits in the LLM cost ledger (its calls reach it through the observed
    /// clients) and flushes it on shutdown (call before the state is shared).
    pub fn with_ledger(mut self, ledger: Arc<tria_agent::ledger::LlmLedger>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.ledger = Some(ledger),
            None => tracing::error!("ledger set after the state was shared; ignored"),
        }
        self
    }

    /// The LLM cost ledger, when on.
    pub fn ledger(&self) -> Option<&Arc<tria_agent::ledger::LlmLedger>> {
        self.inner.ledger.as_ref()
    }

    /// Enables the tenant secrets API (call before the state is shared).
    pub fn with_secrets(mut self, secrets: tria_secrets::SecretStore) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.secrets = Some(secrets),
            None => tracing::error!("secrets set after the state was shared; ignored"),
        }
        self
    }

    /// Tenants' own helpdesks, Slack and LLMs (call before the state is shared).
    pub fn with_tenant_integrations(mut self, own: Arc<crate::tenant_integrations::TenantIntegrations>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.tenant_integrations = Some(own),
            None => tracing::error!("tenant integrations set after the state was shared; ignored"),
        }
        self
    }

    pub fn tenant_integrations(&self) -> Option<&crate::tenant_integrations::TenantIntegrations> {
        self.inner.tenant_integrations.as_deref()
    }

    /// Enables connecting tenants' own Xero (call before the state is shared).
    pub fn with_xero_tenants(mut self, xero: Arc<crate::xero_connect::XeroTenants>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.xero_tenants = Some(xero),
            None => tracing::error!("Xero tenants set after the state was shared; ignored"),
        }
        self
    }

    /// Reports the retention job's figures in `/metrics` (call before the state is shared).
    pub fn with_retention(mut self, totals: Arc<tria_store::retention::RetentionTotals>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.retention = Some(totals),
            None => tracing::error!("retention figures set after the state was shared; ignored"),
        }
        self
    }

    pub(crate) fn retention(&self) -> Option<&tria_store::retention::RetentionTotals> {
        self.inner.retention.as_deref()
    }

    pub fn xero_tenants(&self) -> Option<&crate::xero_connect::XeroTenants> {
        self.inner.xero_tenants.as_deref()
    }

    /// The tenants' secrets, for the admin API and the per-tenant integrations.
    pub fn secrets(&self) -> Option<&tria_secrets::SecretStore> {
        self.inner.secrets.as_ref()
    }

    pub(crate) fn slack_events(&self) -> Option<&tria_console::SlackEvents> {
        self.inner.slack_events.as_deref()
    }

    pub(crate) fn auth_cache(&self) -> &crate::auth_cache::AuthCache {
        &self.inner.auth_cache
    }

    pub(crate) fn insights(&self) -> &tria_console::CustomerInsights {
        &self.inner.insights
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn agent(&self) -> &Agent {
        &self.inner.agent
    }
    pub fn integrations(&self) -> &[Arc<dyn IntegrationProbe>] {
        &self.inner.integrations
    }
    pub fn settings(&self) -> &ServiceSettings {
        &self.inner.settings
    }
    pub fn shed_gate(&self) -> &ShedGate {
        &self.inner.shed
    }
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.rate_limiter
    }
    pub fn budget(&self) -> &SpendBudget {
        &self.inner.budget
    }
    /// The counters to hand to [`crate::serve`] so `/metrics` shows its connections.
    pub fn connection_stats(&self) -> Arc<crate::serve::ConnectionStats> {
        self.inner.connection_stats.clone()
    }
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
    pub fn uptime(&self) -> Duration {
        self.inner.started_at.elapsed()
    }

    /// Marks the service as shutting down: readiness fails so load balancers stop sending.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }
}
