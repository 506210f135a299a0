//! Tenants' own Xero through the OAuth 2.0 authorization-code flow, over HTTP, on SQLite and
//! (when `TRIA_TEST_POSTGRES_URL` is set) PostgreSQL: two tenants connect two organisations of
//! the fake (connect → the consent redirect → callback), each one's invoice lands in its own
//! organisation; bad, expired and replayed states are 400 and store nothing; revoking one
//! tenant's authorization puts its invoices on hold (no attempt used) with one escalation and a
//! health entry naming that tenant alone, while the other keeps invoicing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use http::StatusCode;
use tria_agent::Agent;
use tria_core::{CustomerId, OrderStatus, TenantId};
use tria_integrations::invoicing::{InvoiceWorker, InvoiceWorkerConfig};
use tria_integrations::resilience::RetryPolicy;
use tria_integrations::xero::fake::{Consent, FakeXero, FakeXeroConfig};
use tria_integrations::xero::tenant::{TokenTiming, XeroApp, XeroConnector, XeroDirectory, hash_state};
use tria_secrets::{Keyring, MasterKey, SecretStore};
use tria_server::xero_connect::XeroTenants;
use tria_server::{AppState, ServiceSettings};
use tria_store::Store;
use tria_store::repo::{NewCustomer, NewOrder, NewOrderLine, NewProduct};
use tria_testkit::TestDb;

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

/// The fake's app, its callback on a port nothing listens on (tests follow the redirect by hand).
pub(crate) fn app_for(fake: &FakeXero) -> XeroApp {
    fake.xero_app("http://127.0.0.1:9/integrations/xero/callback", Duration::from_secs(5))
}

async fn seeded(db: &TestDb) {
    let keys: BTreeMap<String, String> =
        [("northwind".to_owned(), NORTHWIND_KEY.to_owned()), ("velo".to_owned(), VELO_KEY.to_owned())].into();
    tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
}

/// The service with tenants' own Xero configured against a fake, as `startup` wires it when
/// `[integrations.xero_app]` is on, and an admin key; the invoice worker is driven by hand.
pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) fake: FakeXero,
    pub(crate) worker: InvoiceWorker,
    pub(crate) admin: String,
}

/// The [`World`] on the seeded fixtures (northwind and velo).
async fn world(db: TestDb) -> World {
    seeded(&db).await;
    xero_app_world(db).await
}

