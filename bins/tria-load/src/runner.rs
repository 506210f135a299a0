//! Runs one scenario against a target: warm-up, the closed or open load model, fault hooks at
//! their times, `/metrics` scrapes, the live progress bar; returns the scenario's report.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, watch};

use crate::client::{self, Message};
use crate::faults::FaultHooks;
use crate::report::{FaultRecord, Finished, ScenarioReport};
use crate::scenario::{Endpoint, LoadModel, Scenario};
use crate::script::{Conversation, ScriptBook, pick_weighted, pick_wording, word_turn};
use crate::server_metrics::{self, ServerFigures};
use crate::stats::{Sample, SharedTally};

/// A tenant the load is sent as.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantKey {
    pub slug: String,
    pub key: String,
    pub weight: f64,
}

/// What every scenario of a run shares.
#[derive(Debug)]
pub struct RunConfig {
    pub base_url: String,
    pub tenants: Vec<TenantKey>,
    pub scripts: ScriptBook,
    pub hooks: FaultHooks,
    pub progress: bool,
    pub seed: u64,
    /// Conversations already asked once in this run (the server's cache keeps them).
    pub warmed: Mutex<HashSet<String>>,
}

/// One tenant's share of a scenario.
#[derive(Clone, Debug)]
struct PlanTenant {
    slug: String,
    key: String,
    weight: f64,
    conversations: Vec<Conversation>,
}

#[derive(Clone, Debug)]
struct Plan {
    tenants: Vec<PlanTenant>,
}

impl Plan {
    fn build(cfg: &RunConfig, s: &Scenario) -> anyhow::Result<Self> {
        let mut tenants = Vec::new();
        for t in &cfg.tenants {
            let weight = if s.tenant_mix.is_empty() { t.weight } else { s.tenant_mix.get(&t.slug).copied().unwrap_or(0.0) };
            if weight <= 0.0 {
                continue;
            }
            // A scenario restricted to some conversations skips tenants that have none of them.
            match cfg.scripts.conversations(&t.slug, &s.conversations) {
                Ok(conversations) => tenants.push(PlanTenant { slug: t.slug.clone(), key: t.key.clone(), weight, conversations }),
                Err(e) if s.conversations.is_empty() => return Err(e.into()),
                Err(_) => {}
            }
        }
        for slug in s.tenant_mix.keys() {
            anyhow::ensure!(
                cfg.tenants.iter().any(|t| &t.slug == slug),
                "scenario `{}` mixes in tenant `{slug}`, which has no --tenant key",
                s.name
            );
        }
        anyhow::ensure!(!tenants.is_empty(), "scenario `{}`: no tenant has a key and matching conversations", s.name);
        Ok(Self { tenants })
    }
}

/// Where one simulated customer is in its visit.
#[derive(Clone, Debug, Default)]
struct Visit {
    tenant: usize,
    conversation: usize,
    turn: usize,
    session_id: Option<String>,
    started: bool,
}

impl Visit {
    /// The next message: (tenant index, text); starts a new visit when the last one ended.
    fn next(&mut self, plan: &Plan, s: &Scenario, rng: &mut StdRng) -> (usize, String) {
        let ended = !self.started || self.turn >= plan.tenants[self.tenant].conversations[self.conversation].turns.len();
        if ended {
            let weights: Vec<f64> = plan.tenants.iter().map(|t| t.weight).collect();
            self.tenant = pick_weighted(rng, &weights);
            let cw: Vec<f64> = plan.tenants[self.tenant].conversations.iter().map(|c| c.weight).collect();
            self.conversation = pick_weighted(rng, &cw);
            self.turn = 0;
            self.session_id = None;
            self.started = true;
        }
        let variants = &plan.tenants[self.tenant].conversations[self.conversation].turns[self.turn];
        let wording = pick_wording(rng, s.paraphrase_pct, s.novel_pct);
        self.turn += 1;
        (self.tenant, word_turn(rng, variants, wording))
    }
}

