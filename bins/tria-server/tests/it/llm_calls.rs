//! The LLM seam seen from the server: calls carry the request's W3C trace, are counted in the
//! `tria_llm_*` series by tenant and model, and are recorded against the tenant's spend budget,
//! which refuses further chat with 429 once spent. The LLM is a loopback double that speaks the
//! OpenAI API and remembers the headers it was sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use http::StatusCode;
use serde_json::json;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;
use tria_admission::{BudgetLimits, RateLimiter, SpendBudget};
use tria_agent::Agent;
use tria_server::metrics::Metrics;
use tria_server::{AppState, Guards, LimitSettings, ServiceSettings};

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

type Seen = Arc<Mutex<Vec<http::HeaderMap>>>;

/// An OpenAI-compatible double: answers every completion with a fixed, priced usage.
async fn start_llm() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: http::HeaderMap| {
            let store = store.clone();
            async move {
                store.lock().expect("lock").push(headers);
                axum::Json(json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini-2024-07-18",
                    "choices": [{ "index": 0, "finish_reason": "stop",
                        "message": { "role": "assistant", "content": "Returns are accepted within 30 days of delivery." } }],
                    "usage": { "prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500 },
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), seen)
}

/// A service whose agent calls the double through the server's observed client.
async fn app_with_llm(settings: ServiceSettings, budget: SpendBudget) -> (TestApp, Seen) {
    let (url, seen) = start_llm().await;
    let db = crate::seeded_db().await;
    let metrics = Arc::new(Metrics::new());
    let config = tria_llm::OpenAiConfig::new(url, "gpt-4o-mini")
        .with_retry(tria_llm::RetryPolicy::none())
        .with_header_source(Arc::new(tria_server::telemetry::outgoing_trace_headers));
    let client = Arc::new(tria_llm::OpenAiClient::new(config).expect("client"));
    let llm = tria_admission::observe(client, metrics.clone(), budget.clone());
    let prompts = Arc::new(tria_llm::PromptLibrary::embedded().expect("prompts"));
    let agent = Agent::builder(db.store.clone()).llm(llm, prompts).build();
    let guards = Guards { rate_limiter: RateLimiter::local(&settings.limits), budget, metrics };
    let state = AppState::with_guards(db.store.clone(), agent, Vec::new(), settings, guards);
    (TestApp::from_state(state, db), seen)
}

const QUESTION: &str = r#"{"message":"What is your returns policy?"}"#;

#[tokio::test]
async fn llm_calls_carry_the_trace_and_are_counted_by_tenant_and_model() {
    let settings = ServiceSettings::default();
    let (app, seen) = app_with_llm(settings.clone(), SpendBudget::local(settings.limits.budget)).await;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry().with(tria_server::telemetry::otel_layer(&provider));
    let guard = tracing::subscriber::set_default(subscriber);
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let mut request = crate::chat_request(NORTHWIND_KEY, QUESTION);
    request.headers_mut().insert("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01").parse().expect("header"));
    let response = app.router.clone().oneshot(request).await.expect("infallible");
    drop(guard);
    assert_eq!(response.status(), StatusCode::OK);

    let calls = seen.lock().expect("lock").clone();
    assert!(!calls.is_empty(), "the policy question went to the LLM");
    for headers in &calls {
        let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "the LLM call continues the request's trace: {traceparent:?}");
        assert!(!traceparent.contains("b7ad6b7169203331"), "…as a child span, not the caller's own span");
    }

    let (_, _, body) = app.call("GET", "/metrics", None, None).await;
    let text = body["raw"].as_str().expect("text").to_owned();
    let n = calls.len();
    for series in [
        format!(r#"tria_llm_requests_total{{tenant="northwind",model="gpt-4o-mini",outcome="ok"}} {n}"#),
        format!(r#"tria_llm_tokens_total{{tenant="northwind",model="gpt-4o-mini",direction="input"}} {}"#, 1000 * n),
        format!(r#"tria_llm_tokens_total{{tenant="northwind",model="gpt-4o-mini",direction="output"}} {}"#, 500 * n),
        r#"tria_llm_cost_dollars_total{tenant="northwind",model="gpt-4o-mini"} "#.to_owned(),
        r#"tria_llm_request_duration_seconds_count{model="gpt-4o-mini",outcome="ok"} "#.to_owned(),
    ] {
        assert!(text.contains(&series), "missing `{series}` in\n{text}");
    }
    let _ = provider.shutdown();
}

/// Every `tria_*` series an alert rule or the dashboard reads is in a scrape of a running server.
#[tokio::test]
async fn every_series_the_alerts_and_dashboard_use_is_exported() {
    let settings = ServiceSettings::default();
    let (app, _) = app_with_llm(settings.clone(), SpendBudget::local(settings.limits.budget)).await;
    assert_eq!(app.send(crate::chat_request(NORTHWIND_KEY, QUESTION)).await.0, StatusCode::OK);
    let (_, _, body) = app.call("GET", "/metrics", None, None).await;
    let scrape = body["raw"].as_str().expect("text").to_owned();
    let exported: std::collections::BTreeSet<&str> =
        scrape.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut used = std::collections::BTreeSet::new();
    for file in ["prometheus/alerts.yml", "grafana/dashboards/tria-overview.json"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        used.extend(series_names(&text));
    }
    assert!(used.len() > 20, "found the series in the rules: {used:?}");
    let missing: Vec<_> = used.iter().filter(|name| !exported.contains(name.as_str())).collect();
    assert!(missing.is_empty(), "used by alerts/dashboard but not exported: {missing:?}\nexported: {exported:?}");
}

/// `tria_…` identifiers in a rules or dashboard file.
fn series_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("tria_") {
        let start = i + pos;
        let before_ok = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = start + text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - start);
        if before_ok && end > start + 5 {
            names.push(text[start..end].to_owned());
        }
        i = end;
    }
    names
}

