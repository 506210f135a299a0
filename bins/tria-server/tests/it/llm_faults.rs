//! The LLM path under provider faults (issue 26). The mock LLM fails every request one way —
//! hung, 500s, a slow first token, a stall mid-stream, a 429 storm, malformed SSE, wrong JSON —
//! and concurrent chats are all answered 200 by the grounded responder, never a 5xx and never
//! a hang; the provider's breaker (or, for 429s, its `Retry-After` hold-off) shows in `/health`
//! (`llm: degraded`, with why), `/admin/integrations` and `/metrics`; while it is open turns
//! do not call the provider; and once the fault clears the breaker closes again.
//!
//! The client is configured as deployed (20 s call timeout, 3 retries): the turn deadline must
//! win over both. Latencies are printed (`--nocapture`) for docs/QUALITY.md; the only time
//! asserted is a generous "did not hang" bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{Value, json};
use tria_agent::{Agent, LlmResilience};
use tria_integrations::resilience::BreakerConfig;
use tria_mock_llm::{Fault, MockConfig, MockServer};
use tria_server::{AppState, ServiceSettings};

use crate::{NORTHWIND_KEY, TestApp};

const TURN_DEADLINE: Duration = Duration::from_millis(1500);
const FIRST_TOKEN_DEADLINE: Duration = Duration::from_millis(500);
const COOL_DOWN: Duration = Duration::from_millis(800);
/// Far beyond the deadline: only a hang (the 20 s call timeout, the 30 s request deadline) fails it.
const HANG_BOUND: Duration = Duration::from_secs(8);
const N: usize = 8;

/// Policy and product questions the model would write the reply for (distinct, so concurrent
/// turns are not coalesced into one by the cache's single-flight).
const QUESTIONS: [&str; N] = [
    "What is your returns policy?",
    "How long does standard shipping take?",
    "Do you offer free shipping?",
    "What are your payment terms?",
    "How should I store the coffee?",
    "What does the warranty cover?",
    "What are your opening hours?",
    "Do you offer bulk discounts?",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    /// `POST /api/chat` (a plain completion).
    Chat,
    /// `POST /api/v1/chat/stream` (a streamed completion).
    Stream,
}

async fn app_with_mock() -> (TestApp, MockServer) {
    let mock = MockServer::start(MockConfig::default()).await.expect("mock binds");
    let db = crate::seeded_db().await;
    let client = tria_llm::OpenAiClient::new(
        tria_llm::OpenAiConfig::new(mock.base_url(), "tria-mock")
            .with_timeout(Duration::from_secs(20))
            .with_retry(tria_llm::RetryPolicy::default()),
    )
    .expect("client");
    let prompts = Arc::new(tria_llm::PromptLibrary::embedded().expect("prompts"));
    let resilience = LlmResilience {
        turn_deadline: TURN_DEADLINE,
        first_token_deadline: FIRST_TOKEN_DEADLINE,
        breaker: BreakerConfig { consecutive_failures: 3, cool_down: COOL_DOWN, ..LlmResilience::default().breaker },
    };
    let agent = Agent::builder(db.store.clone()).llm(Arc::new(client), prompts).llm_resilience(resilience).build();
    let state = AppState::new(db.store.clone(), agent, Vec::new(), ServiceSettings::default());
    (TestApp::from_state(state, db), mock)
}

/// One turn: its status, reply, `usage.fallback` (plain chat only) and latency.
async fn ask(app: &TestApp, via: Via, question: &str) -> (StatusCode, String, Option<String>, Duration) {
    let started = Instant::now();
    let body = json!({ "message": question });
    let call = async {
        match via {
            Via::Chat => {
                let (status, json) = app.chat(NORTHWIND_KEY, body).await;
                let fallback = json["usage"]["fallback"].as_str().map(str::to_owned);
                (status, json["reply"].as_str().unwrap_or_default().to_owned(), fallback, json)
            }
            Via::Stream => {
                let (status, _, json) = app.call("POST", "/api/v1/chat/stream", Some(NORTHWIND_KEY), Some(body)).await;
                let raw = json["raw"].as_str().unwrap_or_default().to_owned();
                assert!(!raw.contains("event: error"), "a clean ending, not an error event: {raw}");
                assert!(raw.contains("event: done"), "the stream finished: {raw}");
                (status, raw.clone(), None, json)
            }
        }
    };
    let (status, reply, fallback, json) = tokio::time::timeout(HANG_BOUND, call).await.unwrap_or_else(|_| panic!("{question:?} hung"));
    assert_eq!(status, StatusCode::OK, "{question:?}: {json}");
    assert!(!reply.trim().is_empty(), "{question:?}: an answer: {json}");
    (status, reply, fallback, started.elapsed())
}

/// All questions at once; returns the slowest turn and the fallback reasons seen.
async fn round(app: &TestApp, via: Via) -> (Duration, Vec<String>) {
    let answers = futures::future::join_all(QUESTIONS.iter().map(|q| ask(app, via, q))).await;
    let worst = answers.iter().map(|a| a.3).max().unwrap_or_default();
    (worst, answers.into_iter().filter_map(|a| a.2).collect())
}

async fn health_llm(app: &TestApp) -> Value {
    let (status, _, health) = app.call("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "an LLM outage never makes the service down: {health}");
    health["components"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "llm")).cloned().expect("an llm component")
}

