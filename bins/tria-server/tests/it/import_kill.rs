//! The real binary killed with SIGKILL in the middle of a catalogue import job, then restarted
//! on the same data: the job is taken over once its lease (short here, `import.job_lease_ms`)
//! runs out and ends `succeeded` or `failed`, and the tenant's catalogue is either the old one
//! or the whole new one, never a mix.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tria_store::Store;

use crate::process::{ServerProcess, job, open_data_dir};

const ROWS: usize = 100_000;

/// The binary on `dir` with a short job lease.
async fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start(dir, &[("TRIA_IMPORT__JOB_LEASE_MS", "1500"), ("TRIA_IMPORT__JOB_POLL_MS", "200")]).await
}

/// Every northwind product: SKU -> (price, active).
async fn catalogue(store: &Store) -> BTreeMap<String, (i64, bool)> {
    let tenant = store.tenants().find_by_slug("northwind").await.expect("read").expect("northwind");
    store.catalogue().list(tenant.id).await.expect("list").into_iter().map(|p| (p.sku, (p.unit_price_minor, p.active))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_import_finishes_or_fails_the_job_after_restart_and_the_catalogue_is_never_a_mix() {
    let _heavy = crate::HEAVY.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (store, admin) = open_data_dir(dir.path()).await;
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
