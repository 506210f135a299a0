//! `hostile`: the attacks of the hardening review, at full size, against a release server on
//! loopback (started here, or `--target URL --server-pid PID`), with the figures they are
//! judged by:
//! - **zero-window**: two HTTP/2 connections with the public widget key announce a window of
//!   zero and open 64 chat streams each; meanwhile another tenant's chat is probed (every probe
//!   must be 200);
//! - **idle**: 20,000 TCP connections that send nothing, held by two child processes; meanwhile
//!   `/health/live` is probed on fresh connections (each must answer within 100 ms);
//! - **keyless**: 6,000 `POST /api/chat` without a key promising 64 KiB bodies and sending
//!   almost all of them; the server's RSS is read before and while they are held (< 50 MB more).
//!
//! The quick, small-sized versions of these run with the tests (`tests/it/hostile.rs`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

/// The dev profile's keys (config/dev.toml): the attack uses Northwind's public widget key, the
/// probes Velo's tenant key.
const WIDGET_KEY: &str = "tria_pk_dev_northwind_7c1e5a9d3b2f4086";
const OTHER_TENANT_KEY: &str = "tria_dev_velo_8d2b6e0f1a9c47d3b5e1";

#[derive(Debug, Args)]
pub(crate) struct HostileArgs {
    /// Attack this server (dev profile keys) instead of starting one.
    #[arg(long)]
    target: Option<String>,
    /// The target's process id, to read its memory (with --target).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Idle connections to hold.
    #[arg(long, default_value_t = 20_000)]
    idle: usize,
    /// Keyless 64 KiB bodies to hold.
    #[arg(long, default_value_t = 6_000)]
    bodies: usize,
    /// Internal: hold this many idle connections to --target until killed (the idle attack's
    /// child processes; one process cannot hold 20,000 sockets under a 20,000 descriptor limit).
    #[arg(long, hide = true)]
    hold_idle: Option<usize>,
}

