//! `/admin/tenants/{slug}/secrets`: write-only secrets. The value never comes back — not in a
//! response, not in the log, not in `/admin/integrations` — and without a master key the API
//! answers 503 while the rest of the service is unaffected.

use http::StatusCode;
use tracing_subscriber::layer::SubscriberExt as _;
use tria_agent::Agent;
use tria_secrets::{Keyring, MasterKey, SecretName, SecretStore};
use tria_server::{AppState, ServiceSettings};

use crate::Captured;
use crate::{NORTHWIND_KEY, TestApp, error_code, seeded_db};

const VALUE: &str = "xoxb-PLAINTEXT-slack-secret-7f3a";

async fn app_with_secrets() -> TestApp {
    let db = seeded_db().await;
    let agent = Agent::builder(db.store.clone()).build();
    let secrets = SecretStore::new(db.store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
    let state = AppState::new(db.store.clone(), agent, Vec::new(), ServiceSettings::default()).with_secrets(secrets);
    TestApp::from_state(state, db)
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn secrets_are_write_only_and_never_echoed_or_logged() {
    let app = app_with_secrets().await;
    let admin = app.admin_key().await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_ansi(false));
    let guard = tracing::subscriber::set_default(subscriber);

    let path = "/admin/tenants/northwind/secrets/slack_signing_secret";
    let (status, _, body) = app.call("PUT", path, Some(&admin), Some(serde_json::json!({ "value": VALUE }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "slack_signing_secret");
    assert_eq!(body["hint"], "••••7f3a");
    assert!(body["updated_at"].is_string());
    let mut seen = vec![body.to_string()];

    let (status, _, body) = app.call("GET", "/admin/tenants/northwind/secrets", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["secrets"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["secrets"][0]["hint"], "••••7f3a");
    seen.push(body.to_string());
    // Another tenant sees none of it.
    let (_, _, body) = app.call("GET", "/admin/tenants/velo/secrets", Some(&admin), None).await;
    assert_eq!(body["secrets"], serde_json::json!([]));

    // Errors do not repeat the value: an unknown name, an extra field, a tenant key.
    let (status, _, body) =
        app.call("PUT", "/admin/tenants/northwind/secrets/db_password", Some(&admin), Some(serde_json::json!({ "value": VALUE }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("slack_signing_secret")), "{body}");
    seen.push(body.to_string());
    let (status, _, body) = app.call("PUT", path, Some(&admin), Some(serde_json::json!({ "value": VALUE, "extra": VALUE }))).await;
    assert!(status.is_client_error(), "{status}");
    seen.push(body.to_string());
    let (status, _, body) = app.call("PUT", path, Some(NORTHWIND_KEY), Some(serde_json::json!({ "value": VALUE }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admin key only");
    seen.push(body.to_string());
    let (status, _, body) = app.call("PUT", path, Some(&admin), Some(serde_json::json!({ "value": "" }))).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_field"));

    let (status, _, body) = app.call("GET", "/admin/integrations", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    seen.push(body.to_string());

    // Stored, and readable through the API the integrations will use.
    let tenant = app.db.store.tenants().find_by_slug("northwind").await.expect("read").expect("tenant");
    let stored = app.state.secrets().expect("configured").get(tenant.id, SecretName::SlackSigningSecret).await.expect("get");
    assert_eq!(stored.expect("set").expose(), VALUE);

    let (status, _, _) = app.call("DELETE", path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = app.call("DELETE", path, Some(&admin), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let (_, _, body) = app.call("GET", "/admin/tenants/northwind/secrets", Some(&admin), None).await;
    assert_eq!(body["secrets"], serde_json::json!([]));
    drop(guard);

    let logged = captured.text();
    assert!(logged.contains("tenant secret set"), "the capture works: {logged}");
    for text in seen.iter().chain(std::iter::once(&logged)) {
        assert!(!text.contains("PLAINTEXT"), "the value leaked: {text}");
    }
}

#[tokio::test]
async fn without_a_master_key_the_secrets_api_says_what_to_set_and_the_rest_works() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    for (method, path, body) in [
        ("PUT", "/admin/tenants/northwind/secrets/llm_api_key", Some(serde_json::json!({ "value": VALUE }))),
        ("GET", "/admin/tenants/northwind/secrets", None),
        ("DELETE", "/admin/tenants/northwind/secrets/llm_api_key", None),
    ] {
        let (status, _, body) = app.call(method, path, Some(&admin), body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("secrets.master_key_file")), "{body}");
        assert!(!body.to_string().contains("PLAINTEXT"));
    }
    let (status, _, _) = app.call("GET", "/admin/tenants/northwind", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "the rest of the admin API is unaffected");
    let (status, _) = app.chat(NORTHWIND_KEY, serde_json::json!({ "message": "hello" })).await;
    assert_eq!(status, StatusCode::OK, "and so is chat");
}
