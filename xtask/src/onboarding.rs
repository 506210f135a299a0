//! `bench onboarding`: issue 25's onboarding goals, over HTTP only with an admin key, against a
//! release `tria-server` this task starts (or one at `--url`).
//!
//! 1. A fixed-rate chat load on another tenant (the seeded demo `northwind`, every message new so
//!    no cache answers it) runs from the start; its p50/p99 are reported per window: before any
//!    upload (baseline), while the PDF indexes, while the Markdown pages index.
//! 2. `POST /admin/tenants`, then the documented steps (docs/ONBOARDING.md): `PUT` a generated
//!    200-page PDF, wait for its job, `POST /admin/keys` for the tenant, ask a question answered
//!    only on page 150; the answer must quote that page's fact and cite `page 150`.
//! 3. 1,000 generated Markdown pages, one document per `PUT` (what a BPO's script does with a
//!    help centre export), a few uploads at a time; time until every job succeeded.
//! 4. Retrieval at that size, the load stopped: new questions about random pages and documents,
//!    p50/p99 end to end and how many were grounded in the right page or document.
//!
//! The server's resident memory is sampled from /proc throughout (VmRSS, and VmHWM at the end).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use serde_json::{Value, json};

use crate::eval::harness::{percentile, read_jsonl};

#[derive(Debug, Args)]
pub(crate) struct OnboardingArgs {
    /// Measure this server instead of starting one (then --admin-key and --load-key are needed).
    #[arg(long)]
    url: Option<String>,
    /// An admin key of the server at --url.
    #[arg(long, requires = "url")]
    admin_key: Option<String>,
    /// A tenant key of the other tenant that carries the background chat load (--url only).
    #[arg(long, requires = "url")]
    load_key: Option<String>,
    /// The server's process id, for its memory figures (--url only).
    #[arg(long, requires = "url")]
    pid: Option<u32>,
    /// Start the `tria-server` in this directory instead of building the release one.
    #[arg(long, conflicts_with = "url")]
    server_bin_dir: Option<PathBuf>,
    /// Pages of the generated PDF.
    #[arg(long, default_value_t = 200)]
    pdf_pages: usize,
    /// Generated Markdown documents (one page each).
    #[arg(long, default_value_t = 1000)]
    markdown_pages: usize,
    /// Markdown uploads in flight at once.
    #[arg(long, default_value_t = 4)]
    upload_concurrency: usize,
    /// Background chat requests per second on the other tenant (0: none).
    #[arg(long, default_value_t = 10.0)]
    load_rate: f64,
    /// Seconds of background load measured before the first upload.
    #[arg(long, default_value_t = 30)]
    baseline_secs: u64,
    /// Questions asked of the new tenant for the retrieval latency at full size.
    #[arg(long, default_value_t = 200)]
    questions: usize,
}

/// The dev profile's fixed key for the Northwind demo tenant (README, "Try it").
const NORTHWIND_DEV_KEY: &str = "tria_dev_northwind_4f3c9a1e7b2d48e6a0c5";
const SLUG: &str = "bench-onboarding";
const COMPANY: &str = "Larkspur Home Supply";

