//! PostgreSQL connections lost under load (backends terminated, as a failover or an operator
//! does): reads are retried on a fresh connection, and what still fails is a 503 with
//! `Retry-After`, never a 500. Runs with `TRIA_TEST_POSTGRES_URL`; skipped without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::{NORTHWIND_KEY, TestApp};

#[tokio::test]
async fn terminated_postgres_backends_answer_200_or_503_never_500() {
    let Some(db) = tria_testkit::postgres().await else {
        eprintln!("skipped: TRIA_TEST_POSTGRES_URL is not set");
        return;
    };
    let keys = [("northwind".to_owned(), NORTHWIND_KEY.to_owned())].into();
    tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
    let agent = tria_agent::Agent::builder(db.store.clone()).build();
    // The load here is the point, not the rate limit.
    let limits = tria_server::LimitSettings { tenant_per_second: 1e6, tenant_burst: 1_000_000, ..Default::default() };
    let settings = tria_server::ServiceSettings { limits, ..Default::default() };
    let state = tria_server::AppState::new(db.store.clone(), agent, Vec::new(), settings);
    let app = Arc::new(TestApp::from_state(state, db));
    let (status, reply) = app.chat(NORTHWIND_KEY, json!({ "message": "What is the restocking fee on returns?" })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let session = reply["session_id"].as_str().expect("session").to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (app, stop, session) = (app.clone(), stop.clone(), session.clone());
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (status, headers, body) = if worker % 4 == 0 {
                    let message = format!("Do you offer free shipping? ({worker}-{i})");
                    app.call("POST", "/api/chat", Some(NORTHWIND_KEY), Some(json!({ "message": message }))).await
                } else {
                    app.call("GET", &format!("/api/v1/sessions/{session}/messages"), Some(NORTHWIND_KEY), None).await
                };
                outcomes.push((status, headers.get(http::header::RETRY_AFTER).is_some(), body));
            }
            outcomes
        }));
    }
    let mut terminated = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        terminated += app.db.terminate_connections().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.expect("worker"));
    }

    let total = outcomes.len();
    let unavailable: Vec<_> = outcomes.iter().filter(|(status, _, _)| *status == StatusCode::SERVICE_UNAVAILABLE).collect();
    let others: Vec<_> =
        outcomes.iter().filter(|(status, _, _)| *status != StatusCode::OK && *status != StatusCode::SERVICE_UNAVAILABLE).collect();
    eprintln!("{total} requests, 5 rounds terminating {terminated} backends: {} answered 503, {} other", unavailable.len(), others.len());
    assert!(terminated >= 5, "the test terminated too few backends to mean anything ({terminated})");
    assert!(others.is_empty(), "only 200 or 503 are acceptable; got {} others, first: {:?}", others.len(), others.first());
    for (_, retry_after, body) in &unavailable {
        assert!(*retry_after, "a 503 without Retry-After: {body}");
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
    }
    assert!(unavailable.len() * 50 <= total, "{} of {total} requests answered 503", unavailable.len());
    // The pool recovers: the next requests are served.
    let (status, _, body) = app.call("GET", &format!("/api/v1/sessions/{session}/messages"), Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(app.state.store().connection().retries() > 0, "reads were retried on fresh connections");
    let app = Arc::into_inner(app).expect("workers are done");
    app.db.cleanup().await;
}
