//! Large uploads as jobs: spooled in chunks, validated whole (a bad row fails the job with the
//! 422's report and writes nothing), staged with progress, swapped in one transaction; a job
//! whose worker died is redone from the spool; orders keep the prices they were placed at.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use sea_orm::ConnectionTrait;
use tria_core::{CustomerId, OrderStatus, TenantId};
use tria_import::{Format, ImportMode};
use tria_store::Store;
use tria_store::import_jobs::{IMPORT_CATALOGUE_JOB, IMPORT_CUSTOMERS_JOB, ImportFinished, ImportJobs, ImportKind, Spool};
use tria_store::records::{Job, JobStatus};
use tria_store::repo::{NewOrder, NewOrderLine};

use crate::tenant;

#[derive(Default)]
struct Recorder(Mutex<Vec<(ImportKind, TenantId)>>);

#[async_trait::async_trait]
impl ImportFinished for Recorder {
    async fn imported(&self, kind: ImportKind, tenant: TenantId) {
        self.0.lock().expect("lock").push((kind, tenant));
    }
}

/// `rows` products priced `price_cents` each (a 15k-row file is over one 1 MB spool chunk).
fn catalogue_csv(rows: usize, price_cents: u32) -> String {
    let mut csv = String::from("sku,name,price,stock,description\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "SKU-{i:06},Product number {i},{}.{:02},{},A product description long enough to look real\n",
            price_cents / 100,
            price_cents % 100,
            i % 50
        ));
    }
    csv
}

/// Spools `body` in uneven pieces, as a request body arrives, and enqueues the job.
async fn enqueue(store: &Store, kind: ImportKind, tenant: TenantId, body: &str, format: Format, mode: ImportMode) -> Job {
    let mut spool = Spool::new(store);
    for piece in body.as_bytes().chunks(77_777) {
        spool.write(piece).await.expect("spool");
    }
    let spooled = spool.finish().await.expect("finish");
    assert_eq!(spooled.bytes, body.len() as u64);
    store.enqueue_import(kind, tenant, spooled, format, mode).await.expect("enqueue")
}

