//! `loadtest [tria-load run args]`: runs `tria-load`. Without `--target` it builds and starts its
//! own release `tria-server` and mock LLM on free loopback ports (fresh data dir, dev demo keys,
//! optionally a private redis-server), adds fault hooks for them (kill-redis, start-redis,
//! llm-faults, llm-normal), runs the scenarios, and stops everything it started.
//! `loadtest compare A B` and `loadtest list` pass straight through.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct LoadtestArgs {
    /// Load-test this server instead of starting one (nothing is built or started then).
    #[arg(long)]
    target: Option<String>,
    /// Build profile of the binaries: release (figures) or debug (a quick check without a
    /// release build).
    #[arg(long, default_value = "release", value_parser = ["release", "debug"])]
    build: String,
    /// Latency of the mock LLM behind the started server.
    #[arg(long, default_value_t = 1000)]
    llm_latency_ms: u64,
    #[arg(long, default_value_t = 0)]
    llm_jitter_ms: u64,
    /// Start a private redis-server on a free port as the server's shared cache.
    #[arg(long)]
    redis: bool,
    /// Extra setting for the started server, TRIA_KEY=VALUE (repeat), e.g.
    /// TRIA_LIMITS__TENANT_PER_SECOND=0 for the cached-path throughput run.
    #[arg(long = "server-env", value_name = "TRIA_KEY=VALUE")]
    server_env: Vec<String>,
    /// Everything else is passed to `tria-load run` (scenarios, --quick, --users, …).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// `cargo` as a command for building from inside `cargo xtask`.
pub(crate) fn cargo_command() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // `cargo xtask` runs inside `cargo run`, whose CARGO_PKG_*/CARGO_MANIFEST_* variables would
    // change build-script fingerprints (ring's) and rebuild half the tree on every call.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_"].iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

