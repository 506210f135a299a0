//! An index job slower than its lease (here the reload after publishing lasts five leases, as a
//! 200-page PDF's did) keeps its lease while it runs: another replica polling all the while never
//! claims it, the document is published once and the job succeeds on its first attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tria_core::TenantId;
use tria_ingest::{IngestOptions, Upload};
use tria_knowledge::{Knowledge, KnowledgeChanged, run_next};
use tria_store::records::JobStatus;

use crate::TestApp;

/// The reload after publishing, taking `delay`.
struct SlowReload {
    delay: Duration,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl KnowledgeChanged for SlowReload {
    async fn knowledge_changed(&self, _tenant: TenantId) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
    }
}

#[tokio::test]
async fn an_index_job_slower_than_its_lease_runs_once_and_no_replica_steals_it() {
    let app = TestApp::new().await;
    let store = app.db.store.clone();
    let tenant = store.tenants().find_by_slug("velo").await.expect("read").expect("velo").id;
    let lease = Duration::from_millis(300);
    // Two replicas over one database, each with the short lease (`knowledge.job_lease_ms`).
    let a = Knowledge::new(store.clone(), IngestOptions::default()).with_job_lease(lease);
    let b = Knowledge::new(store.clone(), IngestOptions::default()).with_job_lease(lease);
    let versions_before = a.versions(tenant).await.expect("versions").len();
    let body = b"# Velo lease policy\n\n## Slow reloads\n\nA slow reload keeps its lease.\n";
    let upload = Upload { body, content_type: "text/markdown", title: None };
    let job = a.upload_document(tenant, "lease-policy", upload).await.expect("enqueued");

    let reload = Arc::new(SlowReload { delay: lease * 5, calls: AtomicUsize::new(0) });
    let a_reload = reload.clone();
    let running = tokio::spawn(async move { run_next(&a, a_reload.as_ref()).await });
    while store.jobs().get(job.id).await.expect("get").expect("job").status == JobStatus::Queued {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b_reload = SlowReload { delay: Duration::ZERO, calls: AtomicUsize::new(0) };
    while !running.is_finished() {
        let stolen = run_next(&b, &b_reload).await.expect("claim");
        assert!(stolen.is_none(), "replica B claimed a live index job: {stolen:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    running.await.expect("task").expect("run").expect("a job");
    let done = store.jobs().get(job.id).await.expect("get").expect("job");
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 1), "{done:?}");
    assert_eq!(reload.calls.load(Ordering::SeqCst), 1);
    assert_eq!(b_reload.calls.load(Ordering::SeqCst), 0, "replica B never ran it");
    let versions = b.versions(tenant).await.expect("versions");
    assert_eq!(versions.len(), versions_before + 1, "published once: {versions:?}");
}
