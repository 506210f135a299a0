//! Each tenant's LLM provider and failover list, and 429 hold-offs shared across replicas
//! (issue 26), against `tria-mock-llm` doubles speaking each provider's protocol: a tenant on
//! Anthropic and one on Azure are answered by their doubles while a third uses the deployment's
//! OpenAI-compatible one; a failover list whose first provider refuses connections or hangs is
//! answered by the next within the turn's deadline, and `/admin/integrations` shows each entry's
//! breaker; two replicas sharing Redis: a 429 with `Retry-After` seen by one holds the other
//! back without a call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{Value, json};
use tria_agent::{Agent, LlmResilience};
use tria_console::{Helpdesk, HelpdeskTargets};
use tria_integrations::resilience::BreakerConfig;
use tria_llm::Provider;
use tria_mock_llm::{Fault, MockConfig, MockServer};
use tria_secrets::{Keyring, MasterKey, SecretStore};
use tria_server::tenant_integrations::{Deployment, DeploymentLlm, TenantIntegrations};
use tria_server::{AppState, ServiceSettings, router};

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY};

const TURN_DEADLINE: Duration = Duration::from_millis(2500);
/// Generous room past the deadline for a debug build on a busy machine; the answer coming from
/// the second provider (not the grounded fallback) is what shows the deadline held.
const SLACK: Duration = Duration::from_millis(1000);
const ANTHROPIC_MODEL: &str = "claude-3-5-haiku-latest";
const AZURE_DEPLOYMENT: &str = "chat-prod";

fn resilience() -> LlmResilience {
    LlmResilience {
        turn_deadline: TURN_DEADLINE,
        first_token_deadline: Duration::from_millis(1200),
        breaker: BreakerConfig { consecutive_failures: 2, cool_down: Duration::from_secs(60), ..LlmResilience::default().breaker },
    }
}

async fn mock(protocol: Provider, model: &str) -> MockServer {
    MockServer::start(MockConfig { protocol, model: model.to_owned(), ..MockConfig::default() }).await.expect("mock binds")
}