async fn metrics(app: &TestApp) -> String {
    let (_, _, body) = app.call("GET", "/metrics", None, None).await;
    body["raw"].as_str().expect("text").to_owned()
}

/// Drops the tenant's cached answers, so each phase's questions reach the model.
async fn forget_answers(app: &TestApp, admin: &str) {
    let (status, _, body) = app.call("POST", "/admin/cache/invalidate", Some(admin), Some(json!({ "tenant": "northwind" }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn admin_llm_statuses(app: &TestApp, admin: &str) -> Vec<Value> {
    let (status, _, body) = app.call("GET", "/admin/integrations", Some(admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["llm"]["providers"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn every_chat_is_answered_in_time_whatever_the_provider_does_and_the_breaker_opens_and_closes() {
    let (app, mock) = app_with_mock().await;
    let admin = app.admin_key().await;
    // Healthy first: the model answers and the breaker is closed.
    let (_, reply, fallback, _) = ask(&app, Via::Chat, "What is your returns policy?").await;
    assert_eq!(fallback, None, "the model wrote {reply:?}");
    assert_eq!(health_llm(&app).await["status"], "ok");

    let faults: [(&str, Fault, Via); 7] = [
        ("hung", Fault::Hang(Duration::from_secs(3600)), Via::Chat),
        ("500s", Fault::Status(500), Via::Chat),
        ("slow first token", Fault::SlowFirstToken(Duration::from_secs(30)), Via::Stream),
        ("stall mid-stream", Fault::StallMidStream, Via::Stream),
        ("429 storm", Fault::RateLimited { retry_after_secs: 1 }, Via::Chat),
        ("malformed SSE", Fault::MalformedSse, Via::Stream),
        ("wrong JSON", Fault::WrongJson, Via::Chat),
    ];
    for (name, fault, via) in faults {
        forget_answers(&app, &admin).await;
        mock.set_fault(Some(fault.clone()));
        let mut worst = Duration::ZERO;
        let mut reasons = Vec::new();
        let mut degraded = None;
        for _ in 0..4 {
            let (slowest, seen) = round(&app, via).await;
            worst = worst.max(slowest);
            reasons.extend(seen);
            let llm = health_llm(&app).await;
            if llm["status"] == "degraded" {
                degraded = Some(llm);
                break;
            }
        }
        let llm = degraded.unwrap_or_else(|| panic!("{name}: /health never showed the LLM degraded"));
        let detail = llm["detail"].as_str().unwrap_or_default().to_owned();
        let scrape = metrics(&app).await;
        if matches!(fault, Fault::RateLimited { .. }) {
            assert!(detail.contains("rate-limited (429)"), "{name}: {detail}");
            assert!(scrape.contains(r#"tria_llm_held_back{provider="openai/tria-mock"} 1"#), "{name}:\n{scrape}");
            assert!(reasons.iter().all(|r| r == "rate_limited"), "{name}: {reasons:?}");
        } else {
            assert!(detail.contains("circuit open") && detail.contains("last failure"), "{name}: {detail}");
            assert!(scrape.contains(r#"tria_llm_breaker_state{provider="openai/tria-mock"} 2"#), "{name}:\n{scrape}");
            let providers = admin_llm_statuses(&app, &admin).await;
            assert!(
                providers.iter().any(|p| p["status"]["state"] == "degraded" && p["breaker"]["state"] == "open"),
                "{name}: {providers:?}"
            );
        }
        if via == Via::Chat {
            assert!(!reasons.is_empty(), "{name}: the replies say they were fallbacks");
        }
        // While held back, turns fall back without calling the provider.
        let calls = mock.stats().requests;
        let (open_worst, seen) = round(&app, via).await;
        assert_eq!(mock.stats().requests, calls, "{name}: an open breaker does not call the provider");
        if via == Via::Chat {
            assert!(seen.iter().all(|r| r == "circuit_open" || r == "rate_limited"), "{name}: {seen:?}");
        }
        eprintln!(
            "llm fault {name:<17} via {via:?}: {N} concurrent chats, all 200; slowest {} ms until degraded, {} ms while open (turn deadline {} ms)",
            worst.as_millis(),
            open_worst.as_millis(),
            TURN_DEADLINE.as_millis()
        );
        // The fault clears: after the cool-down one probe closes the breaker again.
        mock.set_fault(None);
        tokio::time::sleep(COOL_DOWN.max(Duration::from_secs(1)) + Duration::from_millis(100)).await;
        forget_answers(&app, &admin).await;
        let calls = mock.stats().requests;
        round(&app, Via::Chat).await;
        assert!(mock.stats().requests > calls, "{name}: the probe went to the provider");
        let llm = health_llm(&app).await;
        assert_eq!(llm["status"], "ok", "{name}: closed again: {llm}");
        assert!(metrics(&app).await.contains(r#"tria_llm_breaker_state{provider="openai/tria-mock"} 0"#), "{name}");
    }
    let scrape = metrics(&app).await;
    for reason in ["deadline", "circuit_open", "rate_limited", "llm_error"] {
        assert!(!scrape.contains(&format!(r#"tria_llm_fallbacks_total{{reason="{reason}"}} 0"#)), "{reason} counted:\n{scrape}");
    }
}
