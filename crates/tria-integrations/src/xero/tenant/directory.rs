//! [`XeroDirectory`]: the invoice worker's [`AccountingDirectory`] when tenants connect their own
//! Xero. Each call resolves the tenant's connection from the store (one indexed read, so every
//! replica sees a disconnect or a revocation at once) and goes through that tenant's own client
//! and breaker (`xero:<slug>`), built on first use and cached by connection. A tenant with no
//! connection falls back to the deployment-wide Xero when one is configured; a revoked one never
//! does (its invoices must not land in someone else's books) — its jobs wait
//! ([`AccountingError::NotConnected`]) while one escalation asks a person to reconnect it, and
//! `/health` names that tenant alone.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tria_core::TenantId;
use tria_secrets::SecretStore;
use tria_store::Store;
use tria_store::records::XeroConnection;
use tria_store::repo::{INVOICE_OUTBOX_KIND, job_order_id, outbox_state};

use super::XeroApp;
use super::identity::XeroIdentity;
use super::tokens::{RevocationHook, TenantTokens, TokenTiming};
use crate::accounting::{Accounting, AccountingError, ContactRef, Customer, Guarded, InvoiceDraft, InvoiceRef};
use crate::invoicing::AccountingDirectory;
use crate::resilience::{BreakerConfig, CircuitBreaker, RetryPolicy};
use crate::slack::SlackWebhook;
use crate::xero::{XeroClient, XeroConfig};
use crate::{IntegrationProbe, IntegrationState, IntegrationStatus};

/// Where an admin reconnects a tenant's Xero (shown in errors, health and escalations).
pub fn reconnect_hint(slug: &str) -> String {
    format!("GET /admin/tenants/{slug}/integrations/xero/connect")
}

struct TenantClient {
    connection_id: String,
    accounting: Arc<dyn Accounting>,
    breaker: Arc<CircuitBreaker>,
}

struct Inner {
    app: XeroApp,
    identity: XeroIdentity,
    http: reqwest::Client,
    store: Store,
    secrets: SecretStore,
    fallback: Option<Arc<dyn Accounting>>,
    breaker: BreakerConfig,
    retry: RetryPolicy,
    timing: TokenTiming,
    slack: Option<SlackWebhook>,
    clients: Mutex<HashMap<TenantId, Arc<TenantClient>>>,
    /// Tenant slug → the connection's health entry, for those not ok (revoked), refreshed from
    /// the store by [`XeroDirectory::refresh_statuses`] and at once on a revocation.
    revoked: Mutex<BTreeMap<String, IntegrationStatus>>,
    /// Slug of every tenant whose client was built, for the breaker entries.
    slugs: Mutex<HashMap<TenantId, String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tenants' own Xero connections. Cheap to clone.
#[derive(Clone)]
pub struct XeroDirectory {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for XeroDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroDirectory").field("app", &self.inner.app).finish_non_exhaustive()
    }
}

fn revoked_status(slug: &str) -> IntegrationStatus {
    IntegrationStatus {
        name: format!("xero:{slug}"),
        state: IntegrationState::Degraded,
        detail: format!("connection revoked; invoicing on hold; reconnect at {}", reconnect_hint(slug)),
    }
}

impl XeroDirectory {
    pub fn new(app: XeroApp, http: reqwest::Client, store: Store, secrets: SecretStore) -> Self {
        let identity = XeroIdentity::new(http.clone(), &app);
        Self {
            inner: Arc::new(Inner {
                app,
                identity,
                http,
                store,
                secrets,
                fallback: None,
                breaker: BreakerConfig::default(),
                retry: RetryPolicy { max_attempts: 3, ..RetryPolicy::default() },
                timing: TokenTiming::default(),
                slack: None,
                clients: Mutex::new(HashMap::new()),
                revoked: Mutex::new(BTreeMap::new()),
                slugs: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn inner_mut(&mut self) -> Option<&mut Inner> {
        let inner = Arc::get_mut(&mut self.inner);
        if inner.is_none() {
            tracing::error!("Xero directory configured after it was shared; ignored");
        }
        inner
    }

    /// Tenants with no connection of their own invoice through `fallback` (the deployment-wide
    /// `[integrations.xero]`); without one their jobs wait.
    pub fn with_fallback(mut self, fallback: Arc<dyn Accounting>) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.fallback = Some(fallback);
        }
        self
    }

    /// Breaker settings of each tenant's client, and its in-call retries.
    pub fn with_resilience(mut self, breaker: BreakerConfig, retry: RetryPolicy) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.breaker = breaker;
            inner.retry = retry;
        }
        self
    }

