use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::{NORTHWIND_KEY, TestApp};

async fn scrape(app: &TestApp) -> String {
    let response = app
        .router
        .clone()
        .oneshot(http::Request::get("/metrics").body(axum::body::Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("application/openmetrics-text"));
    String::from_utf8(response.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8")
}

#[tokio::test]
async fn metrics_cover_requests_chat_latency_cache_pool_limits_and_the_process() {
    let app = TestApp::new().await;
    let question = json!({ "message": "What is the restocking fee on returns?" });
    app.chat(NORTHWIND_KEY, question.clone()).await;
    app.chat(NORTHWIND_KEY, question).await;
    app.call("GET", "/no/such/path", None, None).await;
    app.call("GET", "/api/v1/sessions/0b7c6b0e-0000-4000-8000-000000000000/messages", None, None).await;
    let text = scrape(&app).await;
    for expected in [
        r#"tria_http_requests_total{route="/api/chat",method="POST",status="200"} 2"#,
        r#"tria_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"tria_http_requests_total{route="/api/v1/sessions/{id}/messages",method="GET",status="401"} 1"#,
        r#"tria_http_request_duration_seconds_bucket{le="#,
        "tria_chat_duration_seconds_count 2",
        r#"tria_cache_hits_total{tenant="northwind",level="l1"}"#,
        r#"tria_cache_misses_total{tenant="northwind",level="l3"}"#,
        r#"tria_cache_fallbacks_total{tenant="northwind",level="l2"}"#,
        "tria_cache_transitions_total 0",
        r#"tria_db_pool_connections{backend="sqlite"}"#,
        r#"tria_db_pool_max{backend="sqlite"} 8"#,
        "tria_db_retries_total 0",
        "tria_chat_in_flight 0",
        "tria_chat_in_flight_max 64",
        "tria_shed_total 0",
        "tria_rate_limited_total 0",
        "tria_process_resident_memory_bytes ",
        "tria_process_cpu_seconds_total ",
        r#"tria_build_info{version=""#,
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(!text.contains("0b7c6b0e"), "raw paths never become labels");
    assert!(text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).all(|l| l.starts_with("tria_")), "every series is prefixed");
}

#[tokio::test]
async fn retention_passes_are_counted_by_kind_and_outcome() {
    let db = crate::seeded_db().await;
    let store = db.store.clone();
    // A tenant keeping transcripts 30 days, whose one conversation is 40 days quiet by the
    // pass's clock; the seeded tenants keep everything (the deployment's default).
    let northwind = store
        .tenants()
        .create(tria_store::repo::NewTenant {
            name: "Retained".into(),
            slug: "retained".into(),
            currency: "USD".into(),
            tone: Default::default(),
            settings: json!({ "retention": { "transcripts_days": 30 } }),
        })
        .await
        .expect("tenant");
    let conv = tria_core::ConversationId::new_random();
    let exchange = tria_store::repo::Exchange {
        conversation: conv,
        opens_conversation: Some(tria_store::repo::NewConversation { customer: None, channel: "api".into() }),
        user: tria_store::repo::NewMessage::new(tria_core::MessageRole::User, "hello"),
        assistant: tria_store::repo::NewMessage::new(tria_core::MessageRole::Assistant, "hi"),
    };
    store.conversations().record_exchange(northwind.id, exchange).await.expect("record");
    let retention = tria_server::startup::retention_job(&store, &tria_config::RetentionSettings::default());
    let now = chrono::Utc::now() + chrono::Duration::days(40);
    assert!(matches!(retention.run_once(now).await.expect("pass"), tria_store::retention::RetentionRun::Done(_)));
    assert!(store.conversations().get(northwind.id, conv).await.expect("get").is_none());

    let agent = tria_agent::Agent::builder(store.clone()).build();
    let state = tria_server::AppState::new(store.clone(), agent, Vec::new(), tria_server::ServiceSettings::default())
        .with_retention(retention.totals());
    let app = TestApp::from_state(state, db);
    let text = scrape(&app).await;
    for expected in [
        r#"tria_retention_deleted_total{kind="conversations"} 1"#,
        r#"tria_retention_deleted_total{kind="messages"} 2"#,
        r#"tria_retention_deleted_total{kind="escalations"} 0"#,
        r#"tria_retention_runs_total{outcome="done"} 1"#,
        r#"tria_retention_runs_total{outcome="skipped"} 0"#,
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}
