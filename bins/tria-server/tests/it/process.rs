//! The real binary, started as a user would; [`ServerProcess`] for the tests that kill and
//! restart it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tria_store::{DbOptions, Store};

const BIN: &str = env!("CARGO_BIN_EXE_tria-server");

/// The binary serving `data_dir` on `port` with the repository's fixtures and `warn` logs; the
/// caller adds settings and starts it.
fn server_command(data_dir: &Path, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env("TRIA_FIXTURES_DIR", tria_testkit::fixtures_dir())
        .env("TRIA_LOG", "warn");
    command
}

/// A loopback port free right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The binary running as its own process, killed (SIGKILL) when dropped: a crash, for the tests
/// that restart it on the same data.
pub(crate) struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub(crate) base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Starts the binary on the data in `data_dir` (the dev profile: seeded on first start) with
    /// the `TRIA_*` settings in `env`, and waits up to 60 s until `/health/ready` answers 200.
    pub(crate) async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child =
            server_command(data_dir, port).envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        let server = Self { child, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/health/ready", server.base)).send().await
                && r.status() == 200
            {
                return server;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "server did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A second connection to the SQLite database the binary keeps in `data_dir`, and an admin key
/// created through it (the server reads keys from the database).
pub(crate) async fn open_data_dir(data_dir: &Path) -> (Store, String) {
    let url = format!("sqlite://{}?mode=rwc", data_dir.join("tria.db").display());
    let store = Store::connect(&DbOptions::new(url)).await.expect("open the server's database");
    let admin = store.keys().create(None, tria_core::ApiRole::Admin, "kill test").await.expect("admin key").1;
    (store, admin)
}

/// `GET /admin/jobs/{id}` on `base`: the job's JSON (asserts 200).
pub(crate) async fn job(client: &reqwest::Client, base: &str, admin: &str, id: &str) -> serde_json::Value {
    let r = client.get(format!("{base}/admin/jobs/{id}")).bearer_auth(admin).send().await.expect("get job");
    assert_eq!(r.status(), 200);
    r.json().await.expect("job JSON")
}

/// Runs the command to its end, or kills it and fails the test if it is still running after
/// `limit` (a server that accepted a bad setting would serve forever).
fn exits_within(command: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("run");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}: the bad setting was accepted");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_bad_setting_exits_non_zero_with_one_line_naming_the_key() {
    for (name, value, key) in [
        ("TRIA_LISTEN", "not-an-address", "listen"),
        ("TRIA_DATABASE_URL", "mysql://x", "database.url"),
        ("TRIA_LOG", "[[[", "server.log_filter"),
        // Redis URLs that pass the scheme check but not the Redis client's parser (cache and
        // shared rate limits): a bad setting, not a start-up failure.
        ("TRIA_REDIS_URL", "notaurl", "cache.redis_url"),
        ("TRIA_REDIS_URL", "redis://localhost:notaport", "cache.redis_url"),
        ("TRIA_REDIS_URL", "redis://", "cache.redis_url"),
        ("TRIA_REDIS_URL", "redis://localhost/notadb", "cache.redis_url"),
        ("TRIA_REDIS_URL", "redis-sentinel://localhost:26379", "cache.redis_url"),
        ("TRIA_DATABASE_URL", "postgres://localhost:notaport/tria", "database.url"),
        ("TRIA_INTEGRATIONS__GORGIAS__BASE_URL", "https://", "integrations.gorgias.base_url"),
    ] {
        let out = exits_within(Command::new(BIN).env(name, value).env("TRIA_DATA_DIR", std::env::temp_dir()), Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(2), "{name}={value} must fail with exit code 2");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(key), "{stderr}");
    }
    let out = Command::new(BIN).args(["--profile", "nope"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[tokio::test]
async fn the_binary_starts_seeds_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = server_command(dir.path(), port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The dev profile's documented demo key works as the README shows.
    let response = client
        .post(format!("{base}/api/chat"))
        .bearer_auth("tria_dev_northwind_4f3c9a1e7b2d48e6a0c5")
        .json(&serde_json::json!({ "message": "Is shipping free?" }))
        .send()
        .await
        .expect("chat");
    assert_eq!(response.status(), 200);
    assert!(dir.path().join("tria.db").exists(), "SQLite file under the data dir");
    // The binary restarted itself (same pid) with the malloc tunables that keep its RSS down.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let environ = std::fs::read(format!("/proc/{}/environ", child.id())).expect("environ");
        let environ = String::from_utf8_lossy(&environ);
        assert!(environ.split('\0').any(|v| v.starts_with("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072")), "{environ}");
        assert!(environ.split('\0').any(|v| v == "MIMALLOC_PURGE_DELAY=0"), "{environ}");
    }

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            assert!(exit.success(), "clean exit on SIGTERM: {exit}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `integrations.xero.fake = true` starts the in-process demo Xero in a build with feature
/// `demo-fake` (the default: `cargo run`, the tests); a production build (`--no-default-features`,
/// the Docker image) has no fake and refuses the setting as bad config.
/// `cargo test -p tria-server --no-default-features --test it -- process::` runs the second half.
#[tokio::test]
async fn the_demo_xero_fake_is_only_in_builds_with_the_demo_fake_feature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut command = server_command(dir.path(), port);
    command.env("TRIA_INTEGRATIONS__XERO__ENABLED", "true").env("TRIA_INTEGRATIONS__XERO__FAKE", "true");
    if !cfg!(feature = "demo-fake") {
        let out = exits_within(&mut command, Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(2), "the fake setting must fail with exit code 2 without the fake");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("integrations.xero.fake (TRIA_INTEGRATIONS__XERO__FAKE)"), "{stderr}");
        return;
    }
    let server = ServerProcess {
        child: command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let started = Instant::now();
    let health: serde_json::Value = loop {
        if let Ok(r) = client.get(format!("{}/health", server.base)).send().await
            && r.status() == 200
        {
            break r.json().await.expect("health JSON");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server with the demo Xero did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let xero = health["components"].as_array().expect("components").iter().find(|c| c["name"] == "xero");
    assert_eq!(xero.map(|c| c["status"].clone()), Some(serde_json::json!("ok")), "{health}");
}