#[tokio::test]
async fn a_spent_token_budget_refuses_chat_with_429_until_the_hour_ends() {
    let settings = ServiceSettings::default();
    let (app, _) = app_with_llm(settings.clone(), SpendBudget::local(settings.limits.budget)).await;
    let admin = app.admin_key().await;
    let (status, _, json) = app
        .call("PATCH", "/admin/tenants/northwind", Some(&admin), Some(json!({ "settings": { "budget": { "tokens_per_hour": 1000 } } })))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, json) = app.chat(NORTHWIND_KEY, serde_json::from_str(QUESTION).expect("json")).await;
    assert_eq!(status, StatusCode::OK, "within budget: {json}");
    // The spend is recorded off the request path; wait until this instance has it.
    let tenant = app.db.store.tenants().find_by_slug("northwind").await.expect("db").expect("tenant");
    for _ in 0..100 {
        if app.state.budget().current_spend(tenant.id).await.0.tokens >= 1500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, headers, json) = app.send(crate::chat_request(NORTHWIND_KEY, QUESTION)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(error_code(&json), "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=3600).contains(&retry), "until the hour ends: {retry}");
    assert_eq!(headers["ratelimit-limit"], "1000");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reset"], retry.to_string().as_str());
    assert!(headers["ratelimit-policy"].to_str().expect("ascii").starts_with("1000;w=3600"));
    // Streaming and the OpenAI surface are refused the same way; other tenants are not.
    let (status, _, _) = app.call("POST", "/api/v1/chat/stream", Some(NORTHWIND_KEY), Some(json!({ "message": "hi" }))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let openai = json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }] });
    let (status, _, _) = app.call("POST", "/v1/chat/completions", Some(NORTHWIND_KEY), Some(openai)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, json) = app.chat(VELO_KEY, json!({ "message": "hello" })).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(app.state.budget().refused_total() >= 3);
}

fn redis_url() -> Option<String> {
    std::env::var("TRIA_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())
}

/// Two instances sharing Redis add to one budget: what one spends, the other refuses on.
#[tokio::test]
async fn two_instances_sharing_redis_share_one_spend_budget() {
    let Some(url) = redis_url() else {
        eprintln!("TRIA_TEST_REDIS_URL not set; shared spend budgets not tested");
        return;
    };
    let limits = LimitSettings {
        budget: BudgetLimits { usd_per_hour: 0.01, tokens_per_month: 1_000_000, ..BudgetLimits::default() },
        ..LimitSettings::default()
    };
    let prefix = format!("tria-test-{}", uuid::Uuid::new_v4().simple());
    let mut budgets = Vec::new();
    for _ in 0..2 {
        let limiter = RateLimiter::shared(&limits, &url, &prefix, Duration::from_millis(500)).expect("redis config");
        assert!(limiter.wait_connected(Duration::from_secs(3)).await, "redis reachable");
        let pool = limiter.redis_pool().expect("shared").clone();
        budgets.push((SpendBudget::shared(limits.budget, pool, &prefix, Duration::from_millis(500)), limiter));
    }
    let (a, b) = (&budgets[0].0, &budgets[1].0);
    let tenant = tria_core::TenantContext {
        id: tria_core::TenantId(uuid::Uuid::new_v4()),
        slug: "t".into(),
        name: "T".into(),
        tone: Default::default(),
        settings: json!({}),
    };
    use tria_admission::BudgetDecision;
    a.record(tenant.id, 700, 0.006).await;
    assert_eq!(b.check(&tenant).await, BudgetDecision::Within, "0.006 of 0.01 spent");
    b.record(tenant.id, 700, 0.006).await;
    let (hour, month) = a.current_spend(tenant.id).await;
    assert_eq!((hour.tokens, month.tokens), (1400, 1400), "both instances' spend in one tally");
    assert!((hour.usd - 0.012).abs() < 1e-9, "{hour:?}");
    for budget in [a, b] {
        assert!(
            matches!(budget.check(&tenant).await, BudgetDecision::Exhausted { unit: "usd", .. }),
            "each instance alone spent less than the budget; together they spent it"
        );
    }
    assert_eq!(a.fallback_total() + b.fallback_total(), 0);
}

#[tokio::test]
async fn with_redis_down_the_budget_is_kept_per_instance() {
    let limits = BudgetLimits { tokens_per_hour: 100, ..BudgetLimits::default() };
    let limiter =
        RateLimiter::shared(&LimitSettings::default(), "redis://127.0.0.1:1", "tria-test", Duration::from_millis(100)).expect("config");
    let budget = SpendBudget::shared(limits, limiter.redis_pool().expect("pool").clone(), "tria-test", Duration::from_millis(100));
    let tenant = tria_core::TenantContext {
        id: tria_core::TenantId(uuid::Uuid::new_v4()),
        slug: "t".into(),
        name: "T".into(),
        tone: Default::default(),
        settings: json!({}),
    };
    use tria_admission::BudgetDecision;
    assert_eq!(budget.check(&tenant).await, BudgetDecision::Within);
    budget.record(tenant.id, 100, 0.0).await;
    assert!(matches!(budget.check(&tenant).await, BudgetDecision::Exhausted { unit: "tokens", .. }));
    assert!(budget.fallback_total() >= 3, "read, write, read fell back");
}
