use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::TestApp;

/// Every route the router serves, as (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/chat"),
    ("post", "/api/v1/chat/stream"),
    ("post", "/v1/chat/completions"),
    ("get", "/api/v1/sessions/{id}/messages"),
    ("get", "/api/v1/metrics/cache"),
    ("get", "/api/v1/customers/{id}/profile"),
    ("get", "/api/v1/customers/{id}/churn"),
    ("post", "/integrations/slack/events"),
    ("get", "/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/admin/tenants"),
    ("post", "/admin/tenants"),
    ("get", "/admin/tenants/{slug}"),
    ("patch", "/admin/tenants/{slug}"),
    ("post", "/admin/tenants/{slug}/reindex"),
    ("get", "/admin/keys"),
    ("post", "/admin/keys"),
    ("delete", "/admin/keys/{id}"),
    ("get", "/admin/cache/stats"),
    ("post", "/admin/cache/invalidate"),
    ("get", "/admin/db/pool"),
    ("get", "/admin/integrations"),
    ("get", "/admin/usage"),
    ("get", "/api/v1/usage"),
    ("put", "/admin/tenants/{slug}/documents/{doc_id}"),
    ("get", "/admin/tenants/{slug}/documents"),
    ("delete", "/admin/tenants/{slug}/documents/{doc_id}"),
    ("get", "/admin/tenants/{slug}/knowledge/versions"),
    ("post", "/admin/tenants/{slug}/knowledge/rollback"),
    ("get", "/admin/jobs/{id}"),
    ("put", "/admin/tenants/{slug}/catalogue"),
    ("put", "/admin/tenants/{slug}/customers"),
    ("get", "/admin/tenants/{slug}/secrets"),
    ("put", "/admin/tenants/{slug}/secrets/{name}"),
    ("delete", "/admin/tenants/{slug}/secrets/{name}"),
    ("get", "/admin/tenants/{slug}/integrations/xero/connect"),
    ("get", "/admin/tenants/{slug}/integrations/xero"),
    ("delete", "/admin/tenants/{slug}/integrations/xero"),
    ("get", "/integrations/xero/callback"),
    ("get", "/admin/tenants/{slug}/customers/{customer_number}/export"),
    ("delete", "/admin/tenants/{slug}/customers/{customer_number}"),
    ("delete", "/admin/tenants/{slug}/customers"),
    ("get", "/admin/audit"),
    ("get", "/"),
    ("get", "/widget.js"),
    ("get", "/widget.css"),
    ("get", "/console"),
    ("get", "/console.js"),
    ("get", "/console.css"),
    ("get", "/api/v1/sessions/{id}/events"),
    ("post", "/api/v1/messages/{id}/feedback"),
    ("get", "/api/v1/console/me"),
    ("get", "/api/v1/console/conversations"),
    ("get", "/api/v1/console/conversations/{id}"),
    ("post", "/api/v1/console/conversations/{id}/take-over"),
    ("post", "/api/v1/console/conversations/{id}/hand-back"),
    ("post", "/api/v1/console/conversations/{id}/messages"),
    ("get", "/api/v1/console/dashboard"),
];

#[tokio::test]
async fn the_spec_lists_every_route_and_every_listed_route_exists() {
    let app = TestApp::new().await;
    let (status, _, spec) = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().expect("version").starts_with("3.1"), "{}", spec["openapi"]);
    let paths = spec["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        assert!(paths.get(*path).and_then(|p| p.get(*method)).is_some(), "{method} {path} missing from the spec");
    }
    let listed: usize = paths.values().map(|p| p.as_object().map_or(0, serde_json::Map::len)).sum();
    assert_eq!(listed, ROUTES.len(), "the spec lists a route the test does not know");
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());

    // Every documented operation is routed: never the router's 404 or 405.
    for (method, path) in ROUTES {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000").replace("{slug}", "northwind");
        let (status, _, body) = app.call(&method.to_uppercase(), &concrete, None, None).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(body["error"]["message"] != "no such endpoint", "{method} {path} is not routed");
    }
}

#[tokio::test]
async fn docs_render_the_spec_without_anything_from_the_internet() {
    let app = TestApp::new().await;
    let response = app
        .router
        .clone()
        .oneshot(http::Request::get("/docs").body(axum::body::Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    let html = String::from_utf8(response.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8");
    assert!(html.contains("/openapi.json"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external assets");
}

/// `value` with every object's keys in order, so the snapshot does not depend on the order the
/// document was built in.
fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            serde_json::Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The contract as served, pinned: a change to a path, a body, a limit or a pattern shows as a
/// reviewed diff of `snapshots/openapi.json` (`UPDATE_EXPECT=1` rewrites it).
#[tokio::test]
async fn the_document_is_the_reviewed_snapshot() {
    let app = TestApp::new().await;
    let (status, _, spec) = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut text = serde_json::to_string_pretty(&sorted(&spec)).expect("json");
    text.push('\n');
    expect_test::expect_file!["snapshots/openapi.json"].assert_eq(&text);
}
