//! The real binary killed with SIGKILL in the middle of a catalogue import job, then restarted
//! on the same data: the job is taken over once its lease (short here, `import.job_lease_ms`)
//! runs out and ends `succeeded` or `failed`, and the tenant's catalogue is either the old one
//! or the whole new one, never a mix.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tria_store::{DbOptions, Store};

const BIN: &str = env!("CARGO_BIN_EXE_tria-server");
const ROWS: usize = 100_000;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(dir: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("TRIA_FIXTURES_DIR", tria_testkit::fixtures_dir())
        .env("TRIA_LOG", "warn")
        .env("TRIA_IMPORT__JOB_LEASE_MS", "1500")
        .env("TRIA_IMPORT__JOB_POLL_MS", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
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

/// Every northwind product: SKU -> (price, active).
async fn catalogue(store: &Store) -> BTreeMap<String, (i64, bool)> {
    let tenant = store.tenants().find_by_slug("northwind").await.expect("read").expect("northwind");
    store.catalogue().list(tenant.id).await.expect("list").into_iter().map(|p| (p.sku, (p.unit_price_minor, p.active))).collect()
}

async fn job(client: &reqwest::Client, base: &str, admin: &str, id: &str) -> Value {
    let r = client.get(format!("{base}/admin/jobs/{id}")).bearer_auth(admin).send().await.expect("get job");
    assert_eq!(r.status(), 200);
    r.json().await.expect("job JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_import_finishes_or_fails_the_job_after_restart_and_the_catalogue_is_never_a_mix() {
    let _heavy = crate::HEAVY.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("tria.db").display());
    let store = Store::connect(&DbOptions::new(url)).await.expect("open the server's database");
    let admin = store.keys().create(None, tria_core::ApiRole::Admin, "kill test").await.expect("admin key").1;
    let old = catalogue(&store).await;
    assert!(!old.is_empty(), "the dev profile seeds northwind's catalogue");

    // The new catalogue replaces the old: every old SKU is retired, 100k new ones at 7.77.
    let mut csv = String::with_capacity(ROWS * 40);
    csv.push_str("sku,name,price,stock\n");
    for i in 0..ROWS {
        csv.push_str(&format!("KILL-{i:06},Killable product {i},7.77,{}\n", i % 9));
    }
    let client = reqwest::Client::new();
    let response = client
        .put(format!("{}/admin/tenants/northwind/catalogue?mode=replace", server.base))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.expect("202 JSON");
    let id = accepted["job"]["id"].as_str().expect("job id").to_owned();

    // Kill it once it is running and has made progress.
    let started = Instant::now();
    let seen = loop {
        let seen = job(&client, &server.base, &admin, &id).await;
        if seen["status"] == "running" && seen["progress"]["done"].as_u64() > Some(0) {
            break seen;
        }
        assert!(!matches!(seen["status"].as_str(), Some("succeeded" | "failed")), "finished before it could be killed: {seen}");
        assert!(started.elapsed() < Duration::from_secs(120), "never running with progress: {seen}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    drop(server); // SIGKILL
    assert_eq!(catalogue(&store).await, old, "mid-import the catalogue is the old one: {seen}");

    let server = start(dir.path()).await;
    let started = Instant::now();
    let done = loop {
        let now = job(&client, &server.base, &admin, &id).await;
        if matches!(now["status"].as_str(), Some("succeeded" | "failed")) {
            break now;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the job did not finish after the restart: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after = catalogue(&store).await;
    if done["status"] == "succeeded" {
        assert_eq!((done["progress"]["done"].as_u64(), done["progress"]["total"].as_u64()), (Some(ROWS as u64), Some(ROWS as u64)));
        assert_eq!(after.len(), old.len() + ROWS, "{done}");
        for (sku, (price, active)) in &after {
            if old.contains_key(sku) {
                assert!(!active, "{sku} retired by the replace");
            } else {
                assert_eq!((*price, *active), (777, true), "{sku}");
            }
        }
    } else {
        assert_eq!(after, old, "a failed job leaves the old catalogue: {done}");
    }
    store.close().await;
}
