//! `cluster`: N tria-server replicas (default 3) on loopback behind HAProxy, on one scratch
//! PostgreSQL database and a private redis-server, invoicing into one Xero fake. It measures a
//! mixed load with 1, 2 and 3 replicas (no faults), then runs it through a sequence of faults
//! (`kill -9` and restart, PostgreSQL backends terminated, Redis killed and restarted, a rolling
//! restart) and checks the store afterwards. Exit 1 when a check fails. docs/LOAD_TESTING.md.

mod checks;
mod faults;
mod load;
mod stack;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tria_core::ApiRole;
use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};
use tria_store::{DbOptions, Store};

use self::load::{Figures, Keys, LoadConfig};
use self::stack::{Stack, StackConfig};

/// The per-customer limit the replicas run with (config/default.toml's), checked afterwards.
const CUSTOMER_PER_SECOND: f64 = 2.0;
const CUSTOMER_BURST: u64 = 10;

#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// Replicas behind the load balancer in the fault run.
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Mixed load while the faults are injected, e.g. 90s or 5m (the faults take what they take).
    #[arg(long, default_value = "150s", value_parser = parse_duration)]
    duration: Duration,
    /// The brief variant CI runs: debug binaries, 8 users, 6 s per throughput step, 25 s of faults' gaps.
    #[arg(long)]
    short: bool,
    /// Build profile of the binaries (default release; debug with --short).
    #[arg(long, value_parser = ["release", "debug"])]
    build: Option<String>,
    /// Simulated customers, each going through flows one after another without think time.
    #[arg(long)]
    users: Option<usize>,
    /// Seconds of the no-fault throughput run with 1, 2, … replicas (0: skip them).
    #[arg(long)]
    scaling_seconds: Option<u64>,
    /// Latency of the mock LLM behind every replica (jitter a quarter of it).
    #[arg(long, default_value_t = 300)]
    llm_latency_ms: u64,
    /// The PostgreSQL server; a scratch database is created on it and dropped afterwards.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Leave the scratch database in place (its name is printed).
    #[arg(long)]
    keep_database: bool,
    /// Replicas without the embedding model (rule intents, no semantic cache): they start in
    /// seconds in a debug build instead of most of a minute. Default with --short.
    #[arg(long)]
    no_model: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration like 90s or 5m"))?;
    match unit {
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{s}`: use s or m")),
    }
}

pub(crate) fn run(args: &ClusterArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=9).contains(&args.replicas), "--replicas takes 1 to 9");
    let profile = args.build.clone().unwrap_or_else(|| if args.short { "debug".into() } else { "release".into() });
    let bin_dir = stack::build(&profile)?;
    stack::ensure_haproxy()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let passed = runtime.block_on(cluster(args, &profile, bin_dir))?;
    anyhow::ensure!(passed, "cluster run: a check failed (see above)");
    Ok(())
}

async fn cluster(args: &ClusterArgs, profile: &str, bin_dir: std::path::PathBuf) -> anyhow::Result<bool> {
    let users = args.users.unwrap_or(if args.short { 8 } else { 24 });
    let scaling_seconds = args.scaling_seconds.unwrap_or(if args.short { 6 } else { 30 });
    let duration = if args.short { args.duration.min(Duration::from_secs(25)) } else { args.duration };
    let fake = FakeXero::start(FakeXeroConfig::default()).await.context("starting the Xero fake")?;
    let xero = fake.config().clone();
    let mut stack = Stack::start(
        bin_dir,
        &StackConfig {
            admin_url: args.postgres.clone(),
            replicas: args.replicas,
            llm_latency_ms: args.llm_latency_ms,
            xero_base_url: fake.base_url(),
            xero_token_url: fake.token_url(),
            xero_client_id: xero.client_id,
            xero_client_secret: xero.client_secret,
            xero_tenant_id: xero.xero_tenant_id,
            keep_database: args.keep_database,
            no_model: args.no_model || args.short,
        },
    )?;
    println!(
        "xtask cluster: {} replicas ({profile}), database {}, redis :{}, HAProxy {}, logs in {}",
        args.replicas,
        stack.database,
        stack.redis_port,
        stack.lb_url(),
        stack.log_dir().display()
    );
    let began = Instant::now();
    let keys = seed(&stack.database_url(), Path::new("fixtures")).await?;
    stack.start_replicas(1).await?;
    stack.balance(1).await?;
    load::warm(&stack.lb_url(), &keys).await;
    let since = chrono::Utc::now().to_rfc3339();
    let result = exercise(args, &mut stack, &fake, &keys, users, scaling_seconds, duration, &since).await;
    stack.keep_logs = !matches!(result, Ok(true));
    println!("cluster run: {:.0} s from seeding to the last check", began.elapsed().as_secs_f64());
    if result.as_ref().is_ok_and(|passed| !passed) {
        for r in &stack.replicas {
            let log = std::fs::read_to_string(stack.log_dir().join(format!("{}.log", r.name))).unwrap_or_default();
            let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).take(5).collect();
            if !errors.is_empty() {
                println!("--- {} errors (first 5) ---\n{}", r.name, errors.join("\n"));
            }
        }
    }
    drop(stack);
    result
}

#[allow(clippy::too_many_arguments)]
async fn exercise(
    args: &ClusterArgs,
    stack: &mut Stack,
    fake: &FakeXero,
    keys: &Keys,
    users: usize,
    scaling_seconds: u64,
    duration: Duration,
    since: &str,
) -> anyhow::Result<bool> {
    let base = stack.lb_url();
    let config = |stop: &Arc<AtomicBool>| LoadConfig { base: base.clone(), keys: keys.clone(), users, stop: stop.clone(), mixed: true };

    // Throughput with 1, 2, 3 replicas, no faults.
    let mut scaling = Vec::new();
    if scaling_seconds > 0 {
        for n in 1..=args.replicas.min(3) {
            stack.start_replicas(n).await?;
            stack.balance(n).await?;
            let stop = Arc::new(AtomicBool::new(false));
            let load = tokio::spawn(load::run(config(&stop)));
            tokio::time::sleep(Duration::from_secs(scaling_seconds)).await;
            stop.store(true, Ordering::Relaxed);
            let (ledger, seconds) = load.await??;
            let figures = ledger.figures(seconds);
            println!(
                "  {n} replica(s): {} replies in {:.1} s, {:.1}/s, p50 {:.1} ms, p99 {:.1} ms",
                figures.served, figures.seconds, figures.rps, figures.p50_ms, figures.p99_ms
            );
            scaling.push((n, figures));
        }
    }

    // The faults, under the mixed load.
    stack.start_replicas(args.replicas).await?;
    stack.balance(args.replicas).await?;
    println!("fault run: {users} users through {} replicas; faults {:.0} s apart", args.replicas, (duration / 5).as_secs_f64());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let load = tokio::spawn(load::run(config(&stop)));
    let gap = (duration / 5).max(Duration::from_secs(3));
    let fault_since = chrono::Utc::now().to_rfc3339();
    let faults = faults::run(stack, started, gap).await;
    let rest = duration.saturating_sub(started.elapsed()).max(gap);
    tokio::time::sleep(rest).await;
    stop.store(true, Ordering::Relaxed);
    let (ledger, seconds) = load.await??;
    let figures = ledger.figures(seconds);

    let store = connect(&stack.database_url()).await?;
    let drained = checks::wait_for_invoices(&store, Duration::from_secs(90)).await?;
    let terminated = faults.iter().find(|f| f.name.starts_with("terminate")).map(|f| f.wall);
    let mut results = checks::exchanges(&store, &ledger, &fault_since).await?;
    results.extend(checks::turn_order(&store, &ledger, since, terminated).await?);
    results.push(checks::invoices(&store, &ledger, fake, since, drained).await?);
    store.close().await;
    // After the store checks: the probe's own conversations are none of the load's.
    results.push(checks::rate_limit(&stack.lb_url(), &keys.velo, args.replicas, CUSTOMER_PER_SECOND, CUSTOMER_BURST).await?);

    report(&scaling, &faults, &ledger, &figures, &results);
    Ok(results.iter().all(|c| c.pass) && faults.iter().all(|f| f.ok))
}

fn report(scaling: &[(usize, Figures)], faults: &[faults::Fault], ledger: &load::Ledger, figures: &Figures, checks: &[checks::Check]) {
    if !scaling.is_empty() {
        println!(
            "\nthroughput, mixed load through HAProxy, no faults:\n| replicas | replies | seconds | replies/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|"
        );
        for (n, f) in scaling {
            println!("| {n} | {} | {:.1} | {:.1} | {:.1} | {:.1} |", f.served, f.seconds, f.rps, f.p50_ms, f.p99_ms);
        }
    }
    println!("\nfaults:");
    for f in faults {
        println!("  [{}] {:>6.1} s  {} ({:.1} s): {}", if f.ok { "ok" } else { "FAILED" }, f.at_s, f.name, f.took_s, f.note);
    }
    let flows: BTreeMap<_, _> = ledger.flows.iter().map(|(k, [ok, failed])| (*k, format!("{ok} ok/{failed} failed"))).collect();
    println!(
        "\nfault run: {} replies in {:.1} s ({:.1}/s, p50 {:.1} ms, p99 {:.1} ms); flows {flows:?}\n  outcomes of every send: {:?}",
        figures.served, figures.seconds, figures.rps, figures.p50_ms, figures.p99_ms, ledger.outcomes
    );
    println!("\nchecks:");
    for c in checks {
        let verdict = match (c.pass, c.known) {
            (false, _) => "FAIL",
            (true, true) => "KNOWN",
            (true, false) => "PASS",
        };
        println!("  [{verdict}] {}: {}", c.name, c.detail);
    }
}

async fn connect(url: &str) -> anyhow::Result<Store> {
    let mut options = DbOptions::new(url.to_owned());
    options.max_connections = 2;
    options.min_connections = 1;
    let mut tries = 0;
    loop {
        match Store::connect(&options).await {
            Ok(store) => return Ok(store),
            Err(e) if tries < 10 => {
                tries += 1;
                eprintln!("xtask cluster: database not reachable yet ({e}); again in 2 s");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e).context("connecting to the cluster's database"),
        }
    }
}

/// Migrates and seeds the demo tenants (before any replica starts, so none of them seeds),
/// gives the products stock for the whole run, and makes a key per tenant and an operator key.
async fn seed(url: &str, fixtures: &Path) -> anyhow::Result<Keys> {
    let store = connect(url).await?;
    store.migrate().await?;
    tria_agent::setup::seed_from_fixtures(&store, fixtures, &BTreeMap::new()).await?;
    use sea_orm::ConnectionTrait;
    store.connection().execute_unprepared("UPDATE products SET stock = 1000000 WHERE active").await?;
    let mut ids = Vec::new();
    let mut tenant_keys = Vec::new();
    for slug in ["northwind", "velo"] {
        let tenant = store.tenants().find_by_slug(slug).await?.with_context(|| format!("fixture tenant `{slug}`"))?;
        let (_, key) = store.keys().create(Some(tenant.id), ApiRole::Tenant, "xtask cluster").await?;
        tenant_keys.push(key);
        ids.push(tenant.id);
    }
    let (_, operator) = store.keys().create_operator("xtask cluster", &ids).await?;
    store.close().await;
    let velo = tenant_keys.pop().expect("two keys");
    let northwind = tenant_keys.pop().expect("two keys");
    Ok(Keys { northwind, velo, operator })
}