    pub fn with_token_timing(mut self, timing: TokenTiming) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.timing = timing;
        }
        self
    }

    /// Where a revocation is also posted.
    pub fn with_slack(mut self, slack: SlackWebhook) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.slack = Some(slack);
        }
        self
    }

    /// Drops the tenant's cached client (after a disconnect or a reconnection).
    pub fn forget(&self, tenant: TenantId) {
        lock(&self.inner.clients).remove(&tenant);
    }

    /// Re-reads which connections are revoked (for `/health`; other replicas' revocations and
    /// reconnections show up here).
    pub async fn refresh_statuses(&self) -> Result<(), tria_store::StoreError> {
        let connections = self.inner.store.xero_connections().list().await?;
        let mut revoked = BTreeMap::new();
        for connection in connections.iter().filter(|c| !c.is_connected()) {
            if let Some(tenant) = self.inner.store.tenants().get(TenantId(connection.tenant_id)).await? {
                revoked.insert(tenant.slug.clone(), revoked_status(&tenant.slug));
            }
        }
        *lock(&self.inner.revoked) = revoked;
        Ok(())
    }

    /// Refreshes the statuses every `every` until `shutdown` turns true.
    pub async fn watch(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(err) = self.refresh_statuses().await {
                tracing::warn!(error = %err, "refreshing Xero connection statuses failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

impl Inner {
    async fn slug(&self, tenant: TenantId) -> String {
        if let Some(slug) = lock(&self.slugs).get(&tenant) {
            return slug.clone();
        }
        let slug = match self.store.tenants().get(tenant).await {
            Ok(Some(t)) => t.slug,
            _ => tenant.0.to_string(),
        };
        lock(&self.slugs).insert(tenant, slug.clone());
        slug
    }

    /// The accounting connection serving `tenant` now.
    async fn resolve(self: &Arc<Self>, tenant: TenantId) -> Result<Arc<dyn Accounting>, AccountingError> {
        let connection = self
            .store
            .xero_connections()
            .get(tenant)
            .await
            .map_err(|e| AccountingError::Transport(format!("reading the Xero connection: {e}")))?;
        let Some(connection) = connection else {
            return self.fallback.clone().ok_or_else(|| {
                AccountingError::NotConnected("the tenant has no Xero connection and the deployment has no shared one".into())
            });
        };
        let slug = self.slug(tenant).await;
        if !connection.is_connected() {
            return Err(AccountingError::NotConnected(format!("Xero connection revoked; reconnect at {}", reconnect_hint(&slug))));
        }
        if let Some(client) = lock(&self.clients).get(&tenant).filter(|c| c.connection_id == connection.connection_id) {
            return Ok(client.accounting.clone());
        }
        let client = self.build(tenant, &slug, &connection).await?;
        let accounting = client.accounting.clone();
        lock(&self.clients).insert(tenant, Arc::new(client));
        Ok(accounting)
    }

    async fn build(self: &Arc<Self>, tenant: TenantId, slug: &str, connection: &XeroConnection) -> Result<TenantClient, AccountingError> {
        let credentials = self
            .app
            .client_of_connection(&self.secrets, tenant, &connection.client_id)
            .await
            .map_err(|e| AccountingError::Transport(format!("reading the tenant's Xero client: {e}")))?
            .ok_or_else(|| {
                AccountingError::NotConnected(format!(
                    "the Xero app this connection was made with ({}) is no longer configured; reconnect at {}",
                    connection.client_id,
                    reconnect_hint(slug)
                ))
            })?;
        let tokens = TenantTokens::new(self.identity.clone(), self.store.clone(), self.secrets.clone(), tenant, credentials)
            .with_timing(self.timing)
            .with_reconnect_hint(format!(" at {}", reconnect_hint(slug)))
            .on_revoked(Arc::new(Revocations(self.clone())));
        let mut config = XeroConfig::new(self.app.api_base_url.clone(), connection.xero_tenant_id.clone());
        config.timeout = self.app.timeout;
        config.retry = self.retry.clone();
        config.sales_account_code.clone_from(&self.app.sales_account_code);
        let client = XeroClient::new(self.http.clone(), config, Arc::new(tokens));
        let breaker = Arc::new(CircuitBreaker::new(format!("xero:{slug}"), self.breaker.clone()));
        let accounting: Arc<dyn Accounting> = Arc::new(Guarded::new(Arc::new(client), breaker.clone()));
        Ok(TenantClient { connection_id: connection.connection_id.clone(), accounting, breaker })
    }
}

/// Opens the one escalation of a revocation: on the tenant's oldest order waiting for its
/// invoice (the escalation record is per order), posted to Slack when configured.
struct Revocations(Arc<Inner>);

#[async_trait]
impl RevocationHook for Revocations {
    async fn connection_revoked(&self, tenant: TenantId) {
        let inner = &self.0;
        let slug = inner.slug(tenant).await;
        lock(&inner.revoked).insert(slug.clone(), revoked_status(&slug));
        lock(&inner.clients).remove(&tenant);
        let reason = format!(
            "The Xero connection of {slug} was revoked: invoicing is on hold (jobs wait, none fail). Reconnect at {}",
            reconnect_hint(&slug)
        );
        let waiting = match inner.store.orders().outbox(tenant).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|r| r.kind == INVOICE_OUTBOX_KIND && (r.state == outbox_state::PENDING || r.state == outbox_state::LEASED))
                .find_map(|r| job_order_id(&r).ok()),
            Err(err) => {
                tracing::warn!(tenant = %slug, error = %err, "reading the waiting invoices failed");
                None
            }
        };
        match waiting {
            Some(order) => {
                if let Err(err) = inner.store.orders().open_escalation(tenant, order, &reason).await {
                    tracing::warn!(tenant = %slug, error = %err, "opening the revocation escalation failed");
                }
            }
            None => tracing::warn!(tenant = %slug, "Xero connection revoked with no invoice waiting; no escalation row"),
        }
        if let Some(slack) = &inner.slack
            && let Err(err) = slack.notify(&format!(":warning: {reason}")).await
        {
            tracing::warn!(tenant = %slug, error = %err, "Slack notice of the revocation failed");
        }
    }
}

impl AccountingDirectory for XeroDirectory {
    fn for_tenant(&self, tenant: TenantId) -> Option<Arc<dyn Accounting>> {
        Some(Arc::new(TenantAccounting { inner: self.inner.clone(), tenant }))
    }
}

impl IntegrationProbe for XeroDirectory {
    /// The summary: how many tenants' connections are revoked.
    fn status(&self) -> IntegrationStatus {
        let revoked = lock(&self.inner.revoked).len();
        IntegrationStatus {
            name: "xero:tenants".into(),
            state: if revoked == 0 { IntegrationState::Ok } else { IntegrationState::Degraded },
            detail: match revoked {
                0 => "tenants' own Xero connections: none revoked".into(),
                n => format!("{n} tenant Xero connection(s) revoked; see the xero:<tenant> entries"),
            },
        }
    }

    /// The summary, then one entry per tenant whose connection is revoked or whose breaker is
    /// not closed; healthy tenants are not listed.
    fn statuses(&self) -> Vec<IntegrationStatus> {
        let mut all = vec![self.status()];
        let revoked = lock(&self.inner.revoked).clone();
        all.extend(revoked.values().cloned());
        let clients: Vec<Arc<TenantClient>> = lock(&self.inner.clients).values().cloned().collect();
        for client in clients {
            let status = client.breaker.status();
            if status.state != IntegrationState::Ok && !revoked.keys().any(|slug| status.name == format!("xero:{slug}")) {
                all.push(status);
            }
        }
        all
    }
}

/// The worker's handle on one tenant's accounting: resolved on every call.
struct TenantAccounting {
    inner: Arc<Inner>,
    tenant: TenantId,
}

#[async_trait]
impl Accounting for TenantAccounting {
    async fn ensure_contact(&self, customer: &Customer, idempotency_key: &str) -> Result<ContactRef, AccountingError> {
        self.inner.resolve(self.tenant).await?.ensure_contact(customer, idempotency_key).await
    }

    async fn create_invoice(&self, draft: &InvoiceDraft, idempotency_key: &str) -> Result<InvoiceRef, AccountingError> {
        self.inner.resolve(self.tenant).await?.create_invoice(draft, idempotency_key).await
    }

    async fn find_invoice_by_reference(&self, reference: &str) -> Result<Option<InvoiceRef>, AccountingError> {
        self.inner.resolve(self.tenant).await?.find_invoice_by_reference(reference).await
    }

    async fn void_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        self.inner.resolve(self.tenant).await?.void_invoice(invoice_id, idempotency_key).await
    }

    async fn email_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        self.inner.resolve(self.tenant).await?.email_invoice(invoice_id, idempotency_key).await
    }
}