pub(crate) fn run(args: &HostileArgs) -> anyhow::Result<()> {
    raise_fd_limit();
    if let Some(count) = args.hold_idle {
        let addr = addr_of(args.target.as_deref().context("--hold-idle needs --target")?)?;
        return hold_idle(addr, count);
    }
    let mut started = None;
    let (addr, pid) = match &args.target {
        Some(target) => (addr_of(target)?, args.server_pid),
        None => {
            let server = crate::loadtest::start_release_server()?;
            let out = (server.addr, Some(server.pid()));
            started = Some(server);
            out
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut failures = Vec::new();
    println!("hostile: target {addr}");
    runtime.block_on(zero_window(addr, &mut failures))?;
    idle(addr, args.idle, &mut failures)?;
    keyless_bodies(addr, pid, args.bodies, &mut failures)?;
    drop(started);
    if failures.is_empty() {
        println!("hostile: every check held");
        Ok(())
    } else {
        bail!("hostile: {} check(s) failed:\n  {}", failures.len(), failures.join("\n  "))
    }
}

/// The soft file-descriptor limit raised to the hard one: the idle attack holds 20,000 sockets.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

fn addr_of(target: &str) -> anyhow::Result<SocketAddr> {
    let host = target.trim_start_matches("http://").trim_end_matches('/');
    host.parse().with_context(|| format!("--target must be http://IP:PORT, got `{target}`"))
}

fn chat_request(key: &str, message: &str) -> String {
    let body = serde_json::json!({ "message": message }).to_string();
    format!(
        "POST /api/chat HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// One request on a fresh connection: the status (0 when the connection failed) and the time.
fn probe(addr: SocketAddr, request: &str, timeout: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else { return (0, started.elapsed()) };
    let _ = stream.set_read_timeout(Some(timeout));
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, started.elapsed());
    }
    let mut buf = [0u8; 32];
    let mut got = 0;
    while got < 12 {
        match stream.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let status = std::str::from_utf8(&buf[..got]).ok().and_then(|s| s.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, started.elapsed())
}

fn quantile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or_default()
}

async fn zero_window(addr: SocketAddr, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let mut attackers = Vec::new();
    let mut opened = 0;
    for _ in 0..2 {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let (client, connection) = h2::client::Builder::new().initial_window_size(0).handshake::<_, bytes::Bytes>(tcp).await?;
        attackers.push(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let body = bytes::Bytes::from_static(br#"{"message":"What is the restocking fee on returns?"}"#);
        let mut held = Vec::new();
        for _ in 0..64 {
            let Ok(mut ready) = client.clone().ready().await else { break };
            let request = http::Request::post("/api/v1/chat/stream")
                .header("authorization", format!("Bearer {WIDGET_KEY}"))
                .header("content-type", "application/json")
                .body(())?;
            let Ok((response, mut send)) = ready.send_request(request, false) else { break };
            let _ = send.send_data(body.clone(), true);
            held.push(response);
            opened += 1;
        }
        tokio::spawn(async move {
            let _held = (held, client);
            std::future::pending::<()>().await;
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let request = chat_request(OTHER_TENANT_KEY, "How long does shipping take?");
    let mut statuses = std::collections::BTreeMap::new();
    let mut times = Vec::new();
    for _ in 0..46 {
        let request = request.clone();
        let (status, took) = tokio::task::spawn_blocking(move || probe(addr, &request, Duration::from_secs(30))).await?;
        *statuses.entry(status).or_insert(0) += 1;
        times.push(took);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let attackers_closed = tokio::time::timeout(Duration::from_secs(60), futures_all(attackers)).await.is_ok();
    println!(
        "zero-window: {opened} streams opened on 2 connections; other tenant's chat {statuses:?}, p50 {:?} max {:?}; attacking connections closed by the server: {attackers_closed}",
        quantile(&times, 0.5),
        quantile(&times, 1.0)
    );
    if statuses.get(&200) != Some(&46) {
        failures.push(format!("zero-window: other tenant's chat got {statuses:?}, not 46 × 200"));
    }
    if !attackers_closed {
        failures.push("zero-window: the attacking connections were still open after 60 s".into());
    }
    Ok(())
}

async fn futures_all(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

/// The child processes that hold idle connections; killed when dropped.
struct Holders(Vec<Child>);

impl Drop for Holders {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn idle(addr: SocketAddr, count: usize, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let per_process = 10_000;
    let mut holders = Holders(Vec::new());
    let started = Instant::now();
    let mut remaining = count;
    while remaining > 0 {
        let n = remaining.min(per_process);
        remaining -= n;
        let child = Command::new(&exe)
            .args(["hostile", "--target", &format!("http://{addr}"), "--hold-idle", &n.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting an idle-connection holder")?;
        holders.0.push(child);
    }
    let mut held = 0;
    for child in &mut holders.0 {
        let mut line = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let mut byte = [0u8; 1];
            while out.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
                line.push(byte[0] as char);
            }
        }
        held += line.trim().parse::<usize>().unwrap_or(0);
    }
    let opening = started.elapsed();
    let mut times = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let (status, took) = probe(addr, "GET /health/live HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n", Duration::from_secs(15));
        *statuses.entry(status).or_insert(0) += 1;
        times.push(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(holders);
    println!(
        "idle: {held} idle connections opened in {opening:?}; /health/live {statuses:?}, p50 {:?} max {:?}",
        quantile(&times, 0.5),
        quantile(&times, 1.0)
    );
    if statuses.get(&200) != Some(&20) || quantile(&times, 1.0) > Duration::from_millis(100) {
        failures.push(format!("idle: /health/live {statuses:?}, max {:?} (want 200 within 100 ms)", quantile(&times, 1.0)));
    }
    Ok(())
}

fn hold_idle(addr: SocketAddr, count: usize) -> anyhow::Result<()> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    println!("{}", held.len());
    std::io::stdout().flush()?;
    // Held until the parent kills this process.
    std::thread::sleep(Duration::from_secs(600));
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok())
}

fn keyless_bodies(addr: SocketAddr, pid: Option<u32>, count: usize, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let before = pid.and_then(rss_kib);
    let head = "POST /api/chat HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 65536\r\n\r\n";
    let body = vec![b' '; 65_536 - 512];
    let started = Instant::now();
    let mut held = Vec::with_capacity(count);
    let mut refused_early = 0;
    for _ in 0..count {
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else { continue };
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&body).is_err() {
            refused_early += 1;
        }
        held.push(stream);
    }
    std::thread::sleep(Duration::from_secs(1));
    let during = pid.and_then(rss_kib);
    let sending = started.elapsed();
    let mut unauthorized = 0;
    for stream in &mut held {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 12];
        if stream.read(&mut buf).is_ok_and(|n| n >= 12) && &buf[9..12] == b"401" {
            unauthorized += 1;
        }
    }
    drop(held);
    let grew_mib = match (before, during) {
        (Some(b), Some(d)) => Some((d.saturating_sub(b)) as f64 / 1024.0),
        _ => None,
    };
    println!(
        "keyless: {count} bodies of 64 KiB sent in {sending:?}; {unauthorized} answered 401 ({refused_early} refused mid-body); server RSS {} → {} (+{} MiB)",
        before.map_or("?".into(), |k| format!("{} MiB", k / 1024)),
        during.map_or("?".into(), |k| format!("{} MiB", k / 1024)),
        grew_mib.map_or("?".into(), |g| format!("{g:.1}")),
    );
    if grew_mib.is_some_and(|g| g >= 50.0) {
        failures.push(format!("keyless: RSS grew {:.1} MiB (want < 50)", grew_mib.unwrap_or_default()));
    }
    Ok(())
}