/// State the workers of one scenario share.
struct Shared {
    client: reqwest::Client,
    base_url: String,
    plan: Plan,
    scenario: Scenario,
    tally: SharedTally,
    start: Instant,
    stop: AtomicBool,
    active_users: AtomicU32,
}

impl Shared {
    /// Sends one message of `visit` and records it; `intended` is when it should have gone out.
    async fn exchange(&self, visit: &mut Visit, rng: &mut StdRng, intended: Instant) {
        let (tenant_index, text) = visit.next(&self.plan, &self.scenario, rng);
        let tenant = &self.plan.tenants[tenant_index];
        let stream = match self.scenario.endpoint {
            Endpoint::Chat => false,
            Endpoint::Stream => true,
            Endpoint::Mixed => rng.random_range(0.0..100.0) < self.scenario.stream_pct,
        };
        let message = Message {
            base_url: &self.base_url,
            key: &tenant.key,
            text: &text,
            session_id: visit.session_id.as_deref(),
            timeout: Duration::from_millis(self.scenario.timeout_ms),
        };
        let exchange =
            if stream { client::stream(&self.client, message, intended).await } else { client::chat(&self.client, message).await };
        let now = Instant::now();
        if exchange.session_id.is_some() {
            visit.session_id = exchange.session_id;
        }
        self.tally.record(&Sample {
            at: now.saturating_duration_since(self.start),
            latency: now.saturating_duration_since(intended),
            outcome: exchange.outcome,
            tenant: tenant.slug.clone(),
            stream: exchange.stream,
        });
    }
}

fn think_time(rng: &mut StdRng, mean_ms: u64) -> Duration {
    if mean_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(mean_ms as f64 / 1000.0 * rng.random_range(0.5..1.5))
}

/// Asks every canonical wording of the scenario's conversations once, in sessions, unmeasured.
async fn warm_up(cfg: &RunConfig, client: &reqwest::Client, plan: &Plan, timeout: Duration) {
    let mut visits = Vec::new();
    {
        let mut warmed = cfg.warmed.lock().unwrap_or_else(PoisonError::into_inner);
        for tenant in &plan.tenants {
            for c in &tenant.conversations {
                if warmed.insert(format!("{}/{}", tenant.slug, c.name)) {
                    visits.push((tenant.key.clone(), c.clone()));
                }
            }
        }
    }
    let runs = visits.into_iter().map(|(key, c)| {
        let (client, base_url) = (client.clone(), cfg.base_url.clone());
        async move {
            let mut session: Option<String> = None;
            for turn in &c.turns {
                let text = turn.first().cloned().unwrap_or_default();
                let m = Message { base_url: &base_url, key: &key, text: &text, session_id: session.as_deref(), timeout };
                let exchange = client::chat(&client, m).await;
                session = exchange.session_id.or(session);
            }
        }
    });
    futures::future::join_all(runs).await;
}

