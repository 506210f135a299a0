//! `chaos orders`: the exactly-once fault run. N confirmed orders go through the invoice outbox
//! while the loopback Xero fake fails a share of requests at random (5xx, 429, slow answers past
//! the client timeout, connection resets, and answers dropped AFTER the invoice was committed),
//! and one worker is killed mid-run and replaced. Then every order is checked: invoiced exactly
//! once, or failed with its compensation; none lost, no duplicate invoice in the fake.
//! Loopback only; a fresh SQLite file unless `--database-url` names a PostgreSQL database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tria_core::{CustomerId, OrderStatus, TenantId, ToneProfile};
use tria_integrations::accounting::{Accounting, Guarded};
use tria_integrations::invoicing::{InvoiceWorker, InvoiceWorkerConfig};
use tria_integrations::resilience::{BreakerConfig, CircuitBreaker, RetryPolicy};
use tria_integrations::xero::XeroClient;
use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};
use tria_store::repo::{INVOICE_OUTBOX_KIND, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewTenant};
use tria_store::{DbOptions, Store};

#[derive(Debug, Args)]
pub(crate) struct ChaosArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Orders into the Xero fake under injected faults; checks exactly-once invoicing.
    Orders(OrdersArgs),
}

#[derive(Debug, Args)]
struct OrdersArgs {
    /// Confirmed orders to push through.
    #[arg(long, default_value_t = 1000)]
    orders: usize,
    /// Share of Xero requests that fail (0.0..=1.0).
    #[arg(long, default_value_t = 0.3)]
    fault_rate: f64,
    /// Concurrent workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Failed attempts per order before it is failed and compensated.
    #[arg(long, default_value_t = 12)]
    max_attempts: u32,
    /// A full Xero outage (every request fails) of this many seconds once half the orders are
    /// done, to open the circuit breaker; 0 for none.
    #[arg(long, default_value_t = 5)]
    outage_seconds: u64,
    /// Give up waiting for the queue to drain after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
    /// A PostgreSQL URL to run on (a fresh SQLite file otherwise). The run's tables are created
    /// by migration and rows are added; use a scratch database.
    #[arg(long)]
    database_url: Option<String>,
}

pub(crate) fn run(args: &ChaosArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match &args.which {
        Which::Orders(args) => runtime.block_on(orders(args)),
    }
}

const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);

fn xero_client(fake: &FakeXero) -> XeroClient {
    let retry = RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(1500),
        multiplier: 2.0,
        jitter: 0.5,
    };
    fake.client(retry, CLIENT_TIMEOUT)
}

fn worker_config(max_attempts: u32) -> InvoiceWorkerConfig {
    InvoiceWorkerConfig {
        // Longer than one job's worst case: 3 calls x 3 tries x (timeout + backoff).
        lease_for: Duration::from_secs(10),
        batch: 8,
        max_attempts,
        backoff: RetryPolicy {
            max_attempts: u32::MAX,
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.5,
        },
        idle_poll: Duration::from_millis(50),
        payment_terms_days: 30,
    }
}

struct Worker {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn spawn_worker(store: &Store, accounting: &Arc<dyn Accounting>, max_attempts: u32) -> Worker {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = InvoiceWorker::new(store.clone(), accounting.clone(), worker_config(max_attempts));
    let task = tokio::spawn(async move { worker.run(stopped).await });
    Worker { stop, task }
}

async fn open_store(args: &OrdersArgs, dir: &tempfile::TempDir) -> anyhow::Result<Store> {
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.path().join("chaos.db").display()),
    };
    let mut options = DbOptions::new(url);
    options.max_connections = 16;
    let store = Store::connect(&options).await.context("connecting to the database")?;
    store.migrate().await?;
    Ok(store)
}

