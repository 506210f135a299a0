//! `GET /api/v1/usage` and `GET /admin/usage` (issue 26) over the cost ledger: chats through an
//! OpenAI-compatible loopback double that reports usage with prompt-cached tokens, priced by a
//! deployment's `[llm.prices]` (loaded through tria-config, as the server does at start), then
//! the reports in JSON and CSV checked to the cent against what the double reported; one
//! tenant's key never sees another's rows; admins see all or one; wrong keys get 401/403 and
//! bad parameters 400.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tria_admission::{RateLimiter, SpendBudget};
use tria_agent::Agent;
use tria_agent::ledger::LlmLedger;
use tria_server::metrics::Metrics;
use tria_server::{AppState, Guards, ServiceSettings};

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

/// What the double reports for every answer: prompt tokens (of which served from the
/// provider's prompt cache) and completion tokens.
const PROMPT: u64 = 120_000;
const CACHED: u64 = 100_000;
const COMPLETION: u64 = 30_000;

/// The deployment's prices for gpt-4o-mini, dollars per million tokens (not the built-in ones).
const PRICES: &str = "[llm.prices.\"gpt-4o-mini\"]\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\ncached_input_per_mtok = 0.25\n";
/// One call at those prices, micro-dollars: 20,000 uncached × 0.5 + 100,000 cached × 0.25 +
/// 30,000 out × 1.5 = 10,000 + 25,000 + 45,000: $0.08.
const CALL_MICRO: u64 = 80_000;

async fn start_llm() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let calls = counted.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini-2024-07-18",
                    "choices": [{ "index": 0, "finish_reason": "stop",
                        "message": { "role": "assistant", "content": "Returns are accepted within 30 days of delivery." } }],
                    "usage": { "prompt_tokens": PROMPT, "completion_tokens": COMPLETION, "total_tokens": PROMPT + COMPLETION,
                        "prompt_tokens_details": { "cached_tokens": CACHED, "audio_tokens": 0 },
                        "completion_tokens_details": { "reasoning_tokens": 0 } },
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), calls)
}

/// The price table as the server builds it from configuration.
fn configured_prices() -> tria_llm::PriceTable {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(PRICES.as_bytes()).expect("write");
    let sources = tria_config::ConfigSources { config_file: Some(file.path().to_owned()), ..tria_config::ConfigSources::default() };
    let settings = tria_config::load(&sources).expect("config with prices");
    tria_server::startup::price_table(&settings.llm)
}

async fn app_with_ledger() -> (TestApp, Arc<LlmLedger>, Arc<AtomicUsize>) {
    let (url, calls) = start_llm().await;
    let db = crate::seeded_db().await;
    let settings = ServiceSettings::default();
    let budget = SpendBudget::local(settings.limits.budget);
    let metrics = Arc::new(Metrics::new());
    let ledger = Arc::new(LlmLedger::new(tria_store::ledger::LedgerWriter::spawn(db.store.clone())));
    let client = Arc::new(
        tria_llm::OpenAiClient::new(tria_llm::OpenAiConfig::new(url, "gpt-4o-mini").with_retry(tria_llm::RetryPolicy::none()))
            .expect("client"),
    );
    let sink: Arc<dyn tria_llm::LlmObserver> = ledger.clone();
    let llm = tria_admission::observe_with(client, metrics.clone(), budget.clone(), Some(sink), configured_prices());
    let prompts = Arc::new(tria_llm::PromptLibrary::embedded().expect("prompts"));
    let agent = Agent::builder(db.store.clone()).llm(llm, prompts).build();
    let guards = Guards { rate_limiter: RateLimiter::local(&settings.limits), budget, metrics };
    let state = AppState::with_guards(db.store.clone(), agent, Vec::new(), settings, guards).with_ledger(ledger.clone());
    (TestApp::from_state(state, db), ledger, calls)
}

