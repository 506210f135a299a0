//! A real PDF through HTTP: uploaded as `application/pdf`, indexed by its job, and a policy
//! question answered citing the page it came from; a PDF claiming to be Markdown and garbage
//! claiming to be a PDF are 422 and leave the tenant's knowledge as it was.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tria_testkit::pdf::{page, pdf};

use crate::{TestApp, error_code};

async fn put(app: &TestApp, admin: &str, doc_id: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::put(format!("/admin/tenants/osprey/documents/{doc_id}"))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    let (status, _, json) = app.send(req).await;
    (status, json)
}

#[tokio::test]
async fn a_pdf_upload_is_answered_citing_its_page_and_mislabelled_uploads_change_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, body) = app.call("POST", "/admin/tenants", Some(&admin), Some(json!({"name": "Osprey Mugs", "slug": "osprey"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let handbook = pdf(
        Some("Osprey Customer Handbook"),
        &[
            page(&["Welcome to Osprey Mugs.", "This handbook explains how we look after our customers."]),
            page(&["Deliveries leave the Osprey kiln every weekday morning."]),
            page(&["Breakages in transit are replaced free of charge.", "Report a broken osprey mug within 14 days of delivery."]),
        ],
    );
    let (status, accepted) = put(&app, &admin, "handbook", "application/pdf", handbook.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["job"]["id"].as_str().expect("job id").to_owned();
    let started = Instant::now();
    let job = loop {
        let (_, _, job) = app.call("GET", &format!("/admin/jobs/{id}"), Some(&admin), None).await;
        if job["status"] == "succeeded" || job["status"] == "failed" {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    let (_, _, docs) = app.call("GET", "/admin/tenants/osprey/documents", Some(&admin), None).await;
    assert_eq!(docs["documents"][0]["content_type"], "application/pdf", "{docs}");
    assert_eq!(docs["documents"][0]["title"], "Osprey Customer Handbook", "{docs}");

    let (_, _, key) = app.call("POST", "/admin/keys", Some(&admin), Some(json!({"role": "tenant", "tenant": "osprey"}))).await;
    let key = key["key"].as_str().expect("tenant key").to_owned();
    let (status, reply) = app.chat(&key, json!({"message": "How many days do I have to report a broken osprey mug?"})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(reply["reply"].as_str().unwrap_or_default().contains("14 days"), "{reply}");
    let first = &reply["sources"][0];
    assert_eq!(first["title"], "Osprey Customer Handbook", "{reply}");
    assert!(first["heading"].as_str().unwrap_or_default().ends_with("page 3"), "the citation names the page: {reply}");

    // A PDF claiming to be Markdown, and text claiming to be a PDF: 422, nothing changes.
    let (_, _, before) = app.call("GET", "/admin/tenants/osprey/documents", Some(&admin), None).await;
    let (_, _, versions_before) = app.call("GET", "/admin/tenants/osprey/knowledge/versions", Some(&admin), None).await;
    let garbage = b"%PDF-1.7\n this is not really a PDF \x00\x01\x02 trailer".to_vec();
    for (content_type, body) in
        [("text/markdown", handbook), ("application/pdf", garbage), ("application/pdf", b"# Just Markdown\n\ntext".to_vec())]
    {
        let (status, err) = put(&app, &admin, "handbook", content_type, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{content_type}: {err}");
        assert!(!error_code(&err).is_empty(), "{err}");
        assert!(!err["error"]["message"].as_str().unwrap_or_default().is_empty(), "{err}");
    }
    let (_, _, after) = app.call("GET", "/admin/tenants/osprey/documents", Some(&admin), None).await;
    let (_, _, versions_after) = app.call("GET", "/admin/tenants/osprey/knowledge/versions", Some(&admin), None).await;
    assert_eq!(before, after, "mislabelled uploads leave the documents as they were");
    assert_eq!(versions_before, versions_after, "and the knowledge versions");
    let (_, again) = app.chat(&key, json!({"message": "How many days do I have to report a broken osprey mug?"})).await;
    assert!(again["reply"].as_str().unwrap_or_default().contains("14 days"), "{again}");
}
