//! Server tests: the service driven in-process (tower `oneshot`) and over a real socket.
#![allow(clippy::print_stderr)] // tests say which checks they skipped and print measured figures

mod admin;
mod browser;
mod catalogue_upload;
mod chat;
mod customer_data;
mod db_faults;
mod deploy;
mod errors;
mod fuzz_http;
mod health;
mod hostile;
mod import_jobs;
mod import_kill;
mod job_leases;
mod knowledge;
mod knowledge_kill;
mod knowledge_pdf;
mod ledger;
mod llm_calls;
mod llm_faults;
mod llm_providers;
mod metrics;
mod onboarding_e2e;
mod openai_sdk;
mod openapi;
mod orders;
mod overload;
mod process;
mod pyenv;
mod ratelimit;
mod ratelimit_outage;
mod redaction;
mod replicas;
mod schemathesis;
mod secrets;
mod socket;
mod streaming;
mod tenant_integrations;
mod tenant_settings;
mod text_fields;
mod traces;
mod upload_spool_kill;
mod usage;
mod verification;
mod web;
mod xero_connect;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tria_agent::Agent;
use tria_server::{AppState, ServiceSettings, router};
use tria_testkit::TestDb;

/// The service on a real loopback socket (what hyper, timeouts and raw clients see), until
/// [`LiveServer::stop`].
pub(crate) struct LiveServer {
    pub addr: std::net::SocketAddr,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub handle: tokio::task::JoinHandle<()>,
}

pub(crate) async fn serve_on_loopback(router: Router, opts: tria_server::ServeOptions) -> LiveServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(tria_server::serve(
        listener,
        router,
        async move {
            let _ = stopped.await;
        },
        opts,
    ));
    LiveServer { addr, stop, handle }
}

impl LiveServer {
    /// Asks the server to drain and waits for it at most `within`: the server task's result.
    pub(crate) async fn stop(self, within: std::time::Duration) -> Result<Result<(), tokio::task::JoinError>, tokio::time::error::Elapsed> {
        let _ = self.stop.send(());
        tokio::time::timeout(within, self.handle).await
    }
}

/// Held by the tests that load the machine (the 1,000-connection burst, fuzzing, schemathesis)
/// so they do not run at the same time and skew each other's figures.
pub(crate) static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) const NORTHWIND_KEY: &str = "tria_test_northwind_key_000000000001";
pub(crate) const VELO_KEY: &str = "tria_test_velo_key_00000000000000002";

pub(crate) struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub db: TestDb,
}

impl TestApp {
    /// A service over a fresh SQLite database seeded with the demo fixtures.
    pub(crate) async fn new() -> Self {
        Self::with_settings(ServiceSettings::default()).await
    }

    pub(crate) async fn with_settings(settings: ServiceSettings) -> Self {
        let db = seeded_db().await;
        let agent = Agent::builder(db.store.clone()).build();
        let state = AppState::new(db.store.clone(), agent, Vec::new(), settings);
        Self::from_state(state, db)
    }

    pub(crate) fn from_state(state: AppState, db: TestDb) -> Self {
        Self { router: router(state.clone()), state, db }
    }

    /// Sends one request through the router in-process.
    pub(crate) async fn send(&self, req: Request<Body>) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response = self.router.clone().oneshot(req).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({ "raw": String::from_utf8_lossy(&bytes) }));
        (status, headers, json)
    }

    /// A fresh admin key (plaintext).
    pub(crate) async fn admin_key(&self) -> String {
        self.db.store.keys().create(None, tria_core::ApiRole::Admin, "test admin").await.expect("admin key").1
    }

    /// A request with a bearer key and, when given, a JSON body.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req = match body {
            Some(body) => req.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.expect("request")).await
    }

    pub(crate) async fn chat(&self, key: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
        let (status, _, json) = self.send(chat_request(key, &body.to_string())).await;
        (status, json)
    }
}

/// A fresh SQLite database seeded with the demo fixtures and the two test keys.
pub(crate) async fn seeded_db() -> TestDb {
    let db = tria_testkit::sqlite().await;
    let keys: BTreeMap<String, String> =
        [("northwind".to_owned(), NORTHWIND_KEY.to_owned()), ("velo".to_owned(), VELO_KEY.to_owned())].into();
    tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
    db
}

pub(crate) fn chat_request(key: &str, body: &str) -> Request<Body> {
    Request::post("/api/chat")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

/// Asserts the API's error shape and returns the code.
pub(crate) fn error_code(json: &serde_json::Value) -> String {
    let code = json["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {json}"));
    let message = json["error"]["message"].as_str().unwrap_or_else(|| panic!("no message: {json}"));
    assert!(!message.is_empty());
    code.to_owned()
}

/// Everything a tracing fmt layer writes while its guard is held (the in-process router runs on
/// the test's current-thread runtime), for tests that check what reaches the logs.
#[derive(Clone, Default)]
pub(crate) struct Captured(pub(crate) std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
