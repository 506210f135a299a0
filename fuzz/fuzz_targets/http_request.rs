//! Arbitrary HTTP requests (method, path, headers, body) through the real router in-process:
//! no panic, no 500, every error the JSON shape, every response with a request id.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const KEY: &str = "tria_fuzz_northwind_key_0000000000001";
const PATHS: &[&str] = &["/api/chat", "/api/v1/chat/stream", "/v1/chat/completions", "/api/v1/sessions/x/messages", "/admin/tenants", "/health"];

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    path: Result<u8, String>,
    content_type: Option<String>,
    with_key: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let router = runtime.block_on(async {
            let db = tria_testkit::sqlite().await;
            let keys: BTreeMap<String, String> = [("northwind".to_owned(), KEY.to_owned())].into();
            tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
            let agent = tria_agent::Agent::builder(db.store.clone()).build();
            let state = tria_server::AppState::new(db.store.clone(), agent, Vec::new(), tria_server::ServiceSettings::default());
            std::mem::forget(db); // the database lives as long as the fuzzing process
            tria_server::router(state)
        });
        App { runtime, router }
    })
}

fuzz_target!(|input: Input| {
    let app = app();
    let method = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"][usize::from(input.method) % 6];
    let path = match &input.path {
        Ok(i) => PATHS[usize::from(*i) % PATHS.len()].to_owned(),
        Err(raw) => format!("/{raw}"),
    };
    let mut builder = http::Request::builder().method(method).uri(path);
    if let Some(ct) = &input.content_type {
        builder = builder.header("content-type", ct.as_str());
    }
    if input.with_key {
        builder = builder.header("authorization", format!("Bearer {KEY}"));
    }
    for (name, value) in input.headers.iter().take(8) {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let Ok(request) = builder.body(Body::from(input.body)) else { return };
    let response = app.runtime.block_on(app.router.clone().oneshot(request)).expect("infallible");
    let status = response.status();
    assert_ne!(status.as_u16(), 500, "internal error");
    assert!(response.headers().contains_key("x-request-id"));
    if status.is_client_error() || status.is_server_error() {
        let bytes = app.runtime.block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).expect("body");
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("error bodies are JSON");
        assert!(json["error"]["code"].is_string() && json["error"]["message"].is_string(), "{json}");
    }
});