fn build(profile: &str) -> anyhow::Result<PathBuf> {
    let mut cmd = cargo_command();
    cmd.args(["build", "-p", "tria-server", "-p", "tria-mock-llm", "-p", "tria-load"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build")?;
    anyhow::ensure!(status.success(), "cargo build failed");
    Ok(target_dir().join(profile))
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_ready(url: &str, within: Duration, child: &mut Child, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = reqwest::Client::new();
    loop {
        let ok =
            runtime.block_on(async { client.get(url).timeout(Duration::from_secs(2)).send().await.is_ok_and(|r| r.status().is_success()) });
        if ok {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited before it was ready ({status})");
        }
        if started.elapsed() > within {
            bail!("{what} was not ready at {url} within {} s", within.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Processes this task started; stopped (in reverse order) when dropped, whatever happened.
struct Started {
    server: Option<Child>,
    mock_pid_file: PathBuf,
    redis_port: Option<u16>,
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SIGTERM first so the server drains and closes its database; then make sure.
            let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && matches!(server.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
        if let Ok(pid) = std::fs::read_to_string(&self.mock_pid_file) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        if let Some(port) = self.redis_port {
            let _ = Command::new("redis-cli").args(["-p", &port.to_string(), "shutdown", "nosave"]).stderr(Stdio::null()).status();
        }
    }
}

fn run_load(bin_dir: &Path, args: &[String]) -> anyhow::Result<ExitStatus> {
    Command::new(bin_dir.join("tria-load")).args(args).status().context("running tria-load")
}

pub(crate) fn run(args: &LoadtestArgs) -> anyhow::Result<()> {
    let passthrough = args.rest.first().is_some_and(|a| a == "compare" || a == "list");
    let bin_dir = build(&args.build)?;
    let mut load_args: Vec<String> = if passthrough { Vec::new() } else { vec!["run".into()] };
    if passthrough || args.target.is_some() {
        if let Some(target) = &args.target {
            load_args.extend(["--target".into(), target.clone()]);
        }
        load_args.extend(args.rest.iter().cloned());
        return exit_with(run_load(&bin_dir, &load_args)?);
    }

    let work = tempfile::tempdir()?;
    let log_dir = work.path();
    let (server_port, mock_port) = (free_port()?, free_port()?);
    let mut started = Started { server: None, mock_pid_file: log_dir.join("mock.pid"), redis_port: None };

    // The mock runs detached with a pid file, so the fault hooks can restart it with other knobs.
    let mock_cmd = |extra: &str| {
        format!(
            "nohup {} --listen 127.0.0.1:{mock_port} --latency-ms {} --jitter-ms {} {extra} >> {} 2>&1 & echo $! > {}",
            sh_quote(&bin_dir.join("tria-mock-llm").display().to_string()),
            args.llm_latency_ms,
            args.llm_jitter_ms,
            sh_quote(&log_dir.join("mock.log").display().to_string()),
            sh_quote(&started.mock_pid_file.display().to_string()),
        )
    };
    let restart_mock = |extra: &str| {
        format!(
            "kill $(cat {pid}) 2>/dev/null; sleep 0.3; {}",
            mock_cmd(extra),
            pid = sh_quote(&started.mock_pid_file.display().to_string())
        )
    };
    let status = Command::new("sh").arg("-c").arg(mock_cmd("")).status()?;
    anyhow::ensure!(status.success(), "could not start tria-mock-llm");
    let mut hooks =
        vec![format!("llm-faults={}", restart_mock("--error-rate 0.2 --rate-limit-rate 0.1")), format!("llm-normal={}", restart_mock(""))];

    let mut server_env: Vec<(String, String)> = vec![
        ("TRIA_LISTEN".into(), format!("127.0.0.1:{server_port}")),
        ("TRIA_DATA_DIR".into(), log_dir.join("data").display().to_string()),
        ("TRIA_LLM_PROVIDER".into(), "openai".into()),
        ("TRIA_LLM_BASE_URL".into(), format!("http://127.0.0.1:{mock_port}/v1")),
        ("TRIA_LLM_MODEL".into(), "tria-mock".into()),
        ("TRIA_LOG".into(), "warn".into()),
    ];
    if args.redis {
        let port = free_port()?;
        let redis_start = format!("redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --daemonize yes");
        let status =
            Command::new("sh").arg("-c").arg(&redis_start).status().context("starting redis-server (apt-get install redis-server)")?;
        anyhow::ensure!(status.success(), "could not start redis-server");
        started.redis_port = Some(port);
        server_env.push(("TRIA_REDIS_URL".into(), format!("redis://127.0.0.1:{port}")));
        hooks.push(format!("kill-redis=redis-cli -p {port} shutdown nosave"));
        hooks.push(format!("start-redis={redis_start}"));
    }
    for kv in &args.server_env {
        let (k, v) = kv.split_once('=').with_context(|| format!("--server-env wants KEY=VALUE, got `{kv}`"))?;
        anyhow::ensure!(k.starts_with("TRIA_"), "--server-env sets TRIA_* settings only, got `{k}`");
        server_env.push((k.into(), v.into()));
    }
    let base = start_server(&bin_dir, server_env, server_port, log_dir, &mut started)?;
    eprintln!("xtask loadtest: tria-server ({}) at {base}, mock LLM at 127.0.0.1:{mock_port} ({} ms)", args.build, args.llm_latency_ms);
    load_args.extend(["--target".into(), base]);
    for hook in hooks {
        load_args.extend(["--fault-cmd".into(), hook]);
    }
    load_args.extend(args.rest.iter().cloned());
    let status = run_load(&bin_dir, &load_args)?;
    drop(started);
    exit_with(status)
}

fn exit_with(status: ExitStatus) -> anyhow::Result<()> {
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => std::process::exit(code),
        None => bail!("tria-load was killed"),
    }
}

/// A release `tria-server` on a free loopback port with its embedded defaults (dev profile, a
/// fresh data dir, the offline responder); stopped when dropped.
pub(crate) struct ReleaseServer {
    pub addr: std::net::SocketAddr,
    started: Started,
    _work: tempfile::TempDir,
}

impl ReleaseServer {
    pub(crate) fn pid(&self) -> u32 {
        self.started.server.as_ref().map_or(0, Child::id)
    }
}

pub(crate) fn start_release_server() -> anyhow::Result<ReleaseServer> {
    start_release_server_with(&[])
}

/// [`start_release_server`] with extra `TRIA_*` settings.
pub(crate) fn start_release_server_with(settings: &[(&str, &str)]) -> anyhow::Result<ReleaseServer> {
    start_server_from(&build("release")?, settings)
}

/// [`start_release_server_with`] on the `tria-server` already in `bin_dir` (nothing is built).
pub(crate) fn start_server_from(bin_dir: &Path, settings: &[(&str, &str)]) -> anyhow::Result<ReleaseServer> {
    let work = tempfile::tempdir()?;
    let port = free_port()?;
    let mut started = Started { server: None, mock_pid_file: work.path().join("none.pid"), redis_port: None };
    let mut env = vec![
        ("TRIA_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
        ("TRIA_DATA_DIR".to_owned(), work.path().join("data").display().to_string()),
        ("TRIA_LOG".to_owned(), "warn".to_owned()),
    ];
    env.extend(settings.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
    start_server(bin_dir, env, port, work.path(), &mut started)?;
    Ok(ReleaseServer { addr: ([127, 0, 0, 1], port).into(), started, _work: work })
}

/// Starts `tria-server` from `bin_dir` with `env` (its log in `log_dir/server.log`) into
/// `started`, and waits until it is ready on `port`. Returns its base URL.
fn start_server(bin_dir: &Path, env: Vec<(String, String)>, port: u16, log_dir: &Path, started: &mut Started) -> anyhow::Result<String> {
    let log_path = log_dir.join("server.log");
    let log = std::fs::File::create(&log_path)?;
    // The server sets its own malloc tunables (two arenas, fixed mmap threshold) when it starts.
    let server = Command::new(bin_dir.join("tria-server"))
        .envs(env)
        .env_remove("TRIA_PROFILE")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting tria-server")?;
    let server = started.server.insert(server);
    let base = format!("http://127.0.0.1:{port}");
    if let Err(e) = wait_ready(&format!("{base}/health/ready"), Duration::from_secs(300), server, "tria-server") {
        bail!("{e}\n--- server log ---\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());
    }
    Ok(base)
}
