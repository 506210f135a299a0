//! Issue 25's knowledge path through HTTP only: a tenant no fixture knows gets documents,
//! answers from them with citations, replaces one (the answer changes), rolls back, refuses bad
//! uploads without changing anything, and keeps the endpoints admin-only.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::{NORTHWIND_KEY, TestApp, error_code};

const RETURNS_V1: &str = "# Kestrel returns policy\n\n## Returns window\n\nKestrel accepts returns of unopened kestrel widgets within 45 days of delivery, with the receipt.\n";
const RETURNS_V2: &str = "# Kestrel returns policy\n\n## Returns window\n\nKestrel accepts returns of unopened kestrel widgets within 90 days of delivery, with the receipt.\n";
const SHIPPING_HTML: &str = "<html><head><title>Kestrel shipping</title><script>var x = 'ignore me';</script></head><body><nav>Home | About</nav><h1>Kestrel shipping</h1><h2>Delivery times</h2><p>Kestrel ships every order by courier within 3 business days.</p></body></html>";

async fn upload(app: &TestApp, key: &str, slug: &str, doc_id: &str, content_type: &str, body: &[u8]) -> (StatusCode, Value) {
    let req = Request::put(format!("/admin/tenants/{slug}/documents/{doc_id}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .expect("request");
    let (status, _, json) = app.send(req).await;
    (status, json)
}

/// Polls the job until it has finished; returns its final JSON.
async fn finished_job(app: &TestApp, key: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, _, job) = app.call("GET", &format!("/admin/jobs/{id}"), Some(key), None).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "job still {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn indexed(app: &TestApp, key: &str, slug: &str, doc_id: &str, content_type: &str, body: &[u8]) -> Value {
    let started = Instant::now();
    let (status, accepted) = upload(app, key, slug, doc_id, content_type, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["job"]["kind"], "index_document");
    assert_eq!(accepted["job"]["tenant"], slug);
    let job = finished_job(app, key, accepted["job"]["id"].as_str().expect("job id")).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"]["done"], job["progress"]["total"]);
    assert!(job["finished_at"].is_string());
    eprintln!("indexed {doc_id} ({} bytes) in {:?}", body.len(), started.elapsed());
    job
}

async fn ask(app: &TestApp, key: &str, question: &str) -> Value {
    let (status, reply) = app.chat(key, json!({ "message": question })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply
}

fn cites(reply: &Value, title: &str) -> bool {
    reply["sources"].as_array().is_some_and(|s| s.iter().any(|src| src["title"] == title))
}

#[tokio::test]
async fn a_new_tenant_is_answered_from_uploaded_documents_replaced_and_rolled_back() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, tenant) =
        app.call("POST", "/admin/tenants", Some(&admin), Some(json!({"name": "Kestrel Supply", "slug": "kestrel"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");

    indexed(&app, &admin, "kestrel", "returns", "text/markdown", RETURNS_V1.as_bytes()).await;
    indexed(&app, &admin, "kestrel", "shipping", "text/html; charset=utf-8", SHIPPING_HTML.as_bytes()).await;
    let (_, _, key) = app.call("POST", "/admin/keys", Some(&admin), Some(json!({"role": "tenant", "tenant": "kestrel"}))).await;
    let key = key["key"].as_str().expect("tenant key").to_owned();

    let question = "How many days do I have to return an unopened kestrel widget?";
    let first = ask(&app, &key, question).await;
    assert!(cites(&first, "Kestrel returns policy"), "{first}");
    assert!(first["reply"].as_str().unwrap_or_default().contains("45 days"), "{first}");
    let shipping = ask(&app, &key, "How quickly does Kestrel ship an order by courier?").await;
    assert!(cites(&shipping, "Kestrel shipping"), "{shipping}");
    let cached = ask(&app, &key, question).await;
    assert_ne!(cached["cache"], "none", "the second ask is served from the cache: {cached}");

    let (status, _, docs) = app.call("GET", "/admin/tenants/kestrel/documents", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<(&str, i64)> = docs["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| (d["doc_id"].as_str().expect("doc_id"), d["version"].as_i64().expect("version")))
        .collect();
    assert_eq!(listed, [("returns", 1), ("shipping", 1)], "{docs}");
    assert!(docs["documents"][0]["chunks"].as_i64().expect("chunks") >= 1 && docs["documents"][0]["indexed_at"].is_string());

    // Replaced: a new version, the answer changes (the cached one is retired).
    indexed(&app, &admin, "kestrel", "returns", "text/markdown", RETURNS_V2.as_bytes()).await;
    let replaced = ask(&app, &key, question).await;
    assert!(replaced["reply"].as_str().unwrap_or_default().contains("90 days"), "{replaced}");
    let (_, _, versions) = app.call("GET", "/admin/tenants/kestrel/knowledge/versions", Some(&admin), None).await;
    assert_eq!(versions["versions"][0]["version"], 3, "{versions}");
    assert_eq!(versions["versions"][0]["current"], true);

    // Rolled back to version 2 (both documents, returns v1).
    let (status, _, body) = app.call("POST", "/admin/tenants/kestrel/knowledge/rollback", Some(&admin), Some(json!({"version": 2}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let restored = ask(&app, &key, question).await;
    assert!(restored["reply"].as_str().unwrap_or_default().contains("45 days"), "{restored}");
    let (status, _, body) = app.call("POST", "/admin/tenants/kestrel/knowledge/rollback", Some(&admin), Some(json!({"version": 42}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Bad uploads: each a 4xx naming the problem, and nothing changes.
    let (_, _, docs_before) = app.call("GET", "/admin/tenants/kestrel/documents", Some(&admin), None).await;
    let bad: [(&str, &str, Vec<u8>, StatusCode, &str); 5] = [
        ("returns", "application/msword", b"hello".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type"),
        ("returns", "application/pdf", SHIPPING_HTML.as_bytes().to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "not_the_declared_type"),
        ("returns", "text/markdown", b"# Returns\n\nabc \xc3\x28 def".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "bad_encoding"),
        ("returns", "text/html", b"<html><script>only()</script></html>".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "no_text"),
        ("bad id!", "text/markdown", b"# T\n\ntext".to_vec(), StatusCode::BAD_REQUEST, "invalid_field"),
    ];
    for (doc_id, content_type, body, want_status, want) in bad {
        let (status, err) = upload(&app, &admin, "kestrel", &doc_id.replace(' ', "%20"), content_type, &body).await;
        assert_eq!(status, want_status, "{content_type}: {err}");
        error_code(&err);
        assert!(err["error"]["message"].as_str().expect("message").contains(want) || err["error"]["code"] == want, "{err}");
    }
    let huge = vec![b'a'; tria_ingest::IngestOptions::DEFAULT_MAX_BYTES + 1];
    let (status, err) = upload(&app, &admin, "kestrel", "returns", "text/plain", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{err}");
    let (_, _, docs_after) = app.call("GET", "/admin/tenants/kestrel/documents", Some(&admin), None).await;
    assert_eq!(docs_before, docs_after, "bad uploads leave the knowledge as it was");
    let after = ask(&app, &key, question).await;
    assert!(after["reply"].as_str().unwrap_or_default().contains("45 days"), "{after}");

    // Delete: the document stops serving.
    let (status, _, body) = app.call("DELETE", "/admin/tenants/kestrel/documents/shipping", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = app.call("DELETE", "/admin/tenants/kestrel/documents/shipping", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, docs) = app.call("GET", "/admin/tenants/kestrel/documents", Some(&admin), None).await;
    assert_eq!(docs["documents"].as_array().map(Vec::len), Some(1), "{docs}");
}

#[tokio::test]
async fn knowledge_endpoints_are_admin_only_and_unknown_jobs_are_404() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, body) = app.call("GET", &format!("/admin/jobs/{}", uuid::Uuid::new_v4()), Some(&admin), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _, _) = app.call("GET", "/admin/jobs/not-a-uuid", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = upload(&app, NORTHWIND_KEY, "northwind", "returns", "text/markdown", b"# T\n\ntext").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (method, path) in [
        ("GET", "/admin/tenants/northwind/documents"),
        ("DELETE", "/admin/tenants/northwind/documents/returns"),
        ("GET", "/admin/tenants/northwind/knowledge/versions"),
        ("POST", "/admin/tenants/northwind/knowledge/rollback"),
        ("GET", "/admin/jobs/00000000-0000-0000-0000-000000000000"),
    ] {
        let (status, _, _) = app.call(method, path, Some(NORTHWIND_KEY), Some(json!({"version": 1}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        let (status, _, _) = app.call(method, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (status, _, body) = app.call("GET", "/admin/tenants/nobody/documents", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
