//! The LLM cost ledger end to end (issue 26): an OpenAI-compatible loopback double reports
//! usage with each answer; a reply refused by validation and regenerated, a call cut by the
//! turn's deadline and a cache hit are each in the ledger — tokens and dollars as the double
//! reported them (the timed-out call estimated and flagged), the hit at no model cost and
//! saving what its answer cost — and still there through a new connection after the first
//! service is gone (durable, not per process).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::post;
use http::StatusCode;
use serde_json::json;
use tria_admission::{RateLimiter, SpendBudget};
use tria_agent::Agent;
use tria_agent::ledger::LlmLedger;
use tria_server::metrics::Metrics;
use tria_server::{AppState, Guards, ServiceSettings};
use tria_store::repo::UsageGroup;

use crate::{NORTHWIND_KEY, TestApp};

/// The double's usage per answer: (prompt, completion) tokens.
const REFUSED: (u64, u64) = (100_000, 20_000);
const ACCEPTED: (u64, u64) = (120_000, 30_000);
/// gpt-4o-mini's built-in price, micro-dollars per token: input 0.15, output 0.60.
fn micro(tokens: (u64, u64)) -> f64 {
    tokens.0 as f64 * 0.15 + tokens.1 as f64 * 0.6
}

fn completion(content: &str, usage: (u64, u64)) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": content } }],
        "usage": { "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1 },
    })
}

/// Returns questions: first an ungrounded reply (45 days), then a grounded one. Shipping
/// questions: never answered in time.
async fn start_llm() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let returns = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let (calls, returns) = (counted.clone(), returns.clone());
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                if body.contains("shipping") {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                if returns.fetch_add(1, Ordering::SeqCst) == 0 {
                    axum::Json(completion("Returns are accepted within 45 days of delivery.", REFUSED))
                } else {
                    axum::Json(completion("Returns are accepted within 30 days of delivery.", ACCEPTED))
                }
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

#[tokio::test]
async fn every_call_regeneration_timeout_and_cache_hit_is_in_the_ledger_to_the_cent() {
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
    let llm = tria_admission::observe_with(client, metrics.clone(), budget.clone(), Some(sink), tria_llm::PriceTable::builtin());
    let prompts = Arc::new(tria_llm::PromptLibrary::embedded().expect("prompts"));
    let resilience = tria_agent::LlmResilience { turn_deadline: Duration::from_secs(3), ..tria_agent::LlmResilience::default() };
    let agent = Agent::builder(db.store.clone()).llm(llm, prompts).llm_resilience(resilience).build();
    let guards = Guards { rate_limiter: RateLimiter::local(&settings.limits), budget, metrics };
    let state = AppState::with_guards(db.store.clone(), agent, Vec::new(), settings, guards).with_ledger(ledger.clone());
    let tenant = db.store.tenants().find_by_slug("northwind").await.expect("read").expect("northwind");
    let app = TestApp::from_state(state, db);

    let ask = |message: &str| crate::chat_request(NORTHWIND_KEY, &json!({ "message": message }).to_string());
    let (status, _, first) = app.send(ask("What is your returns policy?")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first["reply"].as_str().unwrap_or_default().contains("30 days"), "the regenerated reply is used: {first}");
    let (status, _, late) = app.send(ask("How long does shipping take?")).await;
    assert_eq!(status, StatusCode::OK, "the turn falls back within its deadline: {late}");
    let (status, _, again) = app.send(ask("What is your returns policy?")).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(again["cache"], json!("none"), "the repeat is a cache hit: {again}");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "refused + regenerated + timed out; the hit calls nothing");
    assert!(ledger.flush().await);

    let today = chrono::Utc::now().date_naive();
    let check = |days: Vec<tria_store::repo::UsageBucket>| {
        assert_eq!(days.len(), 1, "{days:?}");
        let day = &days[0];
        assert_eq!((day.calls, day.wasted_calls, day.estimated_calls, day.cache_hits), (3, 2, 1, 1), "{day:?}");
        // The reported calls exactly; the timed-out one is its prompt counted locally, no output.
        let estimated_input = day.input_tokens - (REFUSED.0 + ACCEPTED.0) as i64;
        assert!(estimated_input > 0, "the timed-out prompt is counted: {day:?}");
        assert_eq!(day.output_tokens, (REFUSED.1 + ACCEPTED.1) as i64);
        let expected = micro(REFUSED) + micro(ACCEPTED) + estimated_input as f64 * 0.15;
        assert!((day.cost_micro_usd as f64 - expected).abs() <= 1.0, "{} vs {expected}", day.cost_micro_usd);
        // $0.027 + $0.036 to the cent, and the hit saved exactly what its answer cost (both calls).
        assert_eq!((micro(REFUSED) + micro(ACCEPTED)).round() as i64, 63_000);
        assert_eq!(day.saved_micro_usd, 63_000, "{day:?}");
    };
    let usage = app.db.store.ledger().usage(Some(tenant.id), today, today, UsageGroup::Day).await.expect("usage");
    check(usage);
    let models = app.db.store.ledger().usage(Some(tenant.id), today, today, UsageGroup::Model).await.expect("by model");
    assert_eq!(models.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), ["gpt-4o-mini"], "the hit names the model that wrote it");

    // Durable: a new connection (another replica, or after a restart) reads the same totals.
    let TestApp { router, db, state } = app;
    drop((router, state, ledger));
    let again = db.connect_again().await;
    check(again.ledger().usage(Some(tenant.id), today, today, UsageGroup::Day).await.expect("usage after restart"));
}