/// The closed model: `peak_users` tasks, each active while its index is below the stage's user
/// count, each sending, waiting for the answer, thinking, and sending again.
async fn run_closed(shared: Arc<Shared>, seed: u64, stop_rx: watch::Receiver<bool>) {
    let s = &shared.scenario;
    let users = s.peak_users().max(1);
    let first_stage_users = s.effective_stages().first().and_then(|st| st.users).unwrap_or(users).max(1);
    let ramp = Duration::from_secs_f64(s.ramp_up_s.max(0.0));
    let mut tasks = Vec::with_capacity(users as usize);
    for i in 0..users {
        let shared = shared.clone();
        let mut stop_rx = stop_rx.clone();
        // The first stage's users start spread over the ramp-up; later joiners start when active.
        let delay = if i < first_stage_users { ramp.mul_f64(f64::from(i) / f64::from(first_stage_users)) } else { Duration::ZERO };
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed ^ (u64::from(i) << 20));
            let mut visit = Visit::default();
            let mut sent = 0u32;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop_rx.changed() => return,
            }
            while !shared.stop.load(Ordering::Relaxed) {
                if i >= shared.active_users.load(Ordering::Relaxed) {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        _ = stop_rx.changed() => {}
                    }
                    continue;
                }
                if shared.scenario.requests_per_user.is_some_and(|n| sent >= n) {
                    break;
                }
                shared.exchange(&mut visit, &mut rng, Instant::now()).await;
                sent += 1;
                let pause = think_time(&mut rng, shared.scenario.think_time_ms);
                if !pause.is_zero() {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = stop_rx.changed() => {}
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// The open model: arrivals at the stage's rate from a fixed schedule; each request's latency
/// counts from its scheduled time, so waiting for a free slot (at most `users` in flight) or a
/// late send is part of the figure rather than hidden (coordinated omission).
async fn run_open(shared: Arc<Shared>, seed: u64) {
    let s = shared.scenario.clone();
    let slots = Arc::new(Semaphore::new(s.users.max(1) as usize));
    let idle_visits: Arc<Mutex<Vec<(Visit, StdRng)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    let mut stage_start = shared.start;
    let mut arrivals = 0u64;
    for stage in s.effective_stages() {
        let rate = stage.rate.or(s.rate).unwrap_or(0.0);
        let count = if rate > 0.0 { (rate * stage.duration_s).floor() as u64 } else { 0 };
        for k in 0..count {
            let intended = stage_start + Duration::from_secs_f64(k as f64 / rate);
            tokio::time::sleep_until(intended.into()).await;
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            arrivals += 1;
            let (shared, idle) = (shared.clone(), idle_visits.clone());
            let fresh_seed = seed ^ (arrivals << 20);
            tasks.push(tokio::spawn(async move {
                let popped = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let (mut visit, mut rng) = popped.unwrap_or_else(|| (Visit::default(), StdRng::seed_from_u64(fresh_seed)));
                shared.exchange(&mut visit, &mut rng, intended).await;
                idle.lock().unwrap_or_else(PoisonError::into_inner).push((visit, rng));
                drop(permit);
            }));
            // Keep the handle list from growing without bound in long runs.
            if tasks.len() > 4096 {
                tasks.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
            }
        }
        stage_start += Duration::from_secs_f64(stage.duration_s);
    }
    for task in tasks {
        let _ = task.await;
    }
}

fn progress_bar(s: &Scenario, visible: bool) -> ProgressBar {
    let (len, unit) = match s.requests_per_user {
        Some(n) if s.model == LoadModel::Closed && s.stages.is_empty() => (u64::from(n) * u64::from(s.users), "req"),
        _ => (s.planned_duration_s().ceil() as u64, "s"),
    };
    let bar = ProgressBar::with_draw_target(Some(len), if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let template = format!("{{prefix:>10}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(s.name.clone());
    bar
}

/// Runs one scenario and builds its report.
pub async fn run_scenario(cfg: &RunConfig, client: &reqwest::Client, scenario: Scenario) -> anyhow::Result<ScenarioReport> {
    scenario.validate()?;
    let plan = Plan::build(cfg, &scenario)?;
    if scenario.warmup {
        warm_up(cfg, client, &plan, Duration::from_millis(scenario.timeout_ms)).await;
    }
    let window = if scenario.requests_per_user.is_some() && scenario.stages.is_empty() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs_f64((scenario.planned_duration_s() / 150.0).max(1.0).round())
    };
    let before = server_metrics::scrape(client, &cfg.base_url).await;
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let start = Instant::now();
    let first_users = scenario.effective_stages().first().and_then(|st| st.users).unwrap_or(scenario.users);
    let shared = Arc::new(Shared {
        client: client.clone(),
        base_url: cfg.base_url.clone(),
        plan,
        scenario: scenario.clone(),
        tally: SharedTally::new(window),
        start,
        stop: AtomicBool::new(false),
        active_users: AtomicU32::new(first_users),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = {
        let shared = shared.clone();
        move || {
            shared.stop.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
        }
    };

    // Stages: switch the active user count on schedule; the end of the last stage (or the hard
    // bound, for runs counted in requests) stops the users.
    let counted = scenario.requests_per_user.is_some() && scenario.stages.is_empty() && scenario.model == LoadModel::Closed;
    let controller = {
        let shared = shared.clone();
        let stages = scenario.effective_stages();
        let max = Duration::from_secs_f64(scenario.max_duration_s);
        let stop = stop.clone();
        tokio::spawn(async move {
            if counted {
                tokio::time::sleep(max).await;
            } else {
                for stage in stages {
                    if let Some(u) = stage.users {
                        shared.active_users.store(u, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_secs_f64(stage.duration_s)).await;
                }
            }
            stop();
        })
    };

    // Faults at their times, in the background; records kept as they happen.
    let fault_records: Arc<Mutex<Vec<FaultRecord>>> = Arc::default();
    let faults = {
        let (hooks, records) = (cfg.hooks.clone(), fault_records.clone());
        let mut schedule = scenario.faults.clone();
        schedule.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        tokio::spawn(async move {
            for fault in schedule {
                tokio::time::sleep_until((start + Duration::from_secs_f64(fault.at_s.max(0.0))).into()).await;
                let record = hooks.run(&fault, start).await;
                records.lock().unwrap_or_else(PoisonError::into_inner).push(record);
            }
        })
    };

    // Scrapes (resident memory over time) and the progress bar.
    let rss_samples: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let bar = progress_bar(&scenario, cfg.progress);
    let watcher = {
        let (shared, rss_samples, bar, client, base) =
            (shared.clone(), rss_samples.clone(), bar.clone(), client.clone(), cfg.base_url.clone());
        let by_requests = counted;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                n += 1;
                let (requests, errors, rps, p95) = shared.tally.with(|t| {
                    let current = t.windows.len().saturating_sub(1);
                    // The last complete window gives a stable rate; the current one the freshest p95.
                    let rate_window = t.windows.get(current.saturating_sub(1)).map_or(0, |w| w.requests);
                    let p95 = t.windows.last().map_or(0.0, |w| w.latency.quantile_ms(0.95));
                    (t.requests, t.failed(), rate_window as f64 / t.window.as_secs_f64(), p95)
                });
                bar.set_position(if by_requests { requests } else { shared.start.elapsed().as_secs() });
                bar.set_message(format!("{rps:>7.1} rps  p95 {p95:>8.1} ms  errors {errors}"));
                if n.is_multiple_of(4)
                    && let Some(snap) = server_metrics::scrape(&client, &base).await
                    && let Some(rss) = snap.rss_bytes
                {
                    rss_samples.lock().unwrap_or_else(PoisonError::into_inner).push((shared.start.elapsed().as_secs_f64(), rss));
                }
            }
        })
    };

    let bound = Duration::from_secs_f64(scenario.max_duration_s) + Duration::from_millis(scenario.timeout_ms) + Duration::from_secs(5);
    let load = match scenario.model {
        LoadModel::Closed => tokio::spawn(run_closed(shared.clone(), cfg.seed, stop_rx)),
        LoadModel::Open => tokio::spawn(run_open(shared.clone(), cfg.seed)),
    };
    let abort = load.abort_handle();
    if tokio::time::timeout(bound, load).await.is_err() {
        abort.abort();
    }
    stop();
    let elapsed = start.elapsed();
    // Hooks scheduled past the end of the run are not run (one already running is cut short).
    for task in [controller, watcher, faults] {
        task.abort();
        let _ = task.await;
    }
    bar.finish_and_clear();
    let faults = std::mem::take(&mut *fault_records.lock().unwrap_or_else(PoisonError::into_inner));
    let after = server_metrics::scrape(client, &cfg.base_url).await;
    let rss_samples = std::mem::take(&mut *rss_samples.lock().unwrap_or_else(PoisonError::into_inner));
    let peak = rss_samples.iter().map(|(_, b)| *b).reduce(f64::max);
    let server = match (before, after) {
        (Some(b), Some(a)) => Some(ServerFigures::new(b, a, peak, elapsed)),
        _ => None,
    };
    Ok(ScenarioReport::build(Finished { scenario, started_at, elapsed, tally: shared.tally.take(), server, rss_samples, faults }))
}
