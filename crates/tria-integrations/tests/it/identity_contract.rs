//! The fake's identity side against Xero's identity spec (`../shared/xero/xero-identity.yaml`):
//! every `GET /connections` answer is validated against the spec's `Connection` array, and
//! every token answer against its `AccessToken` schema, with the accounting contract's strict
//! validator (an undeclared field is an error). The identity spec's `$ref`s are inlined first,
//! so the validator never resolves them against the accounting spec.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;
use tria_core::ToneProfile;
use tria_integrations::xero::fake::{Consent, FakeXero, FakeXeroConfig};
use tria_integrations::xero::tenant::XeroConnector;
use tria_secrets::{Keyring, MasterKey, SecretStore};
use tria_store::repo::NewTenant;

use crate::contract::{Direction, validate};
use crate::xero_tenant::{app_for, consent};

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/xero/xero-identity.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("spec is YAML");
        serde_json::to_value(yaml).expect("spec converts to JSON")
    })
}

/// `schema` with every local `$ref` replaced by what it names.
fn inline(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {reference}"));
                return inline(spec().pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}")));
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inline(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(inline).collect()),
        other => other.clone(),
    }
}

fn connections_schema() -> Value {
    inline(spec().pointer("/paths/~1Connections/get/responses/200/content/application~1json/schema").expect("GET /Connections 200"))
}

#[tokio::test]
async fn identity_answers_match_the_xero_identity_spec() {
    let fake = FakeXero::start(FakeXeroConfig::default()).await.expect("fake");
    let db = tria_testkit::sqlite().await;
    let secrets = SecretStore::new(db.store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
    let connector = XeroConnector::new(app_for(&fake), reqwest::Client::new(), db.store.clone(), secrets);
    let new = NewTenant {
        name: "Spec".into(),
        slug: "spec".into(),
        currency: "USD".into(),
        tone: ToneProfile::default(),
        settings: serde_json::json!({}),
    };
    let tenant = db.store.tenants().create(new).await.expect("tenant").id;
    let acme = fake.add_organisation("Acme Ltd");
    fake.set_consent(Consent::Allow(vec![fake.config().xero_tenant_id.clone(), acme.clone()]));
    let start = connector.start(tenant, Some(&acme)).await.expect("start");
    let (state, code, _) = consent(&start.authorize_url).await;
    connector.callback(&state, code.as_deref(), None).await.expect("callback");
    // A used code is refused the way Xero refuses it.
    let refused = reqwest::Client::new()
        .post(fake.token_url())
        .basic_auth(&fake.config().client_id, Some(&fake.config().client_secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_deref().unwrap_or_default()), ("redirect_uri", "x")])
        .send()
        .await
        .expect("token");
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.expect("json")["error"], "invalid_grant");

    let exchanges = fake.identity_exchanges();
    let kinds: Vec<(String, String, u16)> = exchanges.iter().map(|e| (e.method.clone(), e.path.clone(), e.status)).collect();
    assert_eq!(
        kinds,
        [("POST", "/connect/token", 200), ("GET", "/connections", 200), ("POST", "/connect/token", 400)].map(|(m, p, s)| (
            m.to_owned(),
            p.to_owned(),
            s
        ))
    );
    let token_schema = inline(&serde_json::json!({"$ref": "#/components/schemas/AccessToken"}));
    let mut problems = Vec::new();
    for e in exchanges.iter().filter(|e| e.status == 200) {
        let schema = if e.path == "/connections" { connections_schema() } else { token_schema.clone() };
        validate(&schema, &e.response, &format!("{} {}", e.method, e.path), Direction::Response, &mut problems);
    }
    assert!(problems.is_empty(), "spec violations:\n{}", problems.join("\n"));
    let listed = exchanges[1].response.as_array().expect("array");
    assert_eq!(listed.len(), 2, "both consented organisations are listed");
    assert!(listed.iter().all(|c| c["tenantType"] == "ORGANISATION" && c["authEventId"] == listed[0]["authEventId"]));

    // The validator is not a pushover: a misspelt field and a non-uuid id are caught.
    let mut errors = Vec::new();
    let bad = serde_json::json!([{"id": "nope", "tenantID": "x"}]);
    validate(&connections_schema(), &bad, "bad", Direction::Response, &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}