/// GET `path` with `key` and, when given, an `Accept` header: status, content type, body text.
async fn get(app: &TestApp, path: &str, key: Option<&str>, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get(path);
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let response = app.router.clone().oneshot(req.body(Body::empty()).expect("request")).await.expect("infallible");
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, content_type, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

async fn report(app: &TestApp, path: &str, key: &str) -> Value {
    let (status, content_type, body) = get(app, path, Some(key), None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert!(content_type.starts_with("application/json"), "{content_type}");
    serde_json::from_str(&body).expect("json")
}

/// A row's figures: calls, cache hits, input, output and cached-input tokens, cost and saved.
fn figures(row: &Value) -> (u64, u64, u64, u64, u64, String, String) {
    let n = |k: &str| row[k].as_u64().unwrap_or_else(|| panic!("{k} in {row}"));
    let s = |k: &str| row[k].as_str().unwrap_or_else(|| panic!("{k} in {row}")).to_owned();
    assert_eq!(s("cost_usd"), format!("{}.{:06}", n("cost_micro_usd") / 1_000_000, n("cost_micro_usd") % 1_000_000), "{row}");
    (n("calls"), n("cache_hits"), n("input_tokens"), n("output_tokens"), n("cached_input_tokens"), s("cost_usd"), s("saved_usd"))
}

fn usd(micro: u64) -> String {
    format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000)
}

#[tokio::test]
async fn usage_reports_each_tenant_its_own_calls_and_admins_all_to_the_cent_in_json_and_csv() {
    let (app, ledger, calls) = app_with_ledger().await;
    let ask = |key: &'static str, message: &str| app.chat(key, json!({ "message": message }));
    let (status, first) = ask(NORTHWIND_KEY, "What is your returns policy?").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first["reply"].as_str().unwrap_or_default().contains("30 days"), "the model's reply is used: {first}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (status, again) = ask(NORTHWIND_KEY, "What is your returns policy?").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(again["cache"], json!("none"), "a cache hit: {again}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the hit calls nothing");
    let (status, velo) = ask(VELO_KEY, "How long do refunds take?").await;
    assert_eq!(status, StatusCode::OK, "{velo}");
    let velo_calls = calls.load(Ordering::SeqCst) as u64 - 1;
    assert!(velo_calls >= 1, "velo's turn asked the model");
    assert!(ledger.flush().await);
    let today = chrono::Utc::now().date_naive().to_string();

    // Northwind: one call at the deployment's prices, its cached prompt tokens at the cached price,
    // and one hit saving what that answer cost.
    let northwind = report(&app, "/api/v1/usage", NORTHWIND_KEY).await;
    assert_eq!(
        (northwind["tenant"].as_str(), northwind["group_by"].as_str(), northwind["currency"].as_str()),
        (Some("northwind"), Some("day"), Some("USD"))
    );
    assert_eq!(northwind["to"].as_str(), Some(today.as_str()));
    let from = chrono::NaiveDate::parse_from_str(northwind["from"].as_str().expect("from"), "%Y-%m-%d").expect("date");
    assert_eq!((chrono::Utc::now().date_naive() - from).num_days(), 29, "the last 30 days by default");
    let expected = (1, 1, PROMPT, COMPLETION, CACHED, usd(CALL_MICRO), usd(CALL_MICRO));
    assert_eq!(usd(CALL_MICRO), "0.080000");
    let rows = northwind["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{northwind}");
    assert_eq!(rows[0]["key"].as_str(), Some(today.as_str()));
    assert_eq!(figures(&rows[0]), expected);
    assert_eq!(figures(&northwind["totals"]), expected);
    assert_eq!(northwind["totals"]["key"], "total");

    let by_model = report(&app, "/api/v1/usage?group_by=model", NORTHWIND_KEY).await;
    let models: Vec<&str> = by_model["rows"].as_array().expect("rows").iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(models, ["gpt-4o-mini"], "the configured model, the hit under the model that wrote its answer");
    let by_intent = report(&app, &format!("/api/v1/usage?group_by=intent&from={today}&to={today}"), NORTHWIND_KEY).await;
    let intents = by_intent["rows"].as_array().expect("rows");
    assert_eq!(intents.len(), 1, "{by_intent}");
    assert_eq!(intents[0]["key"], first["intent"]["label"], "the call and the hit under the turn's intent: {by_intent}");
    assert_eq!(figures(&by_intent["totals"]), expected);

    // The same as CSV: a header row, the day, the totals; every figure as in the JSON.
    let (status, content_type, csv) = get(&app, "/api/v1/usage", Some(NORTHWIND_KEY), Some("text/csv")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "day,calls,wasted_calls,estimated_calls,cache_hits,input_tokens,output_tokens,cached_input_tokens,cost_usd,saved_usd,cost_micro_usd,saved_micro_usd",
            &format!("{today},1,0,0,1,120000,30000,100000,0.080000,0.080000,80000,80000"),
            "total,1,0,0,1,120000,30000,100000,0.080000,0.080000,80000,80000",
        ]
    );
    let (_, content_type, _) = get(&app, "/api/v1/usage", Some(NORTHWIND_KEY), Some("application/json, text/csv;q=0.5")).await;
    assert!(content_type.starts_with("application/json"), "JSON when preferred: {content_type}");

    // Velo's key sees Velo's calls only, never Northwind's.
    let velo_report = report(&app, "/api/v1/usage", VELO_KEY).await;
    assert_eq!(velo_report["tenant"], "velo");
    let velo_cost = velo_calls * CALL_MICRO;
    let velo_expected = (velo_calls, 0, velo_calls * PROMPT, velo_calls * COMPLETION, velo_calls * CACHED, usd(velo_cost), usd(0));
    assert_eq!(figures(&velo_report["totals"]), velo_expected, "{velo_report}");
    let (status, _, body) = get(&app, "/api/v1/usage?tenant=northwind", Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a tenant key cannot name another tenant: {body}");

    // Admins: every tenant, or one.
    let admin = app.admin_key().await;
    let all = report(&app, "/admin/usage", &admin).await;
    assert_eq!(all["tenant"], Value::Null);
    let total = (
        1 + velo_calls,
        1,
        (1 + velo_calls) * PROMPT,
        (1 + velo_calls) * COMPLETION,
        (1 + velo_calls) * CACHED,
        usd(CALL_MICRO + velo_cost),
        usd(CALL_MICRO),
    );
    assert_eq!(figures(&all["totals"]), total, "{all}");
    assert_eq!(figures(&report(&app, "/admin/usage?tenant=northwind", &admin).await["totals"]), expected);
    assert_eq!(figures(&report(&app, "/admin/usage?tenant=velo&group_by=model", &admin).await["totals"]), velo_expected);
    let (status, content_type, csv) = get(&app, "/admin/usage?tenant=velo&group_by=model", Some(&admin), Some("text/csv")).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
    assert!(csv.starts_with("model,calls,"), "{csv}");
    assert!(csv.contains(&format!("\r\ngpt-4o-mini,{velo_calls},")), "{csv}");
    let (status, _, body) = get(&app, "/admin/usage?tenant=nobody", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A range with no calls: empty rows, zero totals.
    let empty = report(&app, "/admin/usage?from=2020-01-01&to=2020-12-31", &admin).await;
    assert_eq!(empty["rows"], json!([]));
    assert_eq!(figures(&empty["totals"]), (0, 0, 0, 0, 0, usd(0), usd(0)));
}

#[tokio::test]
async fn usage_needs_the_right_key_and_valid_parameters() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    for path in ["/api/v1/usage", "/admin/usage"] {
        let (status, _, body) = app.call("GET", path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(&body), "unauthorized");
        let (status, _, _) = app.call("GET", path, Some("tria_not_a_key_at_all_000000000000"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _, body) = app.call("GET", "/admin/usage", Some(NORTHWIND_KEY), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::FORBIDDEN, "forbidden"), "a tenant key on the admin report");
    let (status, _, body) = app.call("GET", "/api/v1/usage", Some(&admin), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::FORBIDDEN, "forbidden"), "an admin key names no tenant");

    for (query, says) in [
        ("from=2026-13-01", "`from` must be a date YYYY-MM-DD"),
        ("to=yesterday", "`to` must be a date YYYY-MM-DD"),
        ("from=2026-12-08&to=2026-12-07", "`from` must not be after `to`"),
        ("from=2025-01-01&to=2026-01-02", "at most 366 days"),
        ("group_by=week", "`group_by` must be day, intent or model"),
        ("colour=blue", "bad query string"),
        ("from=", "`from` must be a date YYYY-MM-DD"),
    ] {
        for (path, key) in [("/api/v1/usage", NORTHWIND_KEY), ("/admin/usage", admin.as_str())] {
            for accept in [None, Some("text/csv")] {
                let (status, content_type, body) = get(&app, &format!("{path}?{query}"), Some(key), accept).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{query}: {body}");
                assert!(content_type.starts_with("application/json"), "errors are JSON even when CSV was asked for");
                let body: Value = serde_json::from_str(&body).expect("json error");
                assert_eq!(error_code(&body), "invalid_field");
                assert!(body["error"]["message"].as_str().unwrap_or_default().contains(says), "{path}?{query}: {body}");
            }
        }
    }
    let (status, _, body) = app.call("GET", "/api/v1/usage?from=2024-01-01&to=2024-12-31&group_by=intent", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "a leap year is 366 days: {body}");
    assert_eq!(body["rows"], json!([]));
}