/// The seeded app with a secrets store, the deployment's LLM on `deployment` (OpenAI protocol)
/// and every tenant's own LLM read through [`TenantIntegrations`] as the server wires them.
async fn app_with_tenant_llms(deployment: &MockServer) -> (TestApp, String) {
    let db = crate::seeded_db().await;
    let config = tria_llm::OpenAiConfig::new(deployment.base_url(), "tria-mock").with_retry(tria_llm::RetryPolicy::none());
    let llm = DeploymentLlm {
        client: Arc::new(tria_llm::OpenAiClient::new(config).expect("client")),
        provider: Provider::OpenAi,
        base_url: deployment.base_url(),
        model: "tria-mock".into(),
        api_key: None,
        failover: Vec::new(),
    };
    let secrets = SecretStore::new(db.store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
    let own = Arc::new(TenantIntegrations::new(
        Some(secrets.clone()),
        Deployment {
            helpdesk: HelpdeskTargets::default(),
            slack_signing_secret: false,
            llm: Some(llm),
            llm_timeout: Duration::from_secs(10),
            wrap_llm: Arc::new(|client| client),
            llm_headers: None,
        },
    ));
    let helpdesk = Arc::new(Helpdesk::with_directory(db.store.clone(), own.clone()));
    let prompts = Arc::new(tria_llm::PromptLibrary::embedded().expect("prompts"));
    let agent = Agent::builder(db.store.clone())
        .handoff_notifier(helpdesk)
        .llm_directory(own.clone(), prompts)
        .llm_resilience(resilience())
        .build();
    own.set_llm_guard(agent.llm_guard().clone());
    let state =
        AppState::new(db.store.clone(), agent, Vec::new(), ServiceSettings::default()).with_secrets(secrets).with_tenant_integrations(own);
    let app = TestApp::from_state(state, db);
    let admin = app.admin_key().await;
    (app, admin)
}

async fn put_secret(app: &TestApp, admin: &str, slug: &str, name: &str, value: &str) {
    let path = format!("/admin/tenants/{slug}/secrets/{name}");
    let (status, _, body) = app.call("PUT", &path, Some(admin), Some(json!({ "value": value }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn patch_llm(app: &TestApp, admin: &str, slug: &str, llm: Value) -> (StatusCode, Value) {
    let (status, _, body) =
        app.call("PATCH", &format!("/admin/tenants/{slug}"), Some(admin), Some(json!({ "settings": { "llm": llm } }))).await;
    (status, body)
}

/// A chat answered by a model (not the grounded fallback): its reply and how long it took.
async fn answered_by_a_model(app: &TestApp, key: &str, question: &str) -> (Value, Duration) {
    let started = Instant::now();
    let (status, reply) = app.chat(key, json!({ "message": question })).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["usage"]["fallback"], Value::Null, "a model wrote it: {reply}");
    assert!(reply["usage"]["tokens_out"].as_u64().is_some_and(|n| n > 0), "{reply}");
    (reply, took)
}

fn tenant_row(body: &Value, slug: &str) -> Value {
    body["tenants"].as_array().and_then(|t| t.iter().find(|r| r["tenant"] == slug)).cloned().unwrap_or_default()
}

#[tokio::test]
async fn tenants_on_anthropic_and_azure_are_answered_by_their_doubles_while_another_uses_the_deployments() {
    let deployment = mock(Provider::OpenAi, "tria-mock").await;
    let anthropic = mock(Provider::Anthropic, ANTHROPIC_MODEL).await;
    let azure = mock(Provider::Azure, AZURE_DEPLOYMENT).await;
    let (app, admin) = app_with_tenant_llms(&deployment).await;

    // Bad input is refused with a JSON message naming the field, and nothing is stored.
    let (status, body) = patch_llm(&app, &admin, "northwind", json!({ "provider": "bedrock" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["message"], "settings.llm.provider must be one of openai, anthropic, azure", "{body}");
    let (status, body) = patch_llm(&app, &admin, "northwind", json!({ "failover": [{}, {}, {}] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["message"], "settings.llm.failover must be a list of at most 2 objects", "{body}");

    put_secret(&app, &admin, "northwind", "llm_api_key", "sk-ant-northwind-PLAINTEXT").await;
    let (status, body) = patch_llm(
        &app,
        &admin,
        "northwind",
        json!({ "provider": "anthropic", "base_url": anthropic.base_url(), "model": ANTHROPIC_MODEL }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    put_secret(&app, &admin, "velo", "llm_api_key", "azure-velo-PLAINTEXT").await;
    let azure_settings = json!({
        "provider": "azure", "base_url": azure.base_url(), "model": "gpt-4o-mini",
        "deployment": AZURE_DEPLOYMENT, "api_version": "2024-10-21",
    });
    let (status, body) = patch_llm(&app, &admin, "velo", azure_settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    answered_by_a_model(&app, NORTHWIND_KEY, "What is your returns policy?").await;
    assert!(anthropic.stats().requests > 0, "northwind's question went to the Anthropic double");
    assert_eq!((azure.stats().requests, deployment.stats().requests), (0, 0), "and nowhere else");
    answered_by_a_model(&app, VELO_KEY, "What is your returns policy?").await;
    assert!(azure.stats().requests > 0, "velo's went to the Azure double");
    let anthropic_calls = anthropic.stats().requests;

    // Velo's own LLM removed: nothing of its own, so the deployment's OpenAI-compatible LLM.
    let (status, _, body) = app.call("DELETE", "/admin/tenants/velo/secrets/llm_api_key", Some(&admin), None).await;
    assert!(status.is_success(), "{status}: {body}");
    let (status, body) = patch_llm(&app, &admin, "velo", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    answered_by_a_model(&app, VELO_KEY, "How long do I have to send a bike back?").await;
    assert!(deployment.stats().requests > 0, "velo is on the deployment's LLM");
    assert_eq!(anthropic.stats().requests, anthropic_calls, "never northwind's");
    answered_by_a_model(&app, NORTHWIND_KEY, "Can I return an opened item?").await;
    assert!(anthropic.stats().requests > anthropic_calls, "northwind stays on Anthropic");

    let (status, _, body) = app.call("GET", "/admin/integrations", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let northwind = tenant_row(&body, "northwind");
    assert_eq!(northwind["llm"]["provider"], "anthropic", "{body}");
    assert_eq!(northwind["llm"]["api_key_secret"], "llm_api_key", "{body}");
    assert_eq!(northwind["llm"]["breaker"]["key"], format!("northwind:anthropic/{ANTHROPIC_MODEL}"), "{body}");
    assert_eq!(northwind["llm"]["breaker"]["state"], "closed", "{body}");
    let velo = tenant_row(&body, "velo");
    assert_eq!(
        (velo["llm"]["source"].as_str(), velo["llm"]["breaker"]["key"].as_str()),
        (Some("deployment"), Some("openai/tria-mock")),
        "{body}"
    );
    assert!(!body.to_string().contains("PLAINTEXT"), "no key in /admin/integrations: {body}");
}

#[tokio::test]
async fn a_failover_list_whose_first_provider_is_down_is_answered_by_the_next_within_the_deadline() {
    let deployment = mock(Provider::OpenAi, "tria-mock").await;
    let second = mock(Provider::Anthropic, ANTHROPIC_MODEL).await;
    let (app, admin) = app_with_tenant_llms(&deployment).await;
    put_secret(&app, &admin, "northwind", "llm_failover_1_api_key", "sk-ant-failover-PLAINTEXT").await;
    let failover = json!([{ "provider": "anthropic", "base_url": second.base_url(), "model": ANTHROPIC_MODEL }]);

    // First provider: nothing listens there (connection refused).
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/v1", listener.local_addr().expect("addr"))
    };
    let (status, body) =
        patch_llm(&app, &admin, "northwind", json!({ "base_url": refused, "model": "gpt-4o", "failover": failover })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, took) = answered_by_a_model(&app, NORTHWIND_KEY, "What is your returns policy?").await;
    assert!(took < TURN_DEADLINE + SLACK, "refused: answered in {took:?}");
    assert!(second.stats().requests > 0, "by the second provider");
    assert_eq!(deployment.stats().requests, 0, "never the deployment's");

    // First provider: accepts and never answers.
    let hung = mock(Provider::OpenAi, "gpt-4o-mini").await;
    hung.set_fault(Some(Fault::Hang(Duration::from_secs(3600))));
    let (status, body) =
        patch_llm(&app, &admin, "northwind", json!({ "base_url": hung.base_url(), "model": "gpt-4o-mini", "failover": failover })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for question in ["How long does standard shipping take?", "Do you offer free shipping?"] {
        let (_, took) = answered_by_a_model(&app, NORTHWIND_KEY, question).await;
        assert!(took < TURN_DEADLINE + SLACK, "hung: {question:?} answered in {took:?}");
    }
    assert_eq!(hung.stats().requests, 2, "one call per turn, cut at its share of the turn");
    // Two timeouts opened the hung provider's breaker: the next turn goes to the second at once.
    let before = second.stats().requests;
    let (_, took) = answered_by_a_model(&app, NORTHWIND_KEY, "Can I return an opened item?").await;
    assert_eq!(hung.stats().requests, 2, "an open breaker is not called");
    assert!(took < TURN_DEADLINE / 2, "no wait for the open breaker: {took:?}");
    assert!(second.stats().requests > before);

    let (_, _, body) = app.call("GET", "/admin/integrations", Some(&admin), None).await;
    let llm = tenant_row(&body, "northwind")["llm"].clone();
    let first = (llm["breaker"]["key"].as_str(), llm["breaker"]["state"].as_str());
    assert_eq!(first, (Some("northwind:openai/gpt-4o-mini"), Some("open")), "{llm}");
    assert_eq!(llm["breaker"]["last_failure"], "timeout", "{llm}");
    assert_eq!(llm["failover"][0]["provider"], "anthropic", "{llm}");
    assert_eq!(llm["failover"][0]["api_key_secret"], "llm_failover_1_api_key", "{llm}");
    assert_eq!(llm["failover"][0]["breaker"]["state"], "closed", "{llm}");
    assert!(!body.to_string().contains("PLAINTEXT"), "{body}");
}

fn redis_url() -> Option<String> {
    std::env::var("TRIA_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())
}

/// One replica: its own agent (guard, breakers, in-process hold-offs) over the shared
/// database, and, when `redis` is given, its own Redis connection for shared hold-offs.
async fn replica(db: &tria_testkit::TestDb, llm: &MockServer, redis: Option<(&str, &str)>) -> TestApp {
    let config = tria_llm::OpenAiConfig::new(llm.base_url(), "tria-mock").with_retry(tria_llm::RetryPolicy::none());
    let prompts = Arc::new(tria_llm::PromptLibrary::embedded().expect("prompts"));
    let mut builder = Agent::builder(db.store.clone())
        .llm(Arc::new(tria_llm::OpenAiClient::new(config).expect("client")), prompts)
        .llm_resilience(resilience());
    if let Some((url, prefix)) = redis {
        let limiter =
            tria_admission::RateLimiter::shared(&tria_admission::LimitSettings::default(), url, prefix, Duration::from_millis(500))
                .expect("redis config");
        assert!(limiter.wait_connected(Duration::from_secs(3)).await, "redis reachable");
        let hold_off = tria_admission::RedisHoldOff::beside(&limiter, prefix, Duration::from_millis(500)).expect("shared");
        builder = builder.llm_shared_hold_off(Arc::new(hold_off));
    }
    let state = AppState::new(db.store.clone(), builder.build(), Vec::new(), ServiceSettings::default());
    TestApp { router: router(state.clone()), state, db: tria_testkit::sqlite().await }
}

#[tokio::test]
async fn a_429_seen_by_one_replica_holds_back_another_sharing_redis() {
    let Some(url) = redis_url() else {
        eprintln!("TRIA_TEST_REDIS_URL not set; shared 429 hold-offs not tested");
        return;
    };
    let prefix = format!("tria-test-{}", uuid::Uuid::new_v4().simple());
    let llm = mock(Provider::OpenAi, "tria-mock").await;
    let db = crate::seeded_db().await;
    let one = replica(&db, &llm, Some((&url, &prefix))).await;
    let two = replica(&db, &llm, Some((&url, &prefix))).await;

    // The provider answers the first call 429 with Retry-After: 30, then answers normally.
    llm.push_faults([Fault::RateLimited { retry_after_secs: 30 }]);
    let (status, reply) = one.chat(NORTHWIND_KEY, json!({ "message": "What is your returns policy?" })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["usage"]["fallback"], "rate_limited", "{reply}");
    assert_eq!(llm.stats().requests, 1);

    // The other replica holds back without a call, and says so.
    for question in ["How long does standard shipping take?", "Do you offer free shipping?"] {
        let (status, reply) = two.chat(NORTHWIND_KEY, json!({ "message": question })).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["usage"]["fallback"], "rate_limited", "{reply}");
    }
    assert_eq!(llm.stats().requests, 1, "no call to the provider during the hold-off");
    let (_, _, health) = two.call("GET", "/health", None, None).await;
    let component = health["components"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "llm")).cloned().unwrap_or_default();
    assert!(component["detail"].as_str().is_some_and(|d| d.contains("rate-limited (429)")), "{health}");

    // A replica without the shared store knows nothing of it: it calls, and is answered.
    let alone = replica(&db, &llm, None).await;
    let (status, reply) = alone.chat(NORTHWIND_KEY, json!({ "message": "What is your returns policy?" })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["usage"]["fallback"], Value::Null, "{reply}");
    assert_eq!(llm.stats().requests, 2);
}
