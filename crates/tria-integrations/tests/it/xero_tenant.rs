//! Per-tenant Xero through the authorization-code flow against the fake's identity side, on
//! SQLite and (when configured) PostgreSQL: connect picks the right organisation; a refresh
//! token is used once and its successor stored before the access token is used; two sources
//! refresh one after the other; a crash after the store leaves a working token; a revoked
//! authorization is reported once and its calls wait instead of failing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tria_core::{TenantId, ToneProfile};
use tria_integrations::accounting::AccountingError;
use tria_integrations::xero::TokenSource;
use tria_integrations::xero::fake::{Consent, FakeXero, FakeXeroConfig};
use tria_integrations::xero::tenant::{ConnectError, RevocationHook, TenantTokens, TokenTiming, XeroApp, XeroConnector, XeroIdentity};
use tria_secrets::{Keyring, MasterKey, SecretName, SecretStore};
use tria_store::Store;
use tria_store::repo::NewTenant;

/// The fake's app, its callback on a port nothing listens on (tests follow the redirect by hand).
pub(crate) fn app_for(fake: &FakeXero) -> XeroApp {
    fake.xero_app("http://127.0.0.1:9/integrations/xero/callback", Duration::from_secs(5))
}

async fn tenant(store: &Store, slug: &str) -> TenantId {
    let new = NewTenant {
        name: format!("Tenant {slug}"),
        slug: slug.into(),
        currency: "USD".into(),
        tone: ToneProfile::default(),
        settings: serde_json::json!({}),
    };
    store.tenants().create(new).await.expect("tenant").id
}

/// Follows the authorize URL as a browser would (the fake consents at once) and returns the
/// callback's query: (state, code, error).
pub(crate) async fn consent(authorize_url: &str) -> (String, Option<String>, Option<String>) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = http.get(authorize_url).send().await.expect("authorize");
    assert_eq!(response.status(), 302, "the consent page redirects");
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    let url = reqwest::Url::parse(&location).expect("callback URL");
    let value = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    (value("state").unwrap_or_default(), value("code"), value("error"))
}

struct Setup {
    fake: FakeXero,
    store: Store,
    secrets: SecretStore,
    connector: XeroConnector,
}