async fn count(store: &Store, sql: &str) -> i64 {
    let db = store.connection();
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("count").expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

async fn prices(store: &Store, tenant: TenantId) -> Vec<(String, i64, bool)> {
    store.catalogue().list(tenant).await.expect("list").into_iter().map(|p| (p.sku, p.unit_price_minor, p.active)).collect()
}

#[tokio::test]
async fn a_spooled_catalogue_is_validated_staged_with_progress_and_swapped_and_a_bad_one_writes_nothing() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let label = db.label;
        let t = tenant(store, "import-jobs").await;
        let runner = ImportJobs::new(store.clone(), 64 * 1024 * 1024, Duration::from_secs(60));
        let recorder = Recorder::default();

        let rows = 15_000;
        let body = catalogue_csv(rows, 250);
        assert!(body.len() > 1024 * 1024, "spans spool chunks");
        let job = enqueue(store, ImportKind::Catalogue, t.id, &body, Format::Csv, ImportMode::Merge).await;
        assert_eq!((job.kind.as_str(), job.status), (IMPORT_CATALOGUE_JOB, JobStatus::Queued));
        let ran = runner.run_next(&recorder).await.expect("run").expect("a job");
        assert_eq!(ran.id, job.id);
        let done = store.jobs().get(job.id).await.expect("get").expect("job");
        assert_eq!(done.status, JobStatus::Succeeded, "{label}: {:?}", done.errors);
        assert_eq!((done.progress_done, done.progress_total), (rows as i64, rows as i64), "{label}");
        assert!(done.finished_at.is_some());
        let now = prices(store, t.id).await;
        assert_eq!(now.len(), rows, "{label}");
        assert!(now.iter().all(|(_, price, active)| *price == 250 && *active), "{label}");
        assert_eq!(recorder.0.lock().expect("lock").as_slice(), &[(ImportKind::Catalogue, t.id)]);
        // The spool and the staged rows are gone with the finished job.
        assert_eq!(count(store, "SELECT COUNT(*) FROM upload_spools").await, 0, "{label}");
        assert_eq!(count(store, "SELECT COUNT(*) FROM import_staged_rows").await, 0, "{label}");
        assert!(runner.run_next(&recorder).await.expect("run").is_none(), "nothing left to run");

        // One bad row anywhere: the job fails with the report the 422 gives, nothing changes.
        let mut bad = catalogue_csv(rows, 300);
        bad.push_str("SKU-000003,Duplicate,1.00,1,dup\nBAD-PRICE,No price,abc,1,x\n");
        let job = enqueue(store, ImportKind::Catalogue, t.id, &bad, Format::Csv, ImportMode::Replace).await;
        runner.run_next(&recorder).await.expect("run").expect("a job");
        let failed = store.jobs().get(job.id).await.expect("get").expect("job");
        assert_eq!(failed.status, JobStatus::Failed, "{label}");
        let report = &failed.errors[0];
        assert_eq!(report["code"], "invalid_rows", "{report}");
        assert_eq!((report["total"].as_u64(), report["rows_checked"].as_u64()), (Some(2), Some(rows as u64 + 2)), "{report}");
        let lines: Vec<u64> = report["rows"].as_array().expect("rows").iter().filter_map(|r| r["line"].as_u64()).collect();
        assert_eq!(lines, vec![rows as u64 + 2, rows as u64 + 3], "{report}");
        assert_eq!(prices(store, t.id).await, now, "{label}: a failed job writes nothing");
        assert_eq!(failed.progress_done, 0, "{label}");
        assert_eq!(recorder.0.lock().expect("lock").len(), 1, "no reload for a failed job");
        assert_eq!(count(store, "SELECT COUNT(*) FROM upload_spools").await, 0, "{label}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_is_redone_from_the_spool_and_orders_keep_their_prices() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let label = db.label;
        let t = tenant(store, "import-retry").await;
        let runner = ImportJobs::new(store.clone(), 64 * 1024 * 1024, Duration::from_secs(60));
        let recorder = Recorder::default();
        runner.run_next(&recorder).await.expect("idle");

        let first = enqueue(store, ImportKind::Catalogue, t.id, &catalogue_csv(3_000, 100), Format::Csv, ImportMode::Merge).await;
        runner.run_next(&recorder).await.expect("run");
        assert_eq!(store.jobs().get(first.id).await.expect("get").expect("job").status, JobStatus::Succeeded, "{label}");
        let customers = "[{\"customer_number\": \"C1\", \"email\": \"c1@example.com\", \"name\": \"Cy\"}]";
        let job = enqueue(store, ImportKind::Customers, t.id, customers, Format::Json, ImportMode::Merge).await;
        assert_eq!(job.kind, IMPORT_CUSTOMERS_JOB);
        runner.run_next(&recorder).await.expect("run");
        let c1 = store.customers().find_by_external_id(t.id, "C1").await.expect("read").expect("c1 imported by a job");
        let order = store
            .orders()
            .create(
                t.id,
                NewOrder {
                    customer: CustomerId(c1.id),
                    number: "ORD-J1".into(),
                    status: OrderStatus::Confirmed,
                    idempotency_key: "chat:job-1".into(),
                    lines: vec![NewOrderLine { sku: "SKU-000007".into(), quantity: 3 }],
                    created_at: Utc::now(),
                    outbox_kind: None,
                },
            )
            .await
            .expect("order");

        // A worker claims the new upload and dies at once: its lease (zero here) has expired, so
        // the next claim takes the job over as attempt 2 and redoes it from the spool.
        let replace = catalogue_csv(2_000, 199);
        let job = enqueue(store, ImportKind::Catalogue, t.id, &replace, Format::Csv, ImportMode::Replace).await;
        let dead = store.jobs().claim(&[IMPORT_CATALOGUE_JOB], Duration::ZERO, Utc::now()).await.expect("claim").expect("claimed");
        assert_eq!((dead.id, dead.attempts), (job.id, 1));
        runner.run_next(&recorder).await.expect("run").expect("taken over");
        let done = store.jobs().get(job.id).await.expect("get").expect("job");
        assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2), "{label}: {:?}", done.errors);
        let now = prices(store, t.id).await;
        assert_eq!(now.iter().filter(|(_, price, active)| *price == 199 && *active).count(), 2_000, "{label}");
        assert_eq!(now.iter().filter(|(_, _, active)| !active).count(), 1_000, "{label}: replace retired the rest");
        // The order placed at 1.00 keeps that price; its product is now 1.99.
        let items = store.orders().items(t.id, order.id).await.expect("items");
        assert_eq!((items[0].unit_price_minor, items[0].line_total_minor), (100, 300), "{label}");
        db.cleanup().await;
    }
}