pub(crate) fn run(args: &OnboardingArgs) -> anyhow::Result<()> {
    let (server, base, admin_key, load_key, pid) = match &args.url {
        Some(url) => {
            let admin = args.admin_key.clone().context("--url needs --admin-key")?;
            let load = args.load_key.clone().context("--url needs --load-key (a tenant key of another tenant)")?;
            (None, url.trim_end_matches('/').to_owned(), admin, load, args.pid)
        }
        None => {
            let (server, data, admin) = start_server(args.server_bin_dir.as_deref())?;
            let base = format!("http://{}", server.addr);
            let pid = Some(server.pid());
            (Some((server, data)), base, admin, NORTHWIND_DEV_KEY.to_owned(), pid)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(measure(args, &base, &admin_key, &load_key, pid));
    drop(server);
    result
}

/// A release server on its dev defaults (demo tenants seeded, the local embedding model when
/// `cargo xtask model fetch` ran, the offline responder) with the tenant rate limit off, and an
/// admin key made the documented way (`keys create --role admin`) in its fresh database first.
fn start_server(bin_dir: Option<&Path>) -> anyhow::Result<(crate::loadtest::ReleaseServer, tempfile::TempDir, String)> {
    let data = tempfile::tempdir()?;
    let data_dir = data.path().join("data");
    let sources = tria_config::ConfigSources {
        config_dir: Some(PathBuf::from("config")),
        env: vec![("TRIA_DATA_DIR".into(), data_dir.display().to_string())],
        ..tria_config::ConfigSources::default()
    };
    let settings = tria_config::load(&sources)?;
    let admin = crate::db::runtime()?.block_on(async {
        let store = crate::db::open(&settings).await?;
        store.migrate().await?;
        let (_, plaintext) = store.keys().create(None, tria_core::ApiRole::Admin, "bench onboarding").await?;
        anyhow::Ok(plaintext)
    })?;
    let data_dir = data_dir.display().to_string();
    let env = [("TRIA_DATA_DIR", data_dir.as_str()), ("TRIA_LIMITS__TENANT_PER_SECOND", "0"), ("TRIA_LOG", "info")];
    let server = match bin_dir {
        Some(dir) => crate::loadtest::start_server_from(dir, &env)?,
        None => crate::loadtest::start_release_server_with(&env)?,
    };
    Ok((server, data, admin))
}

// ---------------------------------------------------------------------------------------------
// Generated knowledge: every page is about one product line with its own name and facts.

const COLOURS: [&str; 12] =
    ["Amber", "Cobalt", "Juniper", "Saffron", "Slate", "Crimson", "Ivory", "Teal", "Ochre", "Indigo", "Russet", "Pewter"];
const MATERIALS: [&str; 10] = ["Cedar", "Granite", "Linen", "Copper", "Walnut", "Marble", "Bamboo", "Wool", "Basalt", "Willow"];
const CREATURES: [&str; 12] =
    ["Falcon", "Otter", "Heron", "Lynx", "Badger", "Wren", "Marten", "Ibis", "Puffin", "Stoat", "Kestrel", "Plover"];
const GOODS: [&str; 8] = ["kettles", "lamps", "rugs", "stools", "planters", "blankets", "shelves", "mirrors"];

/// The product line of page `i` (0-based over PDF pages then Markdown pages): unique names.
fn line_name(i: usize) -> String {
    // Strided so neighbouring pages share no word.
    let j = i * 7 + i / 11;
    let n = COLOURS.len() * MATERIALS.len() * CREATURES.len();
    let j = j % n;
    format!("{} {} {}", COLOURS[j % 12], MATERIALS[(j / 12) % 10], CREATURES[(j / 120) % 12])
}

/// The facts a page states about its line; the questions ask for them.
struct Facts {
    name: String,
    goods: &'static str,
    return_days: usize,
    warranty_months: usize,
    restocking_percent: usize,
}

fn facts(i: usize) -> Facts {
    Facts {
        name: line_name(i),
        goods: GOODS[i % GOODS.len()],
        return_days: 15 + (i * 13) % 76,
        warranty_months: 6 + (i * 5) % 55,
        restocking_percent: 3 + (i * 7) % 19,
    }
}

/// Several paragraphs of policy prose for page `i`: its own facts amid the boilerplate every
/// page repeats (as real handbooks do).
fn page_paragraphs(i: usize) -> Vec<String> {
    let f = facts(i);
    let Facts { name, goods, return_days, warranty_months, restocking_percent } = &f;
    vec![
        format!("{name} {goods}: returns, warranty and care"),
        format!(
            "This section explains how {COMPANY} handles returns of the {name} {goods}. Customers may return unopened {name} {goods} within {return_days} days of delivery for a full refund to the original payment method. Opened {name} items are accepted within the same {return_days} days if they are unused and in their original packaging, less a restocking fee of {restocking_percent} percent."
        ),
        format!(
            "Every {name} product carries a {warranty_months}-month warranty against manufacturing defects, counted from the delivery date. The warranty does not cover wear from ordinary use, damage caused by misuse, or changes made by anyone other than {COMPANY} or an authorised repairer. To claim, send the order number and a photograph of the fault to our support team."
        ),
        format!(
            "Refunds for returned {name} {goods} are issued within five business days of the item reaching our warehouse. Store credit is available instead of a refund on request. Delivery charges are refunded only when the item arrived damaged or was not what was ordered."
        ),
        "Our support team answers by email and chat from 8 am to 6 pm, Monday to Friday, except public holidays. Please keep your order confirmation: it is the fastest way for us to find your purchase. We never ask for card details by email or chat.".to_owned(),
    ]
}

/// The question whose answer is only on page `i`, and the fact the answer must quote.
fn question(i: usize, ticket: usize) -> (String, String) {
    let f = facts(i);
    (
        format!("What is your return policy for the {} {}: how many days do I have to return them? (ref {ticket})", f.name, f.goods),
        format!("{} days", f.return_days),
    )
}

/// Lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// A PDF of `pages` pages of policy text (Helvetica, a `Td` per line, a blank line between
/// paragraphs), written with lopdf as tria-ingest reads it.
fn policy_pdf(pages: usize) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for page in 0..pages {
        let mut ops = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 10.into()])];
        ops.push(Operation::new("Td", vec![60.into(), 780.into()]));
        for (p, paragraph) in page_paragraphs(page).iter().enumerate() {
            if p > 0 {
                ops.push(Operation::new("Td", vec![0.into(), (-13).into()]));
            }
            for line in wrap(paragraph, 95) {
                ops.push(Operation::new("Td", vec![0.into(), (-13).into()]));
                ops.push(Operation::new("Tj", vec![Object::string_literal(line.into_bytes())]));
            }
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops }.encode()?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page_id.into());
    }
    let count = i64::try_from(kids.len())?;
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal(format!("{COMPANY} product policies")) });
    doc.trailer.set("Info", info_id);
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}

