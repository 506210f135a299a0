//! Property-based fuzzing of HTTP request handling (proptest, a bounded number of cases so it
//! runs in CI): random methods, paths, headers, content types and bodies — random JSON with
//! odd and huge Unicode, deep nesting, raw bytes — sent through the real router in-process.
//! Whatever arrives, the service must not panic or fail inside (no 500), every error must be
//! the JSON error shape, and every response must carry a request id.
//! The libFuzzer targets in `fuzz/` cover the same surface for longer runs.

use axum::body::Body;
use http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tria_server::{LimitSettings, ServiceSettings};

use crate::{NORTHWIND_KEY, TestApp};

const PATHS: &[&str] = &[
    "/api/chat",
    "/api/v1/chat/stream",
    "/v1/chat/completions",
    "/api/v1/sessions/abc/messages",
    "/api/v1/metrics/cache",
    "/admin/tenants",
    "/admin/tenants/northwind",
    "/admin/keys",
    "/admin/cache/invalidate",
    "/health",
    "/openapi.json",
    "/nope",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ?!.,']{0,40}",
        2 => "\\PC{0,200}",
        1 => proptest::collection::vec(any::<char>(), 0..300).prop_map(|c| c.into_iter().collect()),
        // Combining marks, RTL overrides, zero-width joiners, emoji, NUL.
        1 => proptest::collection::vec(prop::sample::select(vec!['\u{0301}', '\u{202E}', '\u{200D}', '\u{1F600}', '\0', '\u{FEFF}', 'ß']), 0..5000)
            .prop_map(|c| c.into_iter().collect()),
        // Beyond the body limit.
        1 => Just("x".repeat(70_000)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies shaped like the chat requests (so the pipeline runs) and anything else.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let chat_like = (text(), proptest::option::of(text()), proptest::option::of(json_value())).prop_map(|(message, session, extra)| {
        let mut body = serde_json::json!({ "message": message });
        if let Some(session) = session {
            body["session_id"] = Value::String(session);
        }
        if let Some(extra) = extra {
            body["customer_id"] = extra;
        }
        body.to_string().into_bytes()
    });
    let openai_like = (text(), json_value()).prop_map(|(content, user)| {
        serde_json::json!({ "model": "x", "messages": [{ "role": "user", "content": content }], "user": user }).to_string().into_bytes()
    });
    prop_oneof![
        3 => chat_like,
        2 => openai_like,
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        1 => (1usize..400).prop_map(|depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
    ]
}

#[derive(Debug, Clone)]
struct FuzzRequest {
    method: &'static str,
    path: String,
    content_type: Option<String>,
    auth: Option<String>,
    extra_header: Option<(String, String)>,
    body: Vec<u8>,
}

fn request() -> impl Strategy<Value = FuzzRequest> {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]);
    let path = prop_oneof![
        6 => prop::sample::select(PATHS.to_vec()).prop_map(str::to_owned),
        1 => "/[a-z0-9/%._~-]{0,60}",
        1 => "\\PC{0,20}".prop_map(|s| format!("/api/v1/sessions/{}/messages", urlencode(&s))),
    ];
    let content_type = proptest::option::of(prop_oneof![
        4 => Just("application/json".to_owned()),
        1 => Just("application/json; charset=utf-8".to_owned()),
        1 => Just("application/problem+json".to_owned()),
        1 => Just("text/plain".to_owned()),
        1 => Just("multipart/form-data; boundary=x".to_owned()),
        1 => "[ -~]{0,40}",
    ]);
    let auth = proptest::option::of(prop_oneof![
        6 => Just(format!("Bearer {NORTHWIND_KEY}")),
        1 => "[ -~]{0,80}",
        1 => Just("Bearer ".to_owned()),
        1 => Just(format!("bearer    {NORTHWIND_KEY}   ")),
    ]);
    let extra_header = proptest::option::of((
        prop::sample::select(vec!["x-request-id", "traceparent", "accept", "content-length", "transfer-encoding", "x-forwarded-for"]),
        "[ -~]{0,200}",
    ))
    .prop_map(|h| h.map(|(n, v)| (n.to_owned(), v)));
    (method, path, content_type, auth, extra_header, body()).prop_map(|(method, path, content_type, auth, extra_header, body)| {
        FuzzRequest { method, path, content_type, auth, extra_header, body }
    })
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn random_requests_never_panic_and_every_error_is_the_json_shape_with_a_request_id() {
    let _heavy = crate::HEAVY.blocking_lock();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let settings = ServiceSettings {
        limits: LimitSettings { tenant_per_second: 100_000.0, tenant_burst: 100_000, ..LimitSettings::default() },
        ..ServiceSettings::default()
    };
    let app = runtime.block_on(TestApp::with_settings(settings));
    // Bounded for CI; PROPTEST_CASES raises it for a longer local run.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(300);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&request(), |fuzz| {
        let mut builder = Request::builder().method(fuzz.method).uri(fuzz.path.as_str());
        if let Some(ct) = &fuzz.content_type {
            builder = builder.header("content-type", ct.as_str());
        }
        if let Some(auth) = &fuzz.auth {
            builder = builder.header("authorization", auth.as_str());
        }
        if let Some((name, value)) = &fuzz.extra_header {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // Paths or header values the `http` crate itself refuses never reach a server.
        let Ok(req) = builder.body(Body::from(fuzz.body.clone())) else { return Ok(()) };
        let (status, headers, json) = runtime.block_on(app.send(req));
        prop_assert!(status.as_u16() != 500, "internal error for {fuzz:?}: {json}");
        prop_assert!(headers.contains_key("x-request-id"), "no request id for {fuzz:?}");
        if (status.is_client_error() || status.is_server_error()) && fuzz.method != "HEAD" {
            prop_assert!(json["error"]["code"].is_string() && json["error"]["message"].is_string(), "not the error shape: {json}");
            let message = json["error"]["message"].as_str().unwrap_or_default();
            prop_assert!(!message.contains("panicked") && !message.contains("src/"), "internals leaked: {message}");
        }
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}
