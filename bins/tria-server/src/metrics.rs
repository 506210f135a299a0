//! `GET /metrics`: Prometheus (OpenMetrics text), every series prefixed `tria_`. Request
//! figures are recorded as requests pass; cache, pool, limiter and process figures are read
//! at scrape time. Labels are bounded: the route template (never the raw path), the status,
//! the tenant slug and the cache level — no session ids or message text.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    tenant: String,
    level: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LlmCallLabels {
    tenant: String,
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LlmLatencyLabels {
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LlmTokenLabels {
    tenant: String,
    model: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LlmSpendLabels {
    tenant: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    integration: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct XeroConnectionLabels {
    tenant: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LlmProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FallbackLabels {
    reason: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The metrics recorded as requests pass.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    chat_duration: Histogram,
    llm: LlmFamilies,
}

/// LLM calls as reported by the LLM observer (`tria_admission::observe`). The tenant label is the slug (bounded by
/// the tenant count), the model the configured one (not the upstream's dated snapshot name).
#[derive(Debug)]
struct LlmFamilies {
    requests: Family<LlmCallLabels, Counter>,
    duration: Family<LlmLatencyLabels, Histogram, fn() -> Histogram>,
    tokens: Family<LlmTokenLabels, Counter>,
    cost: Family<LlmSpendLabels, Counter<f64, AtomicU64>>,
}

impl Default for LlmFamilies {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            tokens: Family::default(),
            cost: Family::default(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tria");
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let chat_duration = latency_histogram();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route template and status", duration.clone());
        registry.register("chat_duration_seconds", "Latency of answered chat requests (status 200)", chat_duration.clone());
        let llm = LlmFamilies::default();
        registry.register("llm_requests", "LLM calls by tenant, model and outcome (ok, error, cancelled)", llm.requests.clone());
        registry.register("llm_request_duration_seconds", "LLM call latency by model and outcome", llm.duration.clone());
        registry.register("llm_tokens", "LLM tokens by tenant, model and direction (input, output)", llm.tokens.clone());
        registry.register("llm_cost_dollars", "LLM spend in US dollars by tenant and model (price table)", llm.cost.clone());
        Self { registry, requests, duration, chat_duration, llm }
    }

    /// Records one finished LLM call.
    pub fn observe_llm(&self, record: &tria_llm::CallRecord) {
        let tenant = record.context.as_ref().map_or_else(|| "unattributed".to_owned(), |c| c.tenant_slug.clone());
        let outcome = record.outcome.as_str().to_owned();
        let model = record.model.clone();
        self.llm.requests.get_or_create(&LlmCallLabels { tenant: tenant.clone(), model: model.clone(), outcome: outcome.clone() }).inc();
        self.llm.duration.get_or_create(&LlmLatencyLabels { model: model.clone(), outcome }).observe(record.latency.as_secs_f64());
        if let Some(usage) = record.usage {
            for (direction, n) in [("input", usage.prompt_tokens), ("output", usage.completion_tokens)] {
                let labels = LlmTokenLabels { tenant: tenant.clone(), model: model.clone(), direction: direction.to_owned() };
                self.llm.tokens.get_or_create(&labels).inc_by(u64::from(n));
            }
        }
        if record.cost_usd > 0.0 {
            self.llm.cost.get_or_create(&LlmSpendLabels { tenant, model }).inc_by(record.cost_usd);
        }
    }

    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { route: route.to_owned(), method: method.to_owned(), status }).inc();
        self.duration.get_or_create(&RouteLabels { route: route.to_owned(), status }).observe(seconds);
        if status == 200 && is_chat_route(route) {
            self.chat_duration.observe(seconds);
        }
    }

    /// How many requests have been recorded with this route and status (tests, alerts).
    pub fn request_count(&self, route: &str, method: &str, status: u16) -> u64 {
        self.requests.get_or_create(&RequestLabels { route: route.to_owned(), method: method.to_owned(), status }).get()
    }
}

/// The metrics see every LLM call through the admission observer (`tria_admission::observe`).
impl tria_llm::LlmObserver for Metrics {
    fn on_call(&self, record: &tria_llm::CallRecord) {
        self.observe_llm(record);
    }
}

fn is_chat_route(route: &str) -> bool {
    route == "/api/chat" || route == "/api/v1/chat/stream" || route == "/v1/chat/completions"
}

/// Middleware (added with `Router::layer`, so the matched route template is known).
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics().observe(&route, &method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// Figures read when scraped, registered into a fresh registry each time.
async fn scrape_time_registry(state: &AppState) -> Registry {
    let mut r = Registry::with_prefix("tria");

    let build = Family::<BuildLabels, Gauge>::default();
    build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION").to_owned() }).set(1);
    r.register("build_info", "Build information (always 1)", build);
    let uptime = Gauge::<f64, AtomicU64>::default();
    uptime.set(state.uptime().as_secs_f64());
    r.register("uptime_seconds", "Seconds since the process started serving", uptime);

    let gate = state.shed_gate();
    let in_flight = Gauge::<i64>::default();
    in_flight.set(i64::try_from(gate.in_flight()).unwrap_or(i64::MAX));
    r.register("chat_in_flight", "Chat requests being processed now", in_flight);
    let capacity = Gauge::<i64>::default();
    capacity.set(i64::try_from(gate.max_in_flight()).unwrap_or(i64::MAX));
    r.register("chat_in_flight_max", "Configured maximum of concurrent chat requests", capacity);
    let waiting = Gauge::<i64>::default();
    waiting.set(i64::try_from(gate.waiting()).unwrap_or(i64::MAX));
    r.register("chat_queue_waiting", "Chat requests waiting for a slot", waiting);
    let shed = Counter::<u64>::default();
    shed.inc_by(gate.shed_total());
    r.register("shed", "Requests refused with 503 because the chat gate was full", shed);
    let shed_share = Counter::<u64>::default();
    shed_share.inc_by(gate.shed_share_total());
    r.register("shed_share", "Requests refused with 503 because their tenant or widget key held its share of the chat gate", shed_share);
    register_connection_stats(&mut r, &state.connection_stats());

    let limiter = state.rate_limiter();
    let limited = Counter::<u64>::default();
    limited.inc_by(limiter.limited_total());
    r.register("rate_limited", "Requests refused with 429 by the per-tenant rate limit", limited);
    let fallbacks = Counter::<u64>::default();
    fallbacks.inc_by(limiter.fallback_total());
    r.register("rate_limit_fallbacks", "Rate-limit checks decided per instance because Redis failed or was known down", fallbacks);
    let faults = Counter::<u64>::default();
    faults.inc_by(limiter.faults_total());
    r.register(
        "rate_limit_faults",
        "Rate-limit checks that met a fault and were decided fail-safe (a stored setting out of range, a poisoned lock)",
        faults,
    );
    if let Some(up) = limiter.shared_up() {
        let shared_up = Gauge::<i64>::default();
        shared_up.set(i64::from(up));
        r.register(
            "rate_limit_shared_up",
            "1 while rate limits are shared through Redis, 0 while each instance limits on its own",
            shared_up,
        );
        let transitions = Counter::<u64>::default();
        transitions.inc_by(limiter.shared_transitions());
        r.register("rate_limit_shared_transitions", "Switches between shared (Redis) and per-instance rate limits", transitions);
    }

    let pool = state.store().pool_stats();
    let labels = PoolLabels { backend: pool.backend.to_owned() };
    for (name, help, value) in [
        ("db_pool_connections", "Open database connections", pool.size),
        ("db_pool_idle", "Idle database connections", pool.idle),
        ("db_pool_in_use", "Database connections in use", pool.in_use),
        ("db_pool_max", "Configured maximum of database connections", pool.max_connections),
    ] {
        let family = Family::<PoolLabels, Gauge>::default();
        family.get_or_create(&labels).set(i64::from(value));
        r.register(name, help, family);
    }
    let db_retries = Counter::<u64>::default();
    db_retries.inc_by(state.store().connection().retries());
    r.register(
        "db_retries",
        "Reads run again on a fresh connection because theirs was lost (a terminated backend, a reset socket)",
        db_retries,
    );

    let budget = state.budget();
    let refused = Counter::<u64>::default();
    refused.inc_by(budget.refused_total());
    r.register("budget_refused", "Requests refused with 429 because the tenant's LLM spend budget was spent", refused);
    let budget_fallbacks = Counter::<u64>::default();
    budget_fallbacks.inc_by(budget.fallback_total());
    r.register("budget_fallbacks", "Spend-budget reads or writes served per instance because Redis failed", budget_fallbacks);

    let verification = state.agent().verification_stats();
    for (name, help, value) in [
        (
            "customer_verification_failures",
            "Chat customer verifications (number and account email) that did not match",
            verification.failures,
        ),
        (
            "customer_verification_lockouts",
            "Failed customer verifications that reached a limit (per session, customer number or client)",
            verification.lockouts,
        ),
        ("customer_verification_refused", "Customer verifications refused unchecked because a limit was reached", verification.refused),
    ] {
        let counter = Counter::<u64>::default();
        counter.inc_by(value);
        r.register(name, help, counter);
    }

    health_metrics(state, &mut r).await;
    integration_metrics(state, &mut r);
    xero_connection_metrics(state, &mut r).await;
    llm_guard_metrics(state, &mut r);
    outbox_metrics(state, &mut r).await;
    cache_metrics(state, &mut r).await;
    retention_metrics(state, &mut r);
    process_metrics(&mut r);
    r
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetentionKindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetentionRunLabels {
    outcome: &'static str,
}

/// What this replica's retention passes deleted, by kind, and how its passes ended (`skipped`:
/// another replica held the retention lock). Summed over replicas, the deletions are the total.
fn retention_metrics(state: &AppState, r: &mut Registry) {
    let Some(totals) = state.retention() else { return };
    let t = totals.snapshot();
    let deleted = Family::<RetentionKindLabels, Counter>::default();
    for (kind, n) in [
        ("conversations", t.removed.conversations),
        ("messages", t.removed.messages),
        ("escalations", t.removed.escalations),
        ("audit_entries", t.removed.audit_entries),
    ] {
        deleted.get_or_create(&RetentionKindLabels { kind }).inc_by(n);
    }
    r.register("retention_deleted", "Rows deleted by this replica's retention passes, by kind", deleted);
    let runs = Family::<RetentionRunLabels, Counter>::default();
    for (outcome, n) in [("done", t.runs_done), ("skipped", t.runs_skipped), ("failed", t.runs_failed)] {
        runs.get_or_create(&RetentionRunLabels { outcome }).inc_by(n);
    }
    r.register("retention_runs", "Retention passes tried by this replica, by outcome", runs);
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    component: String,
}

fn health_code(status: crate::HealthStatus) -> i64 {
    match status {
        crate::HealthStatus::Ok => 0,
        crate::HealthStatus::Degraded => 1,
        crate::HealthStatus::Down => 2,
    }
}

/// The same checks as `/health` (each bounded by its deadline), so alerts and probes agree.
async fn health_metrics(state: &AppState, r: &mut Registry) {
    let report = crate::health::report(state).await;
    let overall = Gauge::<i64>::default();
    overall.set(health_code(report.status));
    r.register("health_status", "Overall health: 0 ok, 1 degraded, 2 down", overall);
    let components = Family::<ComponentLabels, Gauge>::default();
    let latency = Family::<ComponentLabels, Gauge<f64, AtomicU64>>::default();
    for c in &report.components {
        let labels = ComponentLabels { component: c.name.clone() };
        components.get_or_create(&labels).set(health_code(c.status));
        latency.get_or_create(&labels).set(c.latency_ms as f64 / 1000.0);
    }
    r.register(
        "health_component_status",
        "Per component (database, cache, integrations …): 0 ok, 1 degraded (e.g. breaker open), 2 down",
        components,
    );
    r.register("health_check_latency_seconds", "How long each component's health check took", latency);
}

/// Each integration's breaker position from its probe: 0 closed (ok), 1 open (calls held back),
/// 2 down; a probe over tenants' own connections adds an entry per tenant needing attention
/// (`xero:<slug>` revoked or its breaker open), as `/health` does.
fn integration_metrics(state: &AppState, r: &mut Registry) {
    let family = Family::<IntegrationLabels, Gauge>::default();
    for status in state.integrations().iter().flat_map(|probe| probe.statuses()) {
        let code = match status.state {
            tria_integrations::IntegrationState::Ok => 0,
            tria_integrations::IntegrationState::Degraded => 1,
            tria_integrations::IntegrationState::Down => 2,
        };
        family.get_or_create(&IntegrationLabels { integration: status.name }).set(code);
    }
    r.register("integration_breaker_state", "Per integration: 0 closed/ok, 1 open (calls held back), 2 down", family);
}

/// The state of each tenant's own Xero connection, when tenants connect their own
/// (`[integrations.xero_app]`): `tria_xero_connection{tenant, state}` is 1 for the tenant's state
/// (`connected`, `revoked` or `none`) and 0 for the other two, so `tria_xero_connection{state="revoked"} == 1`
/// alerts on a client whose invoicing is on hold. Read from the store on scrape, so every replica
/// reports a revocation whichever one met it; a failed read leaves the series out.
async fn xero_connection_metrics(state: &AppState, r: &mut Registry) {
    const STATES: [&str; 3] = ["connected", "revoked", "none"];
    if state.xero_tenants().is_none() {
        return;
    }
    let store = state.store();
    let (tenants, connections) = (store.tenants(), store.xero_connections());
    let (tenants, connections) = match tokio::try_join!(tenants.list(), connections.list()) {
        Ok(read) => read,
        Err(err) => {
            tracing::debug!(error = %err, "reading Xero connections for /metrics failed");
            return;
        }
    };
    let by_tenant: std::collections::HashMap<uuid::Uuid, &str> =
        connections.iter().map(|c| (c.tenant_id, if c.is_connected() { "connected" } else { "revoked" })).collect();
    let family = Family::<XeroConnectionLabels, Gauge>::default();
    for tenant in &tenants {
        let current = by_tenant.get(&tenant.id.0).copied().unwrap_or("none");
        for s in STATES {
            family.get_or_create(&XeroConnectionLabels { tenant: tenant.slug.clone(), state: s.to_owned() }).set(i64::from(s == current));
        }
    }
    r.register(
        "xero_connection",
        "Per tenant, its own Xero connection: 1 for its state (connected, revoked, none), 0 for the others",
        family,
    );
}

/// The LLM providers' breakers (`tria_llm_breaker_state{provider}`: 0 closed, 1 half-open, 2
/// open; `tria_llm_held_back{provider}`: 1 while a 429's `Retry-After` holds it back) and the
/// turns the grounded responder answered instead (`tria_llm_fallbacks_total{reason}`).
fn llm_guard_metrics(state: &AppState, r: &mut Registry) {
    let guard = state.agent().llm_guard();
    let breakers = Family::<LlmProviderLabels, Gauge>::default();
    let held = Family::<LlmProviderLabels, Gauge>::default();
    let opened = Family::<LlmProviderLabels, Counter>::default();
    for p in guard.providers() {
        let labels = LlmProviderLabels { provider: p.provider.clone() };
        breakers.get_or_create(&labels).set(i64::from(p.breaker.state.as_gauge()));
        held.get_or_create(&labels).set(i64::from(p.held_back_ms.is_some()));
        opened.get_or_create(&labels).inc_by(p.breaker.opened_total);
    }
    r.register("llm_breaker_state", "Per LLM provider: 0 closed, 1 half-open (probing), 2 open (turns fall back at once)", breakers);
    r.register("llm_held_back", "Per LLM provider: 1 while a 429's Retry-After holds it back", held);
    r.register("llm_breaker_opened", "Times each LLM provider's breaker opened since start", opened);
    let fallbacks = Family::<FallbackLabels, Counter>::default();
    for (reason, count) in guard.fallbacks() {
        fallbacks.get_or_create(&FallbackLabels { reason: reason.as_str().to_owned() }).inc_by(count);
    }
    r.register("llm_fallbacks", "Turns the grounded responder answered instead of the configured LLM, by reason", fallbacks);
}

/// Outbox work not done yet, per kind: rows pending or leased, and the oldest one's age. Read
/// from the store on scrape (one grouped query); a failed read leaves the series out, which
/// `absent()`-style alerts and the database alerts cover.
async fn outbox_metrics(state: &AppState, r: &mut Registry) {
    let depth = Family::<OutboxLabels, Gauge>::default();
    let age = Family::<OutboxLabels, Gauge<f64, AtomicU64>>::default();
    match state.store().outbox().backlog().await {
        Ok(backlog) => {
            let now = chrono::Utc::now();
            for kind in [tria_store::repo::INVOICE_OUTBOX_KIND.to_owned()].into_iter().chain(backlog.iter().map(|b| b.kind.clone())) {
                let labels = OutboxLabels { kind };
                let _ = depth.get_or_create(&labels);
                let _ = age.get_or_create(&labels);
            }
            for b in backlog {
                let labels = OutboxLabels { kind: b.kind };
                depth.get_or_create(&labels).set(i64::try_from(b.depth).unwrap_or(i64::MAX));
                let seconds = b.oldest_created_at.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
                age.get_or_create(&labels).set(seconds);
            }
        }
        Err(err) => tracing::debug!(error = %err, "reading the outbox backlog for /metrics failed"),
    }
    r.register("outbox_depth", "Outbox rows not done yet (pending or leased) by kind", depth);
    r.register("outbox_oldest_age_seconds", "Age of the oldest outbox row not done yet, by kind (0 when none)", age);
}

async fn cache_metrics(state: &AppState, r: &mut Registry) {
    let hits = Family::<CacheLabels, Counter>::default();
    let misses = Family::<CacheLabels, Counter>::default();
    let fallbacks = Family::<CacheLabels, Counter>::default();
    let entries = Family::<CacheLabels, Gauge>::default();
    let tokens_saved = Family::<TenantLabels, Counter>::default();
    let degraded = Gauge::<i64>::default();
    let cache = state.agent().answer_cache();
    let tenants = state.store().tenants().list().await.unwrap_or_default();
    for tenant in &tenants {
        let stats = cache.stats(tenant.id).await;
        degraded.set(i64::from(stats.degraded));
        tokens_saved.get_or_create(&TenantLabels { tenant: tenant.slug.clone() }).inc_by(stats.tokens_saved);
        for level in &stats.levels {
            let labels = CacheLabels { tenant: tenant.slug.clone(), level: level.level.clone() };
            hits.get_or_create(&labels).inc_by(level.hits);
            misses.get_or_create(&labels).inc_by(level.misses);
            fallbacks.get_or_create(&labels).inc_by(level.fallbacks);
            entries.get_or_create(&labels).set(i64::try_from(level.entries).unwrap_or(i64::MAX));
        }
    }
    r.register("cache_hits", "Cache hits by tenant and level", hits);
    r.register("cache_misses", "Cache misses by tenant and level", misses);
    r.register("cache_fallbacks", "Lookups served from memory because Redis was down or slow", fallbacks);
    r.register("cache_entries", "Live cache entries by tenant and level", entries);
    r.register("cache_tokens_saved", "LLM tokens saved by cached answers", tokens_saved);
    r.register("cache_degraded", "1 while the shared cache (Redis) is degraded and memory serves", degraded);
    let transitions = Counter::<u64>::default();
    transitions.inc_by(cache.backend().stats().transitions);
    r.register("cache_transitions", "Switches of the shared cache between Redis and memory, both directions", transitions);
}

/// Resident memory and CPU time from `/proc/self` (Linux); absent elsewhere.
fn process_metrics(r: &mut Registry) {
    if let Some(rss) = read_rss_bytes() {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(rss).unwrap_or(i64::MAX));
        r.register("process_resident_memory_bytes", "Resident set size", g);
    }
    if let Some(ticks) = read_cpu_ticks() {
        // USER_HZ is 100 on every Linux platform we ship to.
        let seconds = ticks as f64 / 100.0;
        let c = Counter::<f64, AtomicU64>::default();
        c.inc_by(seconds);
        r.register("process_cpu_seconds", "User and system CPU time used by the process", c);
    }
    if let Some(fds) = std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count) {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(fds).unwrap_or(i64::MAX));
        r.register("process_open_fds", "Open file descriptors", g);
    }
}

fn read_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn read_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let dynamic = scrape_time_registry(&state).await;
    let mut text = String::with_capacity(16 * 1024);
    let encoded = encode_registry(&mut text, &state.metrics().registry)
        .and_then(|()| encode_registry(&mut text, &dynamic))
        .and_then(|()| encode_eof(&mut text));
    if let Err(err) = encoded {
        return crate::ApiError::internal(format!("encoding metrics: {err}")).into_response();
    }
    ([(http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

/// The HTTP server's connection figures ([`crate::serve`]).
fn register_connection_stats(r: &mut Registry, stats: &crate::serve::ConnectionStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let open = Gauge::<i64>::default();
    open.set(i64::try_from(stats.open.load(Relaxed)).unwrap_or(i64::MAX));
    r.register("http_connections_open", "Client connections open now", open);
    let lingering = Gauge::<i64>::default();
    lingering.set(i64::try_from(stats.lingering.load(Relaxed)).unwrap_or(i64::MAX));
    r.register("http_connections_lingering", "Closed connections still discarding what their client sends", lingering);
    let accepted = Counter::<u64>::default();
    accepted.inc_by(stats.accepted.load(Relaxed));
    r.register("http_connections_accepted", "Client connections accepted", accepted);
    let closed = Family::<Vec<(String, String)>, Counter>::default();
    for (reason, counter) in [
        ("header_timeout", &stats.header_timeouts),
        ("idle_timeout", &stats.idle_timeouts),
        ("write_timeout", &stats.write_timeouts),
        ("evicted", &stats.evicted),
        ("refused", &stats.refused),
    ] {
        closed.get_or_create(&vec![("reason".to_owned(), reason.to_owned())]).inc_by(counter.load(Relaxed));
    }
    r.register("http_connections_closed", "Connections the server closed or refused, by reason", closed);
    let chats = Counter::<u64>::default();
    chats.inc_by(stats.chat_streams_refused.load(Relaxed));
    r.register("chat_open_refused", "Chat requests refused with 429: too many open on one connection or through one key", chats);
}