async fn seed(store: &Store, orders: usize) -> anyhow::Result<(TenantId, Vec<uuid::Uuid>, i64)> {
    let slug = format!("chaos-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tenant = store
        .tenants()
        .create(NewTenant {
            name: "Chaos Coffee".into(),
            slug,
            currency: "USD".into(),
            tone: ToneProfile::default(),
            settings: serde_json::json!({}),
        })
        .await?;
    let stock = i64::try_from(orders).unwrap_or(i64::MAX / 8).saturating_mul(8);
    for (sku, price) in [("CUP-16", 2_450), ("BEAN-HB", 1_899)] {
        store
            .catalogue()
            .upsert(
                tenant.id,
                NewProduct {
                    sku: sku.into(),
                    name: sku.into(),
                    description: String::new(),
                    unit: "case".into(),
                    unit_price_minor: price,
                    currency: "USD".into(),
                    stock,
                    active: true,
                },
            )
            .await?;
    }
    let mut customers = Vec::new();
    for i in 0..20 {
        let customer = store
            .customers()
            .upsert(
                tenant.id,
                NewCustomer {
                    external_id: format!("C{i}"),
                    name: format!("Customer {i}"),
                    email: format!("customer{i}@example.com"),
                    company: String::new(),
                },
            )
            .await?;
        customers.push(CustomerId(customer.id));
    }
    let mut ids = Vec::with_capacity(orders);
    for i in 0..orders {
        let order = store
            .orders()
            .place(
                tenant.id,
                NewOrder {
                    customer: customers[i % customers.len()],
                    number: format!("ORD-{i:05}"),
                    status: OrderStatus::Confirmed,
                    idempotency_key: format!("chaos:{i}"),
                    lines: vec![
                        NewOrderLine { sku: "CUP-16".into(), quantity: 1 + (i % 3) as i64 },
                        NewOrderLine { sku: "BEAN-HB".into(), quantity: 1 },
                    ],
                    created_at: chrono::Utc::now(),
                    outbox_kind: None,
                },
            )
            .await?;
        ids.push(order.id);
    }
    Ok((tenant.id, ids, stock))
}

async fn orders(args: &OrdersArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        bail!("--fault-rate must be between 0 and 1");
    }
    let dir = tempfile::tempdir()?;
    let store = open_store(args, &dir).await?;
    let fake = FakeXero::start(FakeXeroConfig::default()).await?;
    fake.record_exchanges(false);
    let (tenant, order_ids, initial_stock) = seed(&store, args.orders).await?;
    println!(
        "chaos orders: {} confirmed orders on {}, {} workers, {:.0}% Xero faults (seed {})",
        args.orders,
        if args.database_url.is_some() { "postgres" } else { "sqlite" },
        args.workers,
        args.fault_rate * 100.0,
        args.seed
    );

    let breaker = Arc::new(CircuitBreaker::new(
        "xero",
        BreakerConfig {
            window: 50,
            minimum_calls: 20,
            failure_rate: 0.6,
            consecutive_failures: 8,
            cool_down: Duration::from_millis(500),
            half_open_probes: 2,
            half_open_successes: 2,
        },
    ));
    let accounting: Arc<dyn Accounting> = Arc::new(Guarded::new(Arc::new(xero_client(&fake)), breaker.clone()));
    fake.set_random_faults(args.fault_rate, args.seed, CLIENT_TIMEOUT + Duration::from_millis(300));
    let mut breaker_opened_during_outage = false;

    let started = Instant::now();
    let mut workers: Vec<Worker> = (0..args.workers.max(1)).map(|_| spawn_worker(&store, &accounting, args.max_attempts)).collect();
    let mut killed = false;
    let slow = CLIENT_TIMEOUT + Duration::from_millis(300);
    let mut outage: Option<Instant> = None;
    let mut outage_done = args.outage_seconds == 0;
    let deadline = started + Duration::from_secs(args.max_seconds);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let counts = store.outbox().counts(INVOICE_OUTBOX_KIND).await?;
        let finished = counts.done + counts.failed;
        if !killed && finished as usize >= args.orders / 3 {
            // Kill one worker mid-job: its leased rows stay leased until the lease expires.
            let victim = workers.remove(0);
            victim.task.abort();
            let _ = victim.task.await;
            workers.push(spawn_worker(&store, &accounting, args.max_attempts));
            killed = true;
            println!("killed a worker after {finished} jobs ({:.1} s) and started a new one", started.elapsed().as_secs_f64());
        }
        if !outage_done && outage.is_none() && finished as usize >= args.orders / 2 {
            fake.set_random_faults(1.0, args.seed, slow);
            outage = Some(Instant::now());
            println!("Xero down for {} s from {:.1} s", args.outage_seconds, started.elapsed().as_secs_f64());
        }
        if let Some(since) = outage {
            breaker_opened_during_outage |= breaker.snapshot().opened_total > 0;
            if since.elapsed() >= Duration::from_secs(args.outage_seconds) {
                fake.set_random_faults(args.fault_rate, args.seed.wrapping_add(1), slow);
                outage = None;
                outage_done = true;
                println!("Xero back at {:.1} s (breaker {:?})", started.elapsed().as_secs_f64(), breaker.state());
            }
        }
        if counts.pending == 0 && counts.leased == 0 {
            break;
        }
        if Instant::now() > deadline {
            println!("gave up waiting: {counts:?}");
            break;
        }
    }
    let drained = started.elapsed();
    for worker in workers {
        let _ = worker.stop.send(true);
        let _ = worker.task.await;
    }

    // Verify every order against the fake's ledger.
    let per_reference = fake.invoices_per_reference();
    let invoice_ids: HashMap<String, String> =
        fake.invoices().iter().filter_map(|i| Some((i["InvoiceID"].as_str()?.to_owned(), i["Reference"].as_str()?.to_owned()))).collect();
    let escalations = store.orders().escalations(tenant).await?;
    let (mut invoiced, mut failed_compensated, mut failed_uncompensated, mut lost, mut mismatched) = (0, 0, 0, 0, 0);
    let mut units_kept: i64 = 0;
    let mut invoiced_invoice_ids = Vec::new();
    for id in &order_ids {
        let order = store.orders().find(tenant, *id).await?.context("order vanished")?;
        match OrderStatus::parse(&order.status) {
            Some(OrderStatus::Invoiced) => {
                invoiced += 1;
                let matches = order.invoice_id.as_ref().and_then(|i| invoice_ids.get(i)) == Some(&order.number);
                if !matches {
                    mismatched += 1;
                }
                invoiced_invoice_ids.extend(order.invoice_id.clone());
                units_kept +=
                    store.orders().items(tenant, *id).await?.iter().filter(|i| i.sku == "CUP-16").map(|i| i.quantity).sum::<i64>();
            }
            Some(OrderStatus::Failed) => {
                if escalations.iter().any(|e| e.order_id == *id) {
                    failed_compensated += 1;
                } else {
                    failed_uncompensated += 1;
                }
            }
            _ => lost += 1,
        }
    }
    let duplicates: usize = per_reference.values().map(|n| n.saturating_sub(1)).sum();
    // Invoices no invoiced order points at: made by an attempt whose answer was lost, for an
    // order that then failed. Compensation voids them; one it could not void is named in the
    // order's escalation for a person.
    let invoiced_ids: std::collections::HashSet<String> = invoiced_invoice_ids.into_iter().collect();
    let (mut orphans_voided, mut orphans_live) = (0, 0);
    for invoice in fake.invoices() {
        let id = invoice["InvoiceID"].as_str().unwrap_or_default();
        if invoiced_ids.contains(id) {
            continue;
        }
        match invoice["Status"].as_str() {
            Some("VOIDED" | "DELETED") => orphans_voided += 1,
            _ => orphans_live += 1,
        }
    }
    let cups = store.catalogue().find_by_sku(tenant, "CUP-16").await?.context("product")?.stock;
    let stock_consistent = cups == initial_stock - units_kept;
    let snapshot = breaker.snapshot();

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| orders | {} |", args.orders);
    println!("| invoiced (exactly one invoice each) | {invoiced} |");
    println!("| failed and compensated | {failed_compensated} |");
    println!("| failed without compensation (goal 0) | {failed_uncompensated} |");
    println!("| lost (goal 0) | {lost} |");
    println!("| duplicate invoices in the fake (goal 0) | {duplicates} |");
    println!("| invoices of failed orders, voided by compensation | {orphans_voided} |");
    println!("| invoices of failed orders left live, named in the escalation | {orphans_live} |");
    println!("| order/invoice id mismatches (goal 0) | {mismatched} |");
    println!("| stock consistent with invoiced orders | {stock_consistent} |");
    println!("| faults injected at the fake | {} |", fake.faults_injected());
    println!(
        "| breaker opened | {} times{} (now {:?}) |",
        snapshot.opened_total,
        if breaker_opened_during_outage { ", during the outage" } else { "" },
        snapshot.state
    );
    println!("| time to drain | {:.1} s |", drained.as_secs_f64());
    store.close().await;
    if lost > 0 || duplicates > 0 || mismatched > 0 || failed_uncompensated > 0 || !stock_consistent {
        bail!("exactly-once violated");
    }
    Ok(())
}
