use axum::body::Body;
use http::{Request, StatusCode};

use crate::TestApp;

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn health_lists_every_component_and_is_ok_when_they_are() {
    let app = TestApp::new().await;
    let (status, _, body) = app.send(get("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The test app has no embedding model, an optional component: it is down, so the service
    // is degraded, not down; every other component is ok.
    let components = body["components"].as_array().expect("components");
    let optional_down = components.iter().any(|c| c["required"] == false && c["status"] == "down");
    assert_eq!(body["status"], if optional_down { "degraded" } else { "ok" }, "{body}");
    assert!(components.iter().filter(|c| c["required"] == true).all(|c| c["status"] == "ok"), "{body}");
    let names: Vec<&str> = body["components"].as_array().expect("components").iter().filter_map(|c| c["name"].as_str()).collect();
    for expected in ["database", "cache", "embedding", "llm"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for c in body["components"].as_array().expect("components") {
        assert!(c["latency_ms"].is_u64() && c["detail"].is_string() && c["status"].is_string(), "{c}");
    }
    let overall = body["status"].clone();
    let (status, _, body) = app.send(get("/health/ready")).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &overall));
    let (status, _, body) = app.send(get("/health/live")).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn an_unreachable_database_is_down_and_503_never_500() {
    let app = TestApp::new().await;
    app.db.store.close().await;
    for path in ["/health", "/health/ready"] {
        let (status, _, body) = app.send(get(path)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["status"], "down");
        let db = body["components"].as_array().expect("components").iter().find(|c| c["name"] == "database").expect("database");
        assert_eq!(db["status"], "down");
        assert!(!db["detail"].as_str().expect("detail").is_empty());
    }
    // Liveness does not depend on the database.
    let (status, _, _) = app.send(get("/health/live")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_draining_server_is_not_ready_but_still_live() {
    let app = TestApp::new().await;
    app.state.start_draining();
    let (status, _, body) = app.send(get("/health/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, _, _) = app.send(get("/health/live")).await;
    assert_eq!(status, StatusCode::OK);
}