/// Markdown page `i` (0-based over the Markdown pages): a care guide with headings.
fn markdown_page(i: usize, pdf_pages: usize) -> String {
    let paragraphs = page_paragraphs(pdf_pages + i);
    format!(
        "# {}\n\n## Returns\n\n{}\n\n## Warranty\n\n{}\n\n## Refunds\n\n{}\n\n## Contact\n\n{}\n",
        paragraphs[0], paragraphs[1], paragraphs[2], paragraphs[3], paragraphs[4]
    )
}

// ---------------------------------------------------------------------------------------------
// HTTP.

struct Api {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let response = request.send().await.with_context(|| what.to_owned())?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        ensure!(status.is_success(), "{what}: HTTP {status}: {body}");
        Ok(body)
    }

    async fn admin_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request, &format!("{method} {path}")).await
    }

    /// `PUT …/documents/{doc_id}`; returns the job id and how many 503s were retried first (as
    /// a client does: the server says "retry shortly"; 1 s apart, at most 30).
    async fn put_document(&self, doc_id: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<(String, usize)> {
        let path = format!("/admin/tenants/{SLUG}/documents/{doc_id}");
        let mut retried = 0;
        loop {
            let request = self
                .http
                .put(format!("{}{path}", self.base))
                .bearer_auth(&self.admin)
                .header("content-type", content_type)
                .body(body.clone());
            let response = request.send().await.with_context(|| format!("PUT {path}"))?;
            let status = response.status();
            let accepted: Value = response.json().await.unwrap_or(Value::Null);
            if status == reqwest::StatusCode::SERVICE_UNAVAILABLE && retried < 30 {
                retried += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            ensure!(status.is_success(), "PUT {path}: HTTP {status}: {accepted}");
            let id = accepted["job"]["id"].as_str().map(str::to_owned).with_context(|| format!("no job id in {accepted}"))?;
            return Ok((id, retried));
        }
    }

    async fn job(&self, id: &str) -> anyhow::Result<Value> {
        self.admin_json(reqwest::Method::GET, &format!("/admin/jobs/{id}"), None).await
    }

    /// Waits until every job succeeded (oldest first; one poll while the oldest still runs).
    async fn all_succeeded(&self, ids: impl IntoIterator<Item = String>, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut pending: VecDeque<String> = ids.into_iter().collect();
        let total = pending.len();
        let mut reported = Instant::now();
        while let Some(id) = pending.front() {
            if reported.elapsed() > Duration::from_secs(15) {
                eprintln!("  {} of {total} jobs succeeded after {:.0} s", total - pending.len(), started.elapsed().as_secs_f64());
                reported = Instant::now();
            }
            let job = self.job(id).await?;
            match job["status"].as_str() {
                Some("succeeded") => {
                    pending.pop_front();
                }
                Some("failed") => bail!("job {id} failed: {job}"),
                _ => {
                    ensure!(started.elapsed() < within, "{} jobs not done after {} s; the oldest: {job}", pending.len(), within.as_secs());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Ok(())
    }

    async fn chat(&self, key: &str, message: &str) -> anyhow::Result<Value> {
        let request = self.http.post(format!("{}/api/chat", self.base)).bearer_auth(key).json(&json!({ "message": message }));
        self.send(request, "POST /api/chat").await
    }
}

/// Whether `reply` quotes `fact` and cites a source whose title or heading contains `cite`.
fn grounded(reply: &Value, fact: &str, cite: &str) -> bool {
    let quotes = reply["reply"].as_str().is_some_and(|r| r.contains(fact));
    let cites = reply["sources"].as_array().is_some_and(|sources| {
        sources
            .iter()
            .any(|s| s["heading"].as_str().is_some_and(|h| h.contains(cite)) || s["title"].as_str().is_some_and(|t| t.contains(cite)))
    });
    quotes && cites
}

// ---------------------------------------------------------------------------------------------
// The background load and the memory sampler.

struct Sample {
    sent: Instant,
    latency_ms: f64,
    ok: bool,
}

/// Sends `rate` chats a second (open loop: each on its own task, so a slow reply does not
/// delay the next send) until stopped; every one a new message.
fn background_load(
    api: Arc<Api>,
    key: String,
    rate: f64,
    questions: Vec<String>,
) -> (Arc<Mutex<Vec<Sample>>>, tokio::sync::watch::Sender<bool>) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    if rate <= 0.0 || questions.is_empty() {
        return (samples, stop);
    }
    let recorded = samples.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for i in 0.. {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
            let (api, key, recorded) = (api.clone(), key.clone(), recorded.clone());
            let message = format!("{} (ticket {i})", questions[i % questions.len()]);
            tokio::spawn(async move {
                let sent = Instant::now();
                let ok = api.chat(&key, &message).await.is_ok();
                let latency_ms = sent.elapsed().as_secs_f64() * 1e3;
                if let Ok(mut samples) = recorded.lock() {
                    samples.push(Sample { sent, latency_ms, ok });
                }
            });
        }
    });
    (samples, stop)
}

/// `VmRSS`/`VmHWM` of `pid` in MiB.
fn memory_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak `VmRSS` seen since the last [`take`](RssPeak::take), sampled every 200 ms.
#[derive(Clone, Default)]
struct RssPeak(Arc<Mutex<f64>>);

impl RssPeak {
    fn start(pid: Option<u32>) -> Self {
        let peak = Self::default();
        if let Some(pid) = pid {
            let shared = peak.0.clone();
            tokio::spawn(async move {
                while let Some(rss) = memory_mib(pid, "VmRSS:") {
                    if let Ok(mut peak) = shared.lock() {
                        *peak = peak.max(rss);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        peak
    }

    fn take(&self) -> f64 {
        self.0.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or(0.0)
    }
}

// ---------------------------------------------------------------------------------------------

struct Window {
    name: &'static str,
    from: Instant,
    to: Instant,
}

fn window_line(samples: &[Sample], window: &Window) -> String {
    let mut latencies: Vec<f64> = samples.iter().filter(|s| s.sent >= window.from && s.sent < window.to).map(|s| s.latency_ms).collect();
    let errors = samples.iter().filter(|s| s.sent >= window.from && s.sent < window.to && !s.ok).count();
    let n = latencies.len();
    format!(
        "| other tenant's chat, {} | {n} requests, {errors} errors: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        window.name,
        percentile(&mut latencies, 50.0),
        percentile(&mut latencies, 99.0),
        percentile(&mut latencies, 100.0)
    )
}

#[derive(serde::Deserialize)]
struct EvalQuestion {
    tenant: String,
    question: String,
}

async fn measure(args: &OnboardingArgs, base: &str, admin: &str, load_key: &str, pid: Option<u32>) -> anyhow::Result<()> {
    ensure!(args.pdf_pages >= 1 && args.markdown_pages >= 1, "--pdf-pages and --markdown-pages must be at least 1");
    let api = Arc::new(Api {
        http: reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?,
        base: base.to_owned(),
        admin: admin.to_owned(),
    });
    let rss = RssPeak::start(pid);
    let mut rows: Vec<String> = Vec::new();
    let target_page = (args.pdf_pages * 3 / 4).max(1); // page 150 of 200, 1-based

    let pdf = tokio::task::spawn_blocking({
        let pages = args.pdf_pages;
        move || policy_pdf(pages)
    })
    .await??;
    let markdown: Vec<String> = (0..args.markdown_pages).map(|i| markdown_page(i, args.pdf_pages)).collect();
    eprintln!(
        "generated a {}-page PDF ({} KiB) and {} Markdown pages ({} KiB)",
        args.pdf_pages,
        pdf.len() / 1024,
        markdown.len(),
        markdown.iter().map(String::len).sum::<usize>() / 1024
    );

    // The other tenant's load, warmed up before its baseline window.
    let load_questions: Vec<String> = read_jsonl::<EvalQuestion>(Path::new("fixtures/eval/answers.jsonl"))?
        .into_iter()
        .filter(|q| q.tenant == "northwind")
        .map(|q| q.question)
        .collect();
    let warm = api.chat(load_key, "What is the restocking fee on returns?").await.context("the load tenant's key does not chat")?;
    ensure!(warm["reply"].is_string(), "{warm}");
    let (samples, stop_load) = background_load(api.clone(), load_key.to_owned(), args.load_rate, load_questions);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let baseline_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.baseline_secs)).await;
    let mut windows = vec![Window { name: "baseline (no upload)", from: baseline_from, to: Instant::now() }];
    let idle_rss = rss.take();

    // Onboarding by the documented steps.
    let onboarding_started = Instant::now();
    api.admin_json(reqwest::Method::POST, "/admin/tenants", Some(json!({"name": COMPANY, "slug": SLUG}))).await?;
    let pdf_started = Instant::now();
    let (job, pdf_retries) = api.put_document("product-policies", "application/pdf", pdf).await?;
    let accepted = pdf_started.elapsed();
    api.all_succeeded([job.clone()], Duration::from_secs(1800)).await?;
    let pdf_indexed = pdf_started.elapsed();
    windows.push(Window { name: "while the PDF indexes", from: pdf_started, to: Instant::now() });
    let pdf_rss = rss.take();
    let chunks = api.job(&job).await?["progress"]["total"].as_i64().unwrap_or(0);
    let key =
        api.admin_json(reqwest::Method::POST, "/admin/keys", Some(json!({"role": "tenant", "tenant": SLUG, "label": "bench"}))).await?;
    let key = key["key"].as_str().context("no key in POST /admin/keys")?.to_owned();
    let (ask, fact) = question(target_page - 1, 0);
    let answer = api.chat(&key, &ask).await?;
    let first_answer = onboarding_started.elapsed();
    let cite = format!("page {target_page}");
    ensure!(grounded(&answer, &fact, &cite), "the answer to `{ask}` should quote `{fact}` and cite `{cite}`: {answer}");
    rows.push(format!(
        "| {}-page PDF ({} chunks): PUT to job succeeded | {:.1} s (PUT answered in {:.2} s, {pdf_retries} retried 503s) — goal ≤ 60 s |",
        args.pdf_pages,
        chunks,
        pdf_indexed.as_secs_f64(),
        accepted.as_secs_f64()
    ));
    eprintln!("{}", rows[rows.len() - 1]);
    rows.push(format!(
        "| POST /admin/tenants → first grounded answer (quotes `{fact}`, cites `{cite}`) | {:.1} s — goal ≤ 300 s |",
        first_answer.as_secs_f64()
    ));
    eprintln!("{}", rows[rows.len() - 1]);

    // 1,000 Markdown pages, one document each.
    let md_started = Instant::now();
    let mut job_ids = Vec::with_capacity(markdown.len());
    let mut uploads = tokio::task::JoinSet::new();
    let mut put_ms = Vec::with_capacity(markdown.len());
    let mut put_retries = 0;
    for (i, page) in markdown.into_iter().enumerate() {
        if uploads.len() >= args.upload_concurrency.max(1) {
            let (n, (id, retried), ms) = uploads.join_next().await.context("an upload task")???;
            job_ids.push((n, id));
            put_ms.push(ms);
            put_retries += retried;
        }
        let api = api.clone();
        uploads.spawn(async move {
            let started = Instant::now();
            let id = api.put_document(&format!("guide-{i:04}"), "text/markdown", page.into_bytes()).await?;
            anyhow::Ok((i, id, started.elapsed().as_secs_f64() * 1e3))
        });
    }
    while let Some(done) = uploads.join_next().await {
        let (n, (id, retried), ms) = done??;
        job_ids.push((n, id));
        put_ms.push(ms);
        put_retries += retried;
    }
    let all_put = md_started.elapsed();
    job_ids.sort();
    api.all_succeeded(job_ids.into_iter().map(|(_, id)| id), Duration::from_secs(3600)).await?;
    let md_indexed = md_started.elapsed();
    windows.push(Window { name: "while the Markdown pages index", from: md_started, to: Instant::now() });
    let md_rss = rss.take();
    stop_load.send(true).ok();
    rows.push(format!(
        "| {} Markdown documents, {} PUTs {} at a time: first PUT to every job succeeded | {:.1} s (all PUTs answered after {:.1} s; PUT p50 {:.0} ms, p99 {:.0} ms; {put_retries} retried 503s) — goal ≤ 300 s |",
        args.markdown_pages,
        args.markdown_pages,
        args.upload_concurrency,
        md_indexed.as_secs_f64(),
        all_put.as_secs_f64(),
        percentile(&mut put_ms, 50.0),
        percentile(&mut put_ms, 99.0)
    ));
    eprintln!("{}", rows[rows.len() - 1]);
    let documents = api.admin_json(reqwest::Method::GET, &format!("/admin/tenants/{SLUG}/documents"), None).await?;
    let listed = documents["documents"].as_array().map_or(0, Vec::len);
    let total_chunks: i64 = documents["documents"].as_array().into_iter().flatten().filter_map(|d| d["chunks"].as_i64()).sum();
    ensure!(listed == args.markdown_pages + 1, "{listed} documents listed, {} uploaded", args.markdown_pages + 1);

    // Retrieval at full size, without the background load: new questions, spread over the corpus.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::with_capacity(args.questions);
    let mut grounded_count = 0;
    let pages = args.pdf_pages + args.markdown_pages;
    for q in 0..args.questions {
        let page = (q * 7919 + 13) % pages;
        let (ask, fact) = question(page, q + 1);
        let cite = if page < args.pdf_pages { format!("page {}", page + 1) } else { facts(page).name };
        let started = Instant::now();
        let answer = api.chat(&key, &ask).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        ensure!(answer["cache"] == "none", "question {q} was answered from the cache: {answer}");
        if grounded(&answer, &fact, &cite) {
            grounded_count += 1;
        }
    }
    rows.push(format!(
        "| chat on the new tenant at full size ({} documents, {total_chunks} chunks), {} new questions one at a time | p50 {:.1} ms, p99 {:.1} ms; {grounded_count}/{} quote the page's fact and cite it |",
        listed,
        args.questions,
        percentile(&mut latencies, 50.0),
        percentile(&mut latencies, 99.0),
        args.questions
    ));

    let samples = samples.lock().map_err(|_| anyhow::anyhow!("samples lock"))?;
    for window in &windows {
        rows.push(window_line(&samples, window));
    }
    drop(samples);
    let retrieval_rss = rss.take();
    if let Some(pid) = pid {
        let hwm = memory_mib(pid, "VmHWM:").unwrap_or(0.0);
        rows.push(format!(
            "| server memory (VmRSS peak per phase; VmHWM) | idle with load {idle_rss:.0} MiB, PDF {pdf_rss:.0} MiB, Markdown {md_rss:.0} MiB, questions {retrieval_rss:.0} MiB; VmHWM {hwm:.0} MiB |"
        ));
    }

    println!(
        "Onboarding ({}; server {base}; background load {} req/s on the other tenant, every message new)",
        if cfg!(debug_assertions) { "DEBUG xtask" } else { "release xtask" },
        args.load_rate
    );
    println!("| measure | figure |");
    println!("|---|---|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}
