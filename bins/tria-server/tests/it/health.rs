use axum::body::Body;
use http::{Request, StatusCode};

use tria_server::ServiceSettings;

use crate::TestApp;

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn health_lists_every_component_and_an_optional_one_down_only_degrades() {
    // The test app runs without the embedding model: optional, so `degraded` and still 200.
    let app = TestApp::new().await;
    let (status, _, body) = app.send(get("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let embedding = body["components"].as_array().expect("components").iter().find(|c| c["name"] == "embedding").expect("embedding");
    assert_eq!(embedding["status"], "down", "{embedding}");
    assert_eq!(embedding["required"], false, "{embedding}");
    let database = body["components"].as_array().expect("components").iter().find(|c| c["name"] == "database").expect("database");
    assert_eq!(database["status"], "ok", "{database}");
    let names: Vec<&str> = body["components"].as_array().expect("components").iter().filter_map(|c| c["name"].as_str()).collect();
    for expected in ["database", "cache", "embedding", "llm"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for c in body["components"].as_array().expect("components") {
        assert!(c["latency_ms"].is_u64() && c["detail"].is_string() && c["status"].is_string(), "{c}");
    }
    let (status, _, body) = app.send(get("/health/ready")).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("degraded")));
    let (status, _, body) = app.send(get("/health/live")).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn a_required_model_that_is_missing_makes_the_replica_not_ready() {
    // `embedding.required` (the production profile): the same missing model is now `down` and
    // required, so neither `/health` nor `/health/ready` lets traffic in; liveness is unaffected.
    let app = TestApp::with_settings(ServiceSettings { embedding_required: true, ..ServiceSettings::default() }).await;
    for path in ["/health", "/health/ready"] {
        let (status, _, body) = app.send(get(path)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["status"], "down", "{body}");
        let embedding = body["components"].as_array().expect("components").iter().find(|c| c["name"] == "embedding").expect("embedding");
        assert_eq!((embedding["status"].as_str(), embedding["required"].as_bool()), (Some("down"), Some(true)), "{embedding}");
        assert!(embedding["detail"].as_str().expect("detail").contains("embedding.required"), "{embedding}");
    }
    let (status, _, _) = app.send(get("/health/live")).await;
    assert_eq!(status, StatusCode::OK);
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
        let detail = db["detail"].as_str().expect("detail");
        assert!(detail.starts_with("sqlite unreachable"), "no driver internals on an unauthenticated endpoint: {detail}");
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
