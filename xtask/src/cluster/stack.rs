//! The processes of a cluster run: a scratch PostgreSQL database, a private redis-server, the
//! mock LLM, N tria-server replicas and HAProxy in front of them. Everything started here is
//! stopped (and the database dropped) when the [`Stack`] is dropped, whatever happened.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::loadtest::{cargo_command, free_port, target_dir};

/// Builds tria-server and the mock LLM in `profile`; returns the directory holding them.
pub(crate) fn build(profile: &str) -> anyhow::Result<PathBuf> {
    let mut cmd = cargo_command();
    cmd.args(["build", "-p", "tria-server", "-p", "tria-mock-llm"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    anyhow::ensure!(cmd.status().context("running cargo build")?.success(), "cargo build failed");
    Ok(target_dir().join(profile))
}

/// HAProxy from Debian's package; installed with apt when missing and we may (root).
pub(crate) fn ensure_haproxy() -> anyhow::Result<()> {
    if Command::new("haproxy").arg("-v").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        return Ok(());
    }
    eprintln!("xtask cluster: haproxy missing, installing Debian's package");
    let install = "(apt-get install -y -qq haproxy || (apt-get update -qq && apt-get install -y -qq haproxy)) >/dev/null";
    let ok = Command::new("sh").arg("-c").arg(install).env("DEBIAN_FRONTEND", "noninteractive").status().is_ok_and(|s| s.success());
    anyhow::ensure!(ok, "haproxy is not installed and `apt-get install -y haproxy` failed (run it as root)");
    Ok(())
}

/// Runs one statement with psql against `admin_url`'s server, in database `db`; returns stdout.
pub(crate) fn psql(admin_url: &str, db: &str, sql: &str) -> anyhow::Result<String> {
    let url = format!("{}/{db}", admin_url.trim_end_matches('/'));
    let out = Command::new("psql").args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql]).output().context("running psql")?;
    if !out.status.success() {
        bail!("psql `{sql}`: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// One tria-server process and what it needs to be started again the same way.
pub(crate) struct Replica {
    pub(crate) name: String,
    pub(crate) port: u16,
    pub(crate) ops_port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub(crate) fn start(&mut self, bin_dir: &Path) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(bin_dir.join("tria-server"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("TRIA_PROFILE")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// `kill -9`: no drain, no goodbye.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the drain (SIGKILL after `within`). Returns how long it took.
    pub(crate) fn terminate(&mut self, within: Duration) -> Duration {
        let started = Instant::now();
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).stderr(Stdio::null()).status();
            while started.elapsed() < within && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        started.elapsed()
    }

    /// Waits until the ops port's `/health/ready` answers 200 (or the process exits).
    pub(crate) async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let url = format!("http://127.0.0.1:{}/health/ready", self.ops_port);
        let client = reqwest::Client::new();
        loop {
            if client.get(&url).timeout(Duration::from_secs(2)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(started.elapsed());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                bail!("{} exited before it was ready ({status})\n--- log tail ---\n{tail}", self.name);
            }
            if started.elapsed() > within {
                bail!("{} was not ready at {url} within {} s", self.name, within.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How the replicas are configured.
pub(crate) struct StackConfig {
    pub(crate) admin_url: String,
    pub(crate) replicas: usize,
    pub(crate) llm_latency_ms: u64,
    pub(crate) xero_base_url: String,
    pub(crate) xero_token_url: String,
    pub(crate) xero_client_id: String,
    pub(crate) xero_client_secret: String,
    pub(crate) xero_tenant_id: String,
    pub(crate) keep_database: bool,
    pub(crate) no_model: bool,
}

pub(crate) struct Stack {
    pub(crate) bin_dir: PathBuf,
    pub(crate) work: tempfile::TempDir,
    pub(crate) admin_url: String,
    pub(crate) database: String,
    pub(crate) redis_port: u16,
    redis: Option<Child>,
    mock: Option<Child>,
    haproxy: Option<Child>,
    pub(crate) lb_port: u16,
    pub(crate) replicas: Vec<Replica>,
    keep_database: bool,
    /// Copy the logs to target/cluster-logs when dropped (a failed run).
    pub(crate) keep_logs: bool,
}

impl Stack {
    /// The database, Redis and the mock LLM; replicas and HAProxy come later
    /// ([`Stack::start_replicas`], [`Stack::balance`]).
    pub(crate) fn start(bin_dir: PathBuf, config: &StackConfig) -> anyhow::Result<Self> {
        let work = tempfile::tempdir()?;
        let database = format!("tria_cluster_{}", std::process::id());
        psql(&config.admin_url, "postgres", &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))?;
        psql(&config.admin_url, "postgres", &format!("CREATE DATABASE {database}"))
            .context("creating the cluster's database (PostgreSQL on --postgres, trust auth)")?;
        let mut stack = Stack {
            bin_dir,
            admin_url: config.admin_url.clone(),
            database,
            redis_port: free_port()?,
            redis: None,
            mock: None,
            haproxy: None,
            lb_port: free_port()?,
            replicas: Vec::new(),
            keep_database: config.keep_database,
            keep_logs: false,
            work,
        };
        stack.start_redis()?;
        let mock_port = free_port()?;
        let mock_log = std::fs::File::create(stack.work.path().join("mock.log"))?;
        stack.mock = Some(
            Command::new(stack.bin_dir.join("tria-mock-llm"))
                .args(["--listen", &format!("127.0.0.1:{mock_port}"), "--latency-ms", &config.llm_latency_ms.to_string()])
                .args(["--jitter-ms", &(config.llm_latency_ms / 4).to_string()])
                .stdout(mock_log.try_clone()?)
                .stderr(mock_log)
                .spawn()
                .context("starting tria-mock-llm")?,
        );
        let key_file = stack.work.path().join("secrets.key");
        tria_secrets::generate_key_file(&key_file)?;
        let database_url = stack.database_url();
        let (pool, turn_locks) = connection_budget(&config.admin_url, config.replicas)?;
        println!(
            "xtask cluster: each replica gets {pool} pooled + {turn_locks} turn-lock connections (within the server's max_connections)"
        );
        let no_model = stack.work.path().join("no-model");
        std::fs::create_dir_all(&no_model)?;
        for i in 0..config.replicas {
            let (port, ops_port) = (free_port()?, free_port()?);
            let data = stack.work.path().join(format!("r{}", i + 1));
            std::fs::create_dir_all(&data)?;
            let env: Vec<(String, String)> = [
                ("TRIA_LISTEN", format!("127.0.0.1:{port}")),
                ("TRIA_SERVER__OPS_LISTEN", format!("127.0.0.1:{ops_port}")),
                ("TRIA_DATA_DIR", data.display().to_string()),
                ("TRIA_DATABASE_URL", database_url.clone()),
                ("TRIA_REDIS_URL", format!("redis://127.0.0.1:{}", stack.redis_port)),
                ("TRIA_LLM_PROVIDER", "openai".into()),
                ("TRIA_LLM_BASE_URL", format!("http://127.0.0.1:{mock_port}/v1")),
                ("TRIA_LLM_MODEL", "tria-mock".into()),
                ("TRIA_LOG", "warn".into()),
                ("TRIA_SECRETS__MASTER_KEY_FILE", key_file.display().to_string()),
                // Throughput is measured, not the tenant cap; the per-customer limit is checked.
                ("TRIA_LIMITS__TENANT_PER_SECOND", "0".into()),
                ("TRIA_INTEGRATIONS__XERO__ENABLED", "true".into()),
                ("TRIA_INTEGRATIONS__XERO__BASE_URL", config.xero_base_url.clone()),
                ("TRIA_INTEGRATIONS__XERO__TOKEN_URL", config.xero_token_url.clone()),
                ("TRIA_INTEGRATIONS__XERO__CLIENT_ID", config.xero_client_id.clone()),
                ("TRIA_INTEGRATIONS__XERO__CLIENT_SECRET", config.xero_client_secret.clone()),
                ("TRIA_INTEGRATIONS__XERO__XERO_TENANT_ID", config.xero_tenant_id.clone()),
                ("TRIA_INTEGRATIONS__XERO__POLL_MS", "250".into()),
                ("TRIA_DATABASE__MAX_CONNECTIONS", pool.to_string()),
                ("TRIA_DATABASE__TURN_LOCK_CONNECTIONS", turn_locks.to_string()),
                ("TRIA_LIMITS__CUSTOMER_PER_SECOND", "2".into()),
                ("TRIA_LIMITS__CUSTOMER_BURST", "10".into()),
            ]
            .into_iter()
            .chain(config.no_model.then(|| ("TRIA_MODELS_DIR", no_model.display().to_string())))
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            stack.replicas.push(Replica {
                name: format!("r{}", i + 1),
                port,
                ops_port,
                env,
                log: stack.work.path().join(format!("r{}.log", i + 1)),
                child: None,
            });
        }
        Ok(stack)
    }

    pub(crate) fn database_url(&self) -> String {
        format!("{}/{}", self.admin_url.trim_end_matches('/'), self.database)
    }

    pub(crate) fn lb_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.lb_port)
    }

    pub(crate) fn start_redis(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.work.path().join("redis.log"))?;
        let child = Command::new("redis-server")
            .args(["--port", &self.redis_port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting redis-server (apt-get install redis-server)")?;
        self.redis = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.redis_port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "redis-server did not listen on {}", self.redis_port);
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `kill -9` of the private redis-server.
    pub(crate) fn kill_redis(&mut self) {
        if let Some(mut child) = self.redis.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the first `n` replicas one after the other, each until it is ready.
    pub(crate) async fn start_replicas(&mut self, n: usize) -> anyhow::Result<()> {
        for i in 0..n {
            if self.replicas[i].pid().is_none() {
                self.replicas[i].start(&self.bin_dir)?;
            }
        }
        for i in 0..n {
            self.replicas[i].wait_ready(Duration::from_secs(300)).await?;
        }
        Ok(())
    }

    /// (Re)starts HAProxy balancing over the first `n` replicas, health-checked on each ops
    /// port's `/health/ready`; waits until it answers and every backend is up.
    pub(crate) async fn balance(&mut self, n: usize) -> anyhow::Result<()> {
        if let Some(mut old) = self.haproxy.take() {
            let _ = old.kill();
            let _ = old.wait();
        }
        let config = self.work.path().join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(self.lb_port, &self.replicas[..n]))?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.work.path().join("haproxy.log"))?;
        // -db: stay in the foreground, so it is our child and dies with the run.
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting haproxy")?;
        self.haproxy = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Every backend up in HAProxy's view: a request to each answered through the stats page.
            let up = async {
                let page = client.get(format!("{}/haproxy-stats;csv", self.lb_url())).send().await.ok()?.text().await.ok()?;
                Some(page.lines().filter(|l| l.starts_with("tria,r") && l.split(',').nth(17) == Some("UP")).count())
            }
            .await
            .unwrap_or(0);
            if up == n {
                return Ok(());
            }
            if let Some(status) = self.haproxy.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("haproxy exited ({status}): {}", std::fs::read_to_string(self.work.path().join("haproxy.log")).unwrap_or_default());
            }
            anyhow::ensure!(Instant::now() < deadline, "haproxy did not see {n} backends up within 20 s ({up} up)");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The replicas' logs, for a failed run.
    pub(crate) fn log_dir(&self) -> &Path {
        self.work.path()
    }
}

/// Pooled and turn-lock connections per replica so that every replica's, the checks' and other
/// users' connections fit the server's `max_connections` (100 by default: three replicas with
/// the defaults, 16 + 32 each, would not). A third of each replica's share is pooled.
fn connection_budget(admin_url: &str, replicas: usize) -> anyhow::Result<(usize, usize)> {
    let max: usize = psql(admin_url, "postgres", "SHOW max_connections")?.parse().context("max_connections")?;
    let in_use: usize = psql(admin_url, "postgres", "SELECT count(*) FROM pg_stat_activity")?.parse().context("pg_stat_activity")?;
    // Room for the xtask's own connections, psql, and whoever else connects meanwhile.
    let share = max.saturating_sub(in_use + 20) / replicas.max(1);
    anyhow::ensure!(share >= 8, "PostgreSQL allows {max} connections, {in_use} in use: too few for {replicas} replicas");
    let pool = (share / 3).clamp(4, 16);
    Ok((pool, (share - pool).min(32)))
}

fn haproxy_config(port: u16, replicas: &[Replica]) -> String {
    let mut out = format!(
        "global\n  maxconn 4096\n\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n\
         \x20 # Only a connection that could not be made is retried (on another server): a request\n\
         \x20 # that reached a replica is never sent twice.\n  retries 2\n  option redispatch\n\n\
         frontend fe\n  bind 127.0.0.1:{port}\n  stats enable\n  stats uri /haproxy-stats\n  stats refresh 0\n  default_backend tria\n\n\
         backend tria\n  balance roundrobin\n  option httpchk GET /health/ready\n  http-check expect status 200\n\
         \x20 default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2\n"
    );
    for r in replicas {
        out.push_str(&format!("  server {} 127.0.0.1:{} check port {}\n", r.name, r.port, r.ops_port));
    }
    out
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut lb) = self.haproxy.take() {
            let _ = lb.kill();
            let _ = lb.wait();
        }
        for r in &mut self.replicas {
            r.terminate(Duration::from_secs(10));
        }
        if let Some(mut mock) = self.mock.take() {
            let _ = mock.kill();
            let _ = mock.wait();
        }
        self.kill_redis();
        if self.keep_logs {
            let to = target_dir().join("cluster-logs");
            let _ = std::fs::remove_dir_all(&to);
            let _ = std::fs::create_dir_all(&to);
            for entry in std::fs::read_dir(self.work.path()).into_iter().flatten().flatten() {
                if entry.path().extension().is_some_and(|e| e == "log" || e == "cfg") {
                    let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
                }
            }
            eprintln!("xtask cluster: logs copied to {}", to.display());
        }
        if !self.keep_database {
            let _ = psql(&self.admin_url, "postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database));
        }
    }
}
