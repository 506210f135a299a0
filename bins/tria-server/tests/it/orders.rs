//! Orders, hand-off and customer insight routes: Slack Events (signatures, url_verification,
//! 🎫/✅ reactions against the Gorgias fake), the hand-off notifier opening a Gorgias ticket with
//! the transcript, the Xero breaker in `/health`, and tenant-scoped, cached profile/churn.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use tria_agent::Agent;
use tria_integrations::IntegrationProbe;
use tria_integrations::resilience::{BreakerConfig, CircuitBreaker};
use tria_integrations::slack::signature;
use tria_integrations::ticketing::fake::FakeGorgias;
use tria_integrations::ticketing::{GorgiasClient, GorgiasConfig, Ticketing};
use tria_server::helpdesk::Helpdesk;
use tria_server::slack_events::SlackEvents;
use tria_server::{AppState, ServiceSettings, router};

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY};

const SECRET: &str = "test-signing-secret";

async fn gorgias() -> (FakeGorgias, Arc<dyn Ticketing>) {
    let fake = FakeGorgias::start("bot@northwind.example", "gorgias-key").await.expect("fake Gorgias");
    let client = GorgiasClient::new(reqwest::Client::new(), GorgiasConfig::new(fake.base_url(), "bot@northwind.example", "gorgias-key"));
    (fake, Arc::new(client))
}

/// The seeded app with Slack events, a Gorgias-backed helpdesk as the hand-off notifier, and
/// the given integration probes.
async fn app_with(ticketing: Arc<dyn Ticketing>, probes: Vec<Arc<dyn IntegrationProbe>>) -> TestApp {
    let db = tria_testkit::sqlite().await;
    let keys: BTreeMap<String, String> =
        [("northwind".to_owned(), NORTHWIND_KEY.to_owned()), ("velo".to_owned(), VELO_KEY.to_owned())].into();
    tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
    let helpdesk = Arc::new(Helpdesk::new(db.store.clone(), Some(ticketing), None));
    let agent = Agent::builder(db.store.clone()).handoff_notifier(helpdesk.clone()).build();
    let state = AppState::new(db.store.clone(), agent, probes, ServiceSettings::default()).with_slack_events(SlackEvents {
        signing_secret: Some(SECRET.into()),
        tenant_slug: Some("northwind".into()),
        helpdesk,
    });
    TestApp { router: router(state.clone()), state, db }
}

fn slack_request(body: &serde_json::Value, timestamp: i64, secret: &str) -> Request<Body> {
    let raw = body.to_string();
    let ts = timestamp.to_string();
    Request::builder()
        .method("POST")
        .uri("/integrations/slack/events")
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", signature(secret, &ts, raw.as_bytes()))
        .body(Body::from(raw))
        .expect("request")
}

fn reaction(name: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "event_callback",
        "event": { "type": "reaction_added", "user": "U123", "reaction": name, "item": { "type": "message", "channel": "C42", "ts": "1700000000.000100" } }
    })
}