async fn setup(store: Store) -> Setup {
    let config = FakeXeroConfig { refresh_grace: Duration::ZERO, ..FakeXeroConfig::default() };
    let fake = FakeXero::start(config).await.expect("fake Xero");
    let secrets = SecretStore::new(store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
    let connector = XeroConnector::new(app_for(&fake), reqwest::Client::new(), store.clone(), secrets.clone());
    Setup { fake, store, secrets, connector }
}

impl Setup {
    async fn connect(
        &self,
        tenant: TenantId,
        organisation: Option<&str>,
    ) -> Result<tria_integrations::xero::tenant::Connected, ConnectError> {
        let start = self.connector.start(tenant, organisation).await.expect("start");
        let (state, code, error) = consent(&start.authorize_url).await;
        assert_eq!(state, start.state, "the state comes back as sent");
        self.connector.callback(&state, code.as_deref(), error.as_deref()).await
    }

    fn tokens(&self, tenant: TenantId) -> TenantTokens {
        let identity = XeroIdentity::new(reqwest::Client::new(), self.connector.app());
        let timing = TokenTiming { poll: Duration::from_millis(20), ..TokenTiming::default() };
        TenantTokens::new(identity, self.store.clone(), self.secrets.clone(), tenant, self.connector.app().client.clone())
            .with_timing(timing)
    }
}

#[tokio::test]
async fn connecting_picks_the_organisation_and_a_state_works_once() {
    for db in tria_testkit::all_backends().await {
        let s = setup(db.store.clone()).await;
        let (a, b) = (tenant(&s.store, "conn-a").await, tenant(&s.store, "conn-b").await);
        let acme = s.fake.add_organisation("Acme Ltd");
        let bolt = s.fake.add_organisation("Bolt Ltd");

        s.fake.set_consent(Consent::Allow(vec![acme.clone()]));
        let connected = s.connect(a, None).await.expect("connect a");
        assert_eq!((connected.tenant, connected.connection.xero_tenant_id.as_str()), (a, acme.as_str()), "{}", db.label);
        assert_eq!(connected.connection.org_name, "Acme Ltd");
        assert!(s.secrets.get(a, SecretName::XeroRefreshToken).await.expect("secret").is_some(), "refresh token stored sealed");

        // Two organisations in one consent: ambiguous unless the admin named one.
        s.fake.set_consent(Consent::Allow(vec![acme.clone(), bolt.clone()]));
        let err = s.connect(b, None).await.expect_err("ambiguous");
        assert!(matches!(&err, ConnectError::Ambiguous { organisations } if organisations.len() == 2), "{err:?}");
        assert_eq!(s.store.xero_connections().get(b).await.expect("get"), None, "nothing stored");
        let connected = s.connect(b, Some("bolt ltd")).await.expect("connect b by name");
        assert_eq!(connected.connection.xero_tenant_id, bolt);
        let b_connection = connected.connection.connection_id;
        assert!(s.fake.connections().iter().any(|c| c.id == b_connection));

        // A state is single use, bound to its tenant, and a denial stores nothing.
        s.fake.set_consent(Consent::Allow(vec![acme.clone()]));
        let start = s.connector.start(a, None).await.expect("start");
        let (state, code, _) = consent(&start.authorize_url).await;
        assert!(matches!(s.connector.callback("not-a-state", code.as_deref(), None).await, Err(ConnectError::InvalidState)));
        s.connector.callback(&state, code.as_deref(), None).await.expect("first use");
        assert!(matches!(s.connector.callback(&state, code.as_deref(), None).await, Err(ConnectError::InvalidState)), "replay");
        s.fake.set_consent(Consent::Deny);
        let before = s.store.xero_connections().get(a).await.expect("get");
        assert!(matches!(s.connect(a, None).await, Err(ConnectError::Denied(e)) if e == "access_denied"));
        assert_eq!(s.store.xero_connections().get(a).await.expect("get"), before, "{}: a denial changes nothing", db.label);

        // Disconnect revokes at Xero and removes the tokens.
        assert!(s.connector.disconnect(b).await.expect("disconnect"));
        assert_eq!(s.store.xero_connections().get(b).await.expect("get"), None);
        assert!(s.secrets.get(b, SecretName::XeroRefreshToken).await.expect("secret").is_none());
        assert!(!s.fake.connections().iter().any(|c| c.id == b_connection), "the authorization is revoked at Xero");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn rotation_is_stored_before_use_and_survives_a_crash() {
    for db in tria_testkit::all_backends().await {
        let s = setup(db.store.clone()).await;
        let t = tenant(&s.store, "rotate").await;
        s.connect(t, None).await.expect("connect");
        let first = s.secrets.get(t, SecretName::XeroRefreshToken).await.expect("secret").expect("stored").expose().to_owned();

        // A source refreshes, stores the successor, and "crashes" before using its access token.
        let crashed = s.tokens(t);
        crashed.token().await.expect("refresh");
        drop(crashed);
        let second = s.secrets.get(t, SecretName::XeroRefreshToken).await.expect("secret").expect("stored").expose().to_owned();
        assert_ne!(first, second, "{}: the rotated token was stored", db.label);

        // A fresh source starts from the stored token and works.
        let fresh = s.tokens(t);
        let token = fresh.token().await.expect("fresh source refreshes from the stored token");
        assert!(!token.is_empty());
        let uses = s.fake.refresh_token_uses();
        assert_eq!((uses.get(&first), uses.get(&second)), (Some(&1), Some(&1)), "{}: each token used once: {uses:?}", db.label);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_sources_refresh_one_after_the_other_with_each_token_used_once() {
    for db in tria_testkit::all_backends().await {
        let s = setup(db.store.clone()).await;
        let t = tenant(&s.store, "replicas").await;
        s.connect(t, None).await.expect("connect");
        let (a, b) = (s.tokens(t), s.tokens(t));
        let (ta, tb) = tokio::join!(a.token(), b.token());
        let (ta, tb) = (ta.expect("a"), tb.expect("b"));
        assert_ne!(ta, tb, "each source has its own access token");
        let uses = s.fake.refresh_token_uses();
        assert_eq!(uses.len(), 2, "{}: two refreshes, from two different tokens: {uses:?}", db.label);
        assert!(uses.values().all(|n| *n == 1), "{}: no refresh token used twice: {uses:?}", db.label);
        // Both tokens work against the API, in the tenant's organisation.
        let org = s.store.xero_connections().get(t).await.expect("get").expect("row").xero_tenant_id;
        for token in [ta, tb] {
            let response = reqwest::Client::new()
                .get(format!("{}/Contacts", s.fake.base_url()))
                .bearer_auth(&token)
                .header("xero-tenant-id", &org)
                .send()
                .await
                .expect("call");
            assert_eq!(response.status(), 200);
        }
        // And the stored token is still good for the next refresh.
        s.tokens(t).token().await.expect("third source");
        db.cleanup().await;
    }
}

#[derive(Default)]
struct CountRevocations(AtomicU32);

#[async_trait::async_trait]
impl RevocationHook for CountRevocations {
    async fn connection_revoked(&self, _tenant: TenantId) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_revoked_authorization_is_reported_once_and_calls_wait() {
    let db = tria_testkit::sqlite().await;
    let s = setup(db.store.clone()).await;
    let t = tenant(&s.store, "revoked").await;
    let connected = s.connect(t, None).await.expect("connect");
    s.fake.revoke_access_to(&connected.connection.xero_tenant_id);
    let hook = Arc::new(CountRevocations::default());
    for _ in 0..2 {
        let source = s.tokens(t).on_revoked(hook.clone());
        let err = source.token().await.expect_err("revoked");
        assert!(matches!(err, AccountingError::NotConnected(_)), "{err:?}");
    }
    assert_eq!(hook.0.load(Ordering::SeqCst), 1, "one report");
    assert_eq!(s.store.xero_connections().get(t).await.expect("get").expect("row").status, "revoked");
}
