//! A job's lease is renewed while its worker runs it, so a job slower than one lease (here a
//! reload after the swap that lasts five leases) is never claimed by a second worker and runs
//! once; a worker whose lease did run out learns it from its heartbeat. Spools of uploads cut off
//! mid-way (a server killed, a request timed out) are dropped by the runner, at start and after.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::ConnectionTrait;
use tria_core::TenantId;
use tria_import::{Format, ImportMode};
use tria_store::Store;
use tria_store::import_jobs::{ImportFinished, ImportJobs, ImportKind, SPOOL_CHUNK_BYTES, Spool};
use tria_store::job_lease::JobHeartbeat;
use tria_store::records::JobStatus;
use tria_store::repo::NewJob;

use crate::tenant;

/// The reload after the swap, taking `delay` (a 100k-product index reload is seconds).
struct SlowReload {
    delay: Duration,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl ImportFinished for SlowReload {
    async fn imported(&self, _kind: ImportKind, _tenant: TenantId) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
    }
}

async fn spooled_job(store: &Store, tenant: TenantId, csv: &str) -> tria_store::records::Job {
    let mut spool = Spool::new(store);
    spool.write(csv.as_bytes()).await.expect("spool");
    let spooled = spool.finish().await.expect("finish");
    store.enqueue_import(ImportKind::Catalogue, tenant, spooled, Format::Csv, ImportMode::Merge).await.expect("enqueue")
}

async fn spools(store: &Store) -> i64 {
    let db = store.connection();
    let sql = "SELECT COUNT(DISTINCT spool_id) FROM upload_spools";
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("count").expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// An upload cut off after `bytes` (whole chunks are stored as they arrive; the rest is lost).
async fn cut_off_upload(store: &Store, bytes: usize) {
    let mut spool = Spool::new(store);
    spool.write(&vec![b'x'; bytes]).await.expect("spool");
    drop(spool);
}

#[tokio::test]
async fn a_job_slower_than_its_lease_keeps_it_and_another_worker_never_runs_it_twice() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let label = db.label;
        let t = tenant(store, "slow-import").await;
        let lease = Duration::from_millis(300);
        let job = spooled_job(store, t.id, "sku,name,price\nSLOW-1,Slow widget,4.20\n").await;

        // Replica A runs it; its reload lasts five leases.
        let reload = Arc::new(SlowReload { delay: lease * 5, calls: AtomicUsize::new(0) });
        let a = ImportJobs::new(store.clone(), 1 << 20, lease);
        let a_reload = reload.clone();
        let running = tokio::spawn(async move { a.run_next(a_reload.as_ref()).await });
        while store.jobs().get(job.id).await.expect("get").expect("job").status == JobStatus::Queued {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Replica B polls all the while: the job is never due for it.
        let b = ImportJobs::new(store.clone(), 1 << 20, lease);
        let b_reload = SlowReload { delay: Duration::ZERO, calls: AtomicUsize::new(0) };
        while !running.is_finished() {
            let stolen = b.run_next(&b_reload).await.expect("claim");
            assert!(stolen.is_none(), "{label}: replica B claimed a live job: {stolen:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let ran = running.await.expect("task").expect("run").expect("a job");
        assert_eq!(ran.id, job.id);
        let done = store.jobs().get(job.id).await.expect("get").expect("job");
        assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 1), "{label}: one attempt: {done:?}");
        assert_eq!(reload.calls.load(Ordering::SeqCst), 1, "{label}");
        assert_eq!(b_reload.calls.load(Ordering::SeqCst), 0, "{label}: B never imported it");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_heartbeat_renews_a_held_lease_and_reports_one_another_worker_took() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let label = db.label;
        let t = tenant(store, "heartbeat").await;
        let new = || NewJob { kind: "index_document".into(), tenant: t.id, payload: serde_json::json!({}), total: 0, input: None };
        let lease = Duration::from_millis(200);
        let kinds = ["index_document"];

        // Held and renewed: after five leases it is still not claimable.
        store.jobs().enqueue(new()).await.expect("enqueue");
        let held = store.jobs().claim(&kinds, lease, Utc::now()).await.expect("claim").expect("job");
        let heartbeat = JobHeartbeat::start(store, &held, lease);
        tokio::time::sleep(lease * 5).await;
        assert!(store.jobs().claim(&kinds, lease, Utc::now()).await.expect("claim").is_none(), "{label}: renewed");
        assert!(!heartbeat.lost());
        // Dropped (the worker died): the lease runs out and the job is claimed again.
        drop(heartbeat);
        tokio::time::sleep(lease * 2).await;
        let retried = store.jobs().claim(&kinds, lease, Utc::now()).await.expect("claim").expect("reclaimed after the lease");
        assert_eq!((retried.id, retried.attempts), (held.id, 2), "{label}");

        // The first worker comes back (it had stalled): its heartbeat finds the job taken.
        let stale = JobHeartbeat::start(store, &held, lease);
        let started = Instant::now();
        while !stale.lost() {
            assert!(started.elapsed() < Duration::from_secs(10), "{label}: the lost lease was never noticed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now = store.jobs().get(held.id).await.expect("get").expect("job");
        assert_eq!(now.lease_owner, retried.lease_owner, "{label}: the stale heartbeat did not take the lease back");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn spools_of_cut_off_uploads_are_dropped_and_live_ones_kept() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let label = db.label;
        let t = tenant(store, "spools").await;
        let expiry = Duration::from_millis(300);
        let runner = ImportJobs::new(store.clone(), 64 << 20, Duration::from_secs(60)).with_spool_expiry(expiry);

        // A server killed mid-upload: one chunk stored, no job. A queued job's spool, as old.
        cut_off_upload(store, SPOOL_CHUNK_BYTES + SPOOL_CHUNK_BYTES / 2).await;
        let queued = spooled_job(store, t.id, "sku,name,price\nKEEP-1,Kept widget,1.00\n").await;
        tokio::time::sleep(expiry + Duration::from_millis(100)).await;
        // An upload arriving now.
        cut_off_upload(store, SPOOL_CHUNK_BYTES).await;
        assert_eq!(spools(store).await, 3, "{label}");
        assert_eq!(runner.sweep_spools().await.expect("sweep"), 1, "{label}: only the cut-off upload's spool");
        assert_eq!(spools(store).await, 2, "{label}");
        assert_eq!(runner.sweep_spools().await.expect("sweep"), 0, "{label}: nothing more to drop");

        // The queued job still reads its whole upload.
        let reload = SlowReload { delay: Duration::ZERO, calls: AtomicUsize::new(0) };
        runner.run_next(&reload).await.expect("run").expect("the queued job");
        let done = store.jobs().get(queued.id).await.expect("get").expect("job");
        assert_eq!(done.status, JobStatus::Succeeded, "{label}: {done:?}");
        assert_eq!(store.catalogue().list(t.id).await.expect("list").len(), 1, "{label}");

        // At start the runner sweeps by itself: the upload that was "arriving" is now cut off.
        tokio::time::sleep(expiry + Duration::from_millis(100)).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(runner.clone().run(Arc::new(reload), Duration::from_millis(50), stopped));
        let started = Instant::now();
        while spools(store).await > 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "{label}: the runner did not sweep at start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).expect("stop");
        running.await.expect("runner");
        db.cleanup().await;
    }
}
