//! Catalogue and customer uploads over `import.job_threshold_bytes` run as jobs: 202 `{job}`,
//! `GET /admin/jobs/{id}` shows progress and ends `succeeded` (chat quotes the new price) or
//! `failed` with the 422's bad-row report (nothing changed); over `import.max_bytes` is 413.
//! Small uploads keep answering 200 in the request.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tria_server::ServiceSettings;

use crate::{TestApp, error_code};

const SLUG: &str = "bulk-tea";

fn catalogue_csv(rows: usize, price: &str) -> String {
    let mut csv = String::from("sku,name,price,description\n");
    for i in 0..rows {
        csv.push_str(&format!("BT-{i:05},Loose leaf tea number {i},{price},A tea\n"));
    }
    csv
}

async fn put(app: &TestApp, what: &str, query: &str, key: &str, content_type: &str, body: impl Into<Body>) -> (StatusCode, Value) {
    let req = Request::put(format!("/admin/tenants/{SLUG}/{what}{query}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(body.into())
        .expect("request");
    let (status, _, json) = app.send(req).await;
    (status, json)
}

/// Polls the job until it has finished.
async fn finished(app: &TestApp, admin: &str, job: &Value) -> Value {
    let id = job["id"].as_str().expect("job id");
    let started = Instant::now();
    loop {
        let (status, _, job) = app.call("GET", &format!("/admin/jobs/{id}"), Some(admin), None).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if matches!(job["status"].as_str(), Some("succeeded" | "failed")) {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn prices(app: &TestApp) -> Vec<(String, i64, bool)> {
    let tenant = app.db.store.tenants().find_by_slug(SLUG).await.expect("read").expect("tenant");
    app.db.store.catalogue().list(tenant.id).await.expect("list").into_iter().map(|p| (p.sku, p.unit_price_minor, p.active)).collect()
}

#[tokio::test]
async fn an_upload_over_the_threshold_is_a_job_with_progress_and_a_bad_one_fails_with_the_report() {
    let mut settings = ServiceSettings::default();
    settings.import.job_threshold_bytes = 4 * 1024;
    settings.import.max_bytes = 256 * 1024;
    let app = TestApp::with_settings(settings).await;
    let admin = app.admin_key().await;
    let (status, _, created) =
        app.call("POST", "/admin/tenants", Some(&admin), Some(json!({ "name": "Bulk Tea", "slug": SLUG, "currency": "USD" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // Small: 200 with counts, as before.
    let (status, done) = put(&app, "catalogue", "", &admin, "text/csv", catalogue_csv(3, "1.00")).await;
    assert_eq!((status, done["created"].as_u64()), (StatusCode::OK, Some(3)), "{done}");

    // Large: 202 with a job, which imports every row.
    let rows = 2_500;
    let (status, accepted) = put(&app, "catalogue", "?mode=replace", &admin, "text/csv", catalogue_csv(rows, "4.20")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = &accepted["job"];
    assert_eq!((job["kind"].as_str(), job["tenant"].as_str()), (Some("import_catalogue"), Some(SLUG)), "{job}");
    assert!(matches!(job["status"].as_str(), Some("queued" | "running")), "{job}");
    let job = finished(&app, &admin, job).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!((job["progress"]["done"].as_u64(), job["progress"]["total"].as_u64()), (Some(rows as u64), Some(rows as u64)), "{job}");
    assert!(job["finished_at"].is_string(), "{job}");
    let after = prices(&app).await;
    assert_eq!(after.len(), rows, "the three small rows are the first three of the large upload");
    assert!(after.iter().all(|(_, price, active)| *price == 420 && *active));

    // Chat quotes the price the job imported (the job reloaded the product index).
    let (status, _, key) =
        app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "tenant", "tenant": SLUG, "label": "chat" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (status, reply) = app.chat(key["key"].as_str().expect("key"), json!({ "message": "How much is loose leaf tea number 17?" })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(reply["reply"].as_str().unwrap_or_default().contains("4.20"), "{reply}");

    // One bad row: 202, then the job fails with the same report a 422 gives; nothing changes.
    let mut bad = catalogue_csv(rows, "9.99");
    bad.push_str("BT-00007,Duplicate,1.00,x\n");
    let (status, accepted) = put(&app, "catalogue", "", &admin, "text/csv", bad).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = finished(&app, &admin, &accepted["job"]).await;
    assert_eq!(job["status"], "failed", "{job}");
    let report = &job["errors"][0];
    assert_eq!((report["code"].as_str(), report["total"].as_u64()), (Some("invalid_rows"), Some(1)), "{job}");
    assert_eq!(report["rows"][0]["line"].as_u64(), Some(rows as u64 + 2), "{job}");
    assert!(report["rows"][0]["problems"].to_string().contains("duplicate"), "{job}");
    assert_eq!(prices(&app).await, after, "a failed job changes nothing");

    // Customers too.
    let mut customers = String::from("customer_number,email,name\n");
    for i in 0..300 {
        customers.push_str(&format!("BTC-{i:04},buyer{i}@bulk-tea.example,Buyer {i}\n"));
    }
    let (status, accepted) = put(&app, "customers", "", &admin, "text/csv", customers).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = finished(&app, &admin, &accepted["job"]).await;
    assert_eq!((job["kind"].as_str(), job["status"].as_str()), (Some("import_customers"), Some("succeeded")), "{job}");
    let tenant = app.db.store.tenants().find_by_slug(SLUG).await.expect("read").expect("tenant");
    assert_eq!(app.db.store.customers().list(tenant.id).await.expect("customers").len(), 300);

    // Over import.max_bytes: 413, whether declared or only found while reading.
    let huge = catalogue_csv(10_000, "1.00");
    assert!(huge.len() > 256 * 1024);
    let (status, json) = put(&app, "catalogue", "", &admin, "text/csv", huge.clone()).await;
    assert_eq!((status, error_code(&json).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{json}");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge.into_bytes().chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = Body::from_stream(futures::stream::iter(chunks));
    let (status, json) = put(&app, "catalogue", "", &admin, "text/csv", streamed).await;
    assert_eq!((status, error_code(&json).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{json}");
    assert_eq!(prices(&app).await, after);
}