#[tokio::test]
async fn slack_events_are_verified_and_reactions_open_and_resolve_tickets() {
    let (fake, ticketing) = gorgias().await;
    let app = app_with(ticketing, Vec::new()).await;
    let now = chrono::Utc::now().timestamp();

    // Bad signature, stale timestamp: 401 and nothing done.
    let (status, _, _) = app.send(slack_request(&reaction("ticket"), now, "wrong-secret")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = app.send(slack_request(&reaction("ticket"), now - 301, SECRET)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(fake.tickets().is_empty());

    let challenge = serde_json::json!({ "type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
    let (status, _, body) = app.send(slack_request(&challenge, now, SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["challenge"], challenge["challenge"]);

    let (status, _, body) = app.send(slack_request(&reaction("ticket"), now, SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fake.tickets().len(), 1, "{body}");
    // Slack retries events: the same reaction again makes no second ticket.
    app.send(slack_request(&reaction("ticket"), now, SECRET)).await;
    assert_eq!(fake.tickets().len(), 1);

    let (status, _, body) = app.send(slack_request(&reaction("white_check_mark"), now, SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["outcome"].as_str().is_some_and(|o| o.contains("resolved")), "{body}");
    assert_eq!(fake.tickets()[0]["status"], "closed");
}

/// The console's take-over goes through the agent's hand-off: it opens an escalation (reason
/// `taken_over`) and a helpdesk ticket with the transcript, like a hand-off the customer asked
/// for; taking over again opens neither a second escalation nor a second ticket.
#[tokio::test]
async fn a_console_take_over_opens_an_escalation_and_a_gorgias_ticket() {
    let (fake, ticketing) = gorgias().await;
    let app = app_with(ticketing, Vec::new()).await;
    let (status, reply) = app.chat(NORTHWIND_KEY, serde_json::json!({ "message": "What is the restocking fee on returns?" })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["handoff"], false);
    assert!(fake.tickets().is_empty());
    let session = reply["session_id"].as_str().expect("session").to_owned();
    let operator = crate::web::operator_key(&app, &["northwind"]).await;
    let conv = format!("/api/v1/console/conversations/{session}");

    let (status, _, taken) = app.call("POST", &format!("{conv}/take-over"), Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_eq!((taken["status"].as_str(), taken["resolution"].as_str()), (Some("handed_off"), Some("handed_off")));
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1, "the helpdesk is told");
    let id = tickets[0]["id"].to_string();
    let messages = fake.messages_of(&id);
    assert!(
        messages[0]["body_text"].as_str().is_some_and(|t| t.contains("What is the restocking fee on returns?")),
        "the ticket carries the transcript: {messages:?}"
    );
    let (_, _, view) = app.call("GET", &conv, Some(&operator), None).await;
    let escalations = view["escalations"].as_array().expect("escalations");
    assert_eq!(escalations.len(), 1, "{view}");
    assert_eq!((escalations[0]["reason"].as_str(), escalations[0]["status"].as_str()), (Some("taken_over"), Some("open")));
    assert_eq!(escalations[0]["ticket_ref"].as_str(), Some(id.as_str()));

    let (status, _, _) = app.call("POST", &format!("{conv}/take-over"), Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, view) = app.call("GET", &conv, Some(&operator), None).await;
    assert_eq!(view["escalations"].as_array().map(Vec::len), Some(1));
    assert_eq!(fake.tickets().len(), 1, "no second ticket");
}

#[tokio::test]
async fn a_handoff_opens_a_gorgias_ticket_with_the_transcript() {
    let (fake, ticketing) = gorgias().await;
    let app = app_with(ticketing, Vec::new()).await;
    let tenant = app.db.store.tenants().find_by_slug("northwind").await.expect("read").expect("tenant");
    let mut request = tria_core::ChatRequest::new("I want to talk to a human please");
    request.customer_id = Some("CUST-1001".into());
    let reply = app.state.agent().chat(&tenant, request).await.expect("chat");
    assert!(reply.handoff, "{reply:?}");
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["customer"]["email"], "maya@bluekettlecafe.example");
    let id = tickets[0]["id"].to_string();
    let messages = fake.messages_of(&id);
    assert!(messages[0]["body_text"].as_str().is_some_and(|t| t.contains("Customer: I want to talk to a human please")), "{messages:?}");
    let session: tria_core::ConversationId = reply.session_id.parse().expect("session id");
    let escalations = app.db.store.conversations().escalations(tenant.id, session).await.expect("escalations");
    assert_eq!(escalations[0].ticket_ref.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn an_open_xero_breaker_makes_health_degraded_not_down() {
    let breaker = Arc::new(CircuitBreaker::new("xero", BreakerConfig { consecutive_failures: 1, ..BreakerConfig::default() }));
    let (_fake, ticketing) = gorgias().await;
    let app = app_with(ticketing, vec![breaker.clone()]).await;
    let xero = |body: &serde_json::Value| {
        body["components"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "xero")).map(|c| c["status"].clone())
    };
    let (status, _, body) = app.send(Request::get("/health").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xero(&body), Some(serde_json::json!("ok")), "{body}");
    breaker.try_acquire().expect("closed").failure();
    let (status, _, body) = app.send(Request::get("/health").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "an open breaker degrades, it does not fail the check");
    assert_eq!(xero(&body), Some(serde_json::json!("degraded")), "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let key = app.admin_key().await;
    let (_, _, body) = app.call("GET", "/admin/integrations", Some(&key), None).await;
    assert_eq!(body["integrations"][0]["name"], "xero");
    assert_eq!(body["integrations"][0]["state"], "degraded");
}

#[tokio::test]
async fn profiles_and_churn_are_tenant_scoped_cached_and_invalidated_by_orders() {
    let app = TestApp::new().await;
    let (status, _, profile) = app.call("GET", "/api/v1/customers/CUST-1001/profile", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["customer_id"], "CUST-1001");
    assert!(profile["orders"]["count"].as_u64().is_some_and(|n| n >= 1), "{profile}");
    assert!(profile["lifetime_value_minor"].as_i64().is_some_and(|v| v > 0), "{profile}");
    assert_eq!(profile["last_order"]["order_number"].as_str().map(|s| s.starts_with("ORD-")), Some(true));
    assert_eq!(profile["cached"], false);
    let (_, _, again) = app.call("GET", "/api/v1/customers/CUST-1001/profile", Some(NORTHWIND_KEY), None).await;
    assert_eq!(again["cached"], true);

    // Another tenant's key: the same id is not found.
    let (status, _, _) = app.call("GET", "/api/v1/customers/CUST-1001/profile", Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.call("GET", "/api/v1/customers/CUST-1001/churn", Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.call("GET", "/api/v1/customers/CUST-1001/churn", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, churn) = app.call("GET", "/api/v1/customers/CUST-1001/churn", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = churn["factors"].as_array().expect("factors").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["recency", "frequency", "monetary", "complaints", "sentiment"]);
    let sum: f64 = churn["factors"].as_array().expect("factors").iter().filter_map(|f| f["contribution"].as_f64()).sum();
    assert!((churn["score"].as_f64().expect("score") - sum).abs() < 0.01, "{churn}");
    assert!(["low", "medium", "high"].contains(&churn["level"].as_str().expect("level")));

    // A new order changes the customer's fingerprint: both are recomputed.
    let tenant = app.db.store.tenants().find_by_slug("northwind").await.expect("read").expect("tenant");
    let customer = app.db.store.customers().find_by_external_id(tenant.id, "CUST-1001").await.expect("read").expect("customer");
    app.db
        .store
        .orders()
        .place(
            tenant.id,
            tria_store::repo::NewOrder {
                customer: tria_core::CustomerId(customer.id),
                number: "ORD-99999001".into(),
                status: tria_core::OrderStatus::Confirmed,
                idempotency_key: "test-profile-invalidation".into(),
                lines: vec![tria_store::repo::NewOrderLine { sku: "NW-MLK-OAT".into(), quantity: 1 }],
                created_at: chrono::Utc::now(),
                outbox_kind: None,
            },
        )
        .await
        .expect("order");
    let (_, _, fresh) = app.call("GET", "/api/v1/customers/CUST-1001/profile", Some(NORTHWIND_KEY), None).await;
    assert_eq!(fresh["cached"], false);
    assert_eq!(fresh["orders"]["count"].as_u64(), profile["orders"]["count"].as_u64().map(|n| n + 1));
    assert_eq!(fresh["last_order"]["order_number"], "ORD-99999001");
}