/// The [`World`] on `db` as it is (seed it first), with a fresh fake Xero.
pub(crate) async fn xero_app_world(db: TestDb) -> World {
    let fake = FakeXero::start(FakeXeroConfig::default()).await.expect("fake Xero");
    let store = db.store.clone();
    let secrets = SecretStore::new(store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
    let http = reqwest::Client::new();
    let timing = TokenTiming { poll: Duration::from_millis(20), ..TokenTiming::default() };
    let directory = XeroDirectory::new(app_for(&fake), http.clone(), store.clone(), secrets.clone()).with_token_timing(timing);
    let connector = XeroConnector::new(app_for(&fake), http, store.clone(), secrets.clone());
    let config = InvoiceWorkerConfig {
        backoff: RetryPolicy { initial_delay: Duration::ZERO, jitter: 0.0, ..RetryPolicy::default() },
        ..InvoiceWorkerConfig::default()
    };
    let worker = InvoiceWorker::per_tenant(store.clone(), Arc::new(directory.clone()), config);
    let agent = Agent::builder(store.clone()).build();
    let state = AppState::new(store, agent, vec![Arc::new(directory.clone())], ServiceSettings::default())
        .with_secrets(secrets)
        .with_xero_tenants(Arc::new(XeroTenants { connector, directory }));
    let app = TestApp::from_state(state, db);
    let admin = app.admin_key().await;
    World { app, fake, worker, admin }
}

/// What the browser does: follows the authorize URL to the (fake) consent page and returns the
/// query Xero sends it back to the callback with.
async fn consent_query(authorize_url: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = http.get(authorize_url).send().await.expect("authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(response.headers()["location"].to_str().expect("location")).expect("URL");
    assert_eq!(location.path(), "/integrations/xero/callback");
    location.query().expect("query").to_owned()
}

impl World {
    async fn start(&self, slug: &str, query: &str) -> serde_json::Value {
        let path = format!("/admin/tenants/{slug}/integrations/xero/connect{query}");
        let (status, _, body) = self.app.call("GET", &path, Some(&self.admin), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["state"].as_str().is_some_and(|s| s.len() >= 32), "{body}");
        body
    }

    async fn callback(&self, query: &str) -> (StatusCode, serde_json::Value) {
        let (status, _, body) = self.app.call("GET", &format!("/integrations/xero/callback?{query}"), None, None).await;
        (status, body)
    }

    /// Connects `slug`'s Xero to `org` through the whole flow; returns the callback's query.
    pub(crate) async fn connect(&self, slug: &str, org: &str) -> String {
        self.fake.set_consent(Consent::Allow(vec![org.to_owned()]));
        let started = self.start(slug, "").await;
        let query = consent_query(started["authorize_url"].as_str().expect("url")).await;
        let (status, body) = self.callback(&query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["tenant"].as_str(), body["status"].as_str()), (Some(slug), Some("connected")));
        assert_eq!(body["organisation"]["id"].as_str(), Some(org));
        query
    }

    fn store(&self) -> &Store {
        &self.app.db.store
    }

    async fn tenant(&self, slug: &str) -> TenantId {
        self.store().tenants().find_by_slug(slug).await.expect("read").expect("tenant").id
    }

    /// An order placed (confirmed, its invoice job queued) for a customer of `slug`.
    async fn order(&self, slug: &str, number: &str) {
        let tenant = self.tenant(slug).await;
        let product = NewProduct {
            sku: "XERO-1".into(),
            name: "Connected widget".into(),
            description: String::new(),
            unit: "each".into(),
            unit_price_minor: 1_250,
            currency: "USD".into(),
            stock: 1_000,
            active: true,
        };
        self.store().catalogue().upsert(tenant, product).await.expect("product");
        let customer = NewCustomer {
            external_id: format!("XC-{slug}"),
            name: format!("Buyer at {slug}"),
            email: format!("buyer@{slug}.example"),
            company: String::new(),
        };
        let customer = self.store().customers().upsert(tenant, customer).await.expect("customer");
        let new = NewOrder {
            customer: CustomerId(customer.id),
            number: number.into(),
            status: OrderStatus::Draft,
            idempotency_key: format!("xero-test:{number}"),
            lines: vec![NewOrderLine { sku: "XERO-1".into(), quantity: 2 }],
            created_at: Utc::now(),
            outbox_kind: None,
        };
        self.store().orders().place(tenant, new).await.expect("place");
    }

    async fn drain(&self) {
        for _ in 0..5 {
            self.worker.run_once().await.expect("worker pass");
        }
    }

    fn references_in(&self, org: &str) -> Vec<String> {
        let mut refs: Vec<String> = self.fake.invoices_in(org).iter().filter_map(|i| i["Reference"].as_str().map(str::to_owned)).collect();
        refs.sort();
        refs
    }
}

async fn two_tenants_invoice_into_their_own_organisations(db: TestDb) {
    let label = db.label;
    let w = world(db).await;
    let northwind_books = w.fake.add_organisation("Northwind Books");
    let velo_books = w.fake.add_organisation("Velo Books");

    // Bad states change nothing: unknown, expired (bound to velo), and missing.
    let (status, body) = w.callback("state=not-a-real-state&code=abc").await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_field"), "{body}");
    let velo = w.tenant("velo").await;
    let expired = "e".repeat(64);
    w.store()
        .xero_connections()
        .insert_state(velo, &hash_state(&expired), None, Utc::now() - chrono::Duration::seconds(1))
        .await
        .expect("state");
    let (status, body) = w.callback(&format!("state={expired}&code=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: expired: {body}");
    let (status, _) = w.callback("code=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(w.store().xero_connections().get(velo).await.expect("get"), None, "{label}: nothing stored");

    let northwind_callback = w.connect("northwind", &northwind_books).await;
    w.connect("velo", &velo_books).await;
    // A replayed callback is refused and leaves the connection as it was.
    let before = w.store().xero_connections().get(w.tenant("northwind").await).await.expect("get");
    let (status, body) = w.callback(&northwind_callback).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: replay: {body}");
    assert_eq!(w.store().xero_connections().get(w.tenant("northwind").await).await.expect("get"), before);

    let (status, _, body) = w.app.call("GET", "/admin/tenants/northwind/integrations/xero", Some(&w.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["status"].as_str(), body["organisation"]["name"].as_str()), (Some("connected"), Some("Northwind Books")));
    assert!(!body.to_string().contains("fake-refresh") && !body.to_string().contains("fake-access"), "never a token: {body}");
    // Tenant keys cannot start a connection.
    let (status, _, _) = w.app.call("GET", "/admin/tenants/northwind/integrations/xero/connect", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    w.order("northwind", "ORD-N-1").await;
    w.order("velo", "ORD-V-1").await;
    w.drain().await;
    assert_eq!(w.references_in(&northwind_books), ["ORD-N-1"], "{label}");
    assert_eq!(w.references_in(&velo_books), ["ORD-V-1"], "{label}");

    // The user disconnects the app from Northwind's organisation in Xero.
    w.fake.revoke_access_to(&northwind_books);
    w.order("northwind", "ORD-N-2").await;
    w.order("velo", "ORD-V-2").await;
    w.drain().await;
    w.order("northwind", "ORD-N-3").await;
    w.drain().await;
    assert_eq!(w.references_in(&northwind_books), ["ORD-N-1"], "{label}: nothing more in Northwind's books");
    assert_eq!(w.references_in(&velo_books), ["ORD-V-1", "ORD-V-2"], "{label}: velo unaffected");
    let northwind = w.tenant("northwind").await;
    let jobs = w.store().orders().outbox(northwind).await.expect("outbox");
    let waiting: Vec<_> = jobs.iter().filter(|j| j.state == "pending").collect();
    assert_eq!(waiting.len(), 2, "{label}: both jobs wait: {jobs:?}");
    assert!(waiting.iter().all(|j| j.attempts == 0), "{label}: no attempt used: {waiting:?}");
    assert!(waiting.iter().all(|j| j.last_error.as_deref().is_some_and(|e| e.contains("revoked"))), "{waiting:?}");
    for number in ["ORD-N-2", "ORD-N-3"] {
        let order = w.store().orders().find_by_number(northwind, number).await.expect("read").expect("order");
        assert_eq!(order.status, "confirmed", "{label}: {number} is not failed");
    }
    let escalations = w.store().orders().escalations(northwind).await.expect("escalations");
    assert_eq!(escalations.len(), 1, "{label}: one escalation: {escalations:?}");
    assert!(escalations[0].reason.contains("/admin/tenants/northwind/integrations/xero/connect"), "{}", escalations[0].reason);
    assert!(w.store().orders().escalations(velo).await.expect("escalations").is_empty());

    let (_, _, health) = w.app.call("GET", "/health", None, None).await;
    let components = health["components"].as_array().expect("components");
    let entry = components.iter().find(|c| c["name"] == "xero:northwind").unwrap_or_else(|| panic!("no xero:northwind in {health}"));
    assert_eq!(entry["status"], "degraded");
    assert!(entry["detail"].as_str().is_some_and(|d| d.contains("revoked")), "{entry}");
    assert!(!components.iter().any(|c| c["name"] == "xero:velo"), "{label}: only the revoked tenant is named: {health}");
    let (_, _, integrations) = w.app.call("GET", "/admin/integrations", Some(&w.admin), None).await;
    assert!(integrations.to_string().contains("xero:northwind"), "{integrations}");
    let (_, _, status) = w.app.call("GET", "/admin/tenants/northwind/integrations/xero", Some(&w.admin), None).await;
    assert_eq!(status["status"], "revoked");

    // Disconnecting removes the connection; a second DELETE finds none.
    let (status, _, _) = w.app.call("DELETE", "/admin/tenants/velo/integrations/xero", Some(&w.admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, body) = w.app.call("GET", "/admin/tenants/velo/integrations/xero", Some(&w.admin), None).await;
    assert_eq!(body["status"], "not_connected");
    let (status, _, _) = w.app.call("DELETE", "/admin/tenants/velo/integrations/xero", Some(&w.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    w.app.db.cleanup().await;
}

#[tokio::test]
async fn two_tenants_connect_their_own_xero_and_a_revocation_holds_only_one() {
    two_tenants_invoice_into_their_own_organisations(tria_testkit::sqlite().await).await;
    if let Some(db) = tria_testkit::postgres().await {
        two_tenants_invoice_into_their_own_organisations(db).await;
    }
}

#[tokio::test]
async fn without_a_xero_app_the_routes_answer_503() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, body) = app.call("GET", "/admin/tenants/northwind/integrations/xero/connect", Some(&admin), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"), "{body}");
    let (status, _, _) = app.call("GET", "/integrations/xero/callback?state=x&code=y", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
