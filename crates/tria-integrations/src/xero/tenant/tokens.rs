//! [`TenantTokens`]: a tenant's access tokens from its stored, rotating refresh token.
//!
//! Xero rotates the refresh token on every refresh. So, in this order: claim the refresh in the
//! store (only from the generation just read, and only if no other process holds a live claim —
//! two replicas refreshing with one token would lock the tenant out), read the latest stored
//! refresh token, exchange it, store the new one sealed together with the generation bump, and
//! only then hand out the access token. If storing fails, the access token is not used: the old
//! refresh token is still the stored one, and Xero accepts it again for a grace period (30
//! minutes), so nothing is lost. A process that dies after storing leaves a usable token behind;
//! one that dies while holding the claim delays the next refresh by the claim's lease only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Mutex;
use tria_core::TenantId;
use tria_secrets::{SecretName, SecretStore, SecretValue};
use tria_store::Store;
use tria_store::repo::SealedSecret;

use super::app::ClientCredentials;
use super::identity::{TokenError, XeroIdentity};
use crate::accounting::AccountingError;
use crate::xero::TokenSource;

/// Told once, by the process whose refresh found the connection revoked (the store's status
/// change is the arbiter, so replicas do not all report it).
#[async_trait]
pub trait RevocationHook: Send + Sync {
    async fn connection_revoked(&self, tenant: TenantId);
}

/// How refreshes are claimed and waited for.
#[derive(Clone, Copy, Debug)]
pub struct TokenTiming {
    /// How long a claim is held at most; far above one token call's timeout.
    pub lease: Duration,
    /// Poll interval while another process holds the claim.
    pub poll: Duration,
    /// Give up waiting for another holder after this long (the call is retried later).
    pub max_wait: Duration,
    /// Refresh this long before the access token's stated expiry.
    pub skew: Duration,
}

impl Default for TokenTiming {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            max_wait: Duration::from_secs(20),
            skew: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
struct Cached {
    access_token: String,
    expires_at: Instant,
}

/// Access tokens of one tenant's Xero connection.
pub struct TenantTokens {
    identity: XeroIdentity,
    store: Store,
    secrets: SecretStore,
    tenant: TenantId,
    client: ClientCredentials,
    /// This source's name in the store's claim.
    holder: String,
    timing: TokenTiming,
    on_revoked: Option<Arc<dyn RevocationHook>>,
    cached: Mutex<Option<Cached>>,
    /// Shown in errors: where an admin reconnects.
    reconnect_hint: String,
}

impl std::fmt::Debug for TenantTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTokens").field("tenant", &self.tenant).field("holder", &self.holder).finish_non_exhaustive()
    }
}

fn store_error(what: &str, err: impl std::fmt::Display) -> AccountingError {
    AccountingError::Transport(format!("{what}: {err}"))
}

impl TenantTokens {
    pub fn new(identity: XeroIdentity, store: Store, secrets: SecretStore, tenant: TenantId, client: ClientCredentials) -> Self {
        Self {
            identity,
            store,
            secrets,
            tenant,
            client,
            holder: uuid::Uuid::new_v4().simple().to_string(),
            timing: TokenTiming::default(),
            on_revoked: None,
            cached: Mutex::new(None),
            reconnect_hint: String::new(),
        }
    }

    pub fn with_timing(mut self, timing: TokenTiming) -> Self {
        self.timing = timing;
        self
    }

    pub fn on_revoked(mut self, hook: Arc<dyn RevocationHook>) -> Self {
        self.on_revoked = Some(hook);
        self
    }

    pub fn with_reconnect_hint(mut self, hint: impl Into<String>) -> Self {
        self.reconnect_hint = hint.into();
        self
    }

    fn revoked(&self) -> AccountingError {
        AccountingError::NotConnected(format!("the tenant's Xero connection was revoked; reconnect it{}", self.reconnect_hint))
    }

    /// Claims the refresh (waiting while another process holds it), then refreshes.
    async fn fetch(&self, cached: &mut Option<Cached>) -> Result<String, AccountingError> {
        let repo = self.store.xero_connections();
        let deadline = Instant::now() + self.timing.max_wait;
        loop {
            let Some(connection) = repo.get(self.tenant).await.map_err(|e| store_error("reading the Xero connection", e))? else {
                return Err(AccountingError::NotConnected(format!("the tenant has no Xero connection{}", self.reconnect_hint)));
            };
            if !connection.is_connected() {
                return Err(self.revoked());
            }
            let held = connection.refresh_lease_until.is_some_and(|until| until > Utc::now());
            let lease_until = Utc::now() + chrono::Duration::from_std(self.timing.lease).unwrap_or(chrono::Duration::MAX);
            if !held
                && repo
                    .claim_refresh(self.tenant, connection.token_generation, &self.holder, lease_until)
                    .await
                    .map_err(|e| store_error("claiming the Xero token refresh", e))?
            {
                return self.refresh_claimed(connection.token_generation, cached).await;
            }
            if Instant::now() >= deadline {
                return Err(AccountingError::Timeout);
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    async fn refresh_claimed(&self, generation: i64, cached: &mut Option<Cached>) -> Result<String, AccountingError> {
        let repo = self.store.xero_connections();
        let release = || async {
            if let Err(err) = repo.release_refresh(self.tenant, generation, &self.holder).await {
                tracing::warn!(tenant = %self.tenant.0, error = %err, "releasing the Xero refresh claim failed; it lapses with its lease");
            }
        };
        let stored = match self.secrets.get(self.tenant, SecretName::XeroRefreshToken).await {
            Ok(Some(token)) => token,
            Ok(None) => {
                release().await;
                return Err(AccountingError::NotConnected(format!("the tenant's Xero refresh token is missing{}", self.reconnect_hint)));
            }
            Err(err) => {
                release().await;
                return Err(store_error("reading the Xero refresh token", err));
            }
        };
        let tokens = match self.identity.refresh(&self.client, stored.expose()).await {
            Ok(tokens) => tokens,
            Err(TokenError::InvalidGrant) => {
                let newly =
                    repo.mark_revoked(self.tenant, generation).await.map_err(|e| store_error("marking the connection revoked", e))?;
                tracing::warn!(tenant = %self.tenant.0, "Xero refused the tenant's refresh token (invalid_grant): connection revoked");
                if newly && let Some(hook) = &self.on_revoked {
                    hook.connection_revoked(self.tenant).await;
                }
                return Err(self.revoked());
            }
            Err(TokenError::Other(err)) => {
                release().await;
                return Err(err);
            }
        };
        let Some(rotated) = tokens.refresh_token.filter(|t| !t.is_empty()) else {
            release().await;
            return Err(AccountingError::Protocol("the token endpoint returned no refresh token".into()));
        };
        // Persist before use: the access token is handed out only once the new refresh token is stored.
        let value = SecretValue::new(rotated);
        let sealed = self
            .secrets
            .keyring()
            .seal(self.tenant, SecretName::XeroRefreshToken, &value)
            .map_err(|e| store_error("sealing the rotated Xero refresh token", e));
        let stored = match sealed {
            Ok(sealed) => {
                let row = SealedSecret { key_id: sealed.key_id, nonce: sealed.nonce, ciphertext: sealed.ciphertext, hint: value.hint() };
                repo.complete_refresh(self.tenant, generation, &self.holder, SecretName::XeroRefreshToken.as_str(), row).await
            }
            Err(err) => {
                release().await;
                return Err(err);
            }
        };
        match stored {
            Ok(true) => {}
            Ok(false) => {
                return Err(AccountingError::Transport("the Xero refresh claim was lost before the new token was stored".into()));
            }
            Err(err) => {
                release().await;
                return Err(store_error("storing the rotated Xero refresh token", err));
            }
        }
        let lifetime = Duration::from_secs(tokens.expires_in).saturating_sub(self.timing.skew);
        *cached = Some(Cached { access_token: tokens.access_token.clone(), expires_at: Instant::now() + lifetime });
        Ok(tokens.access_token)
    }
}

#[async_trait]
impl TokenSource for TenantTokens {
    async fn token(&self) -> Result<String, AccountingError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.expires_at
        {
            return Ok(c.access_token.clone());
        }
        self.fetch(&mut cached).await
    }

    async fn refresh(&self, rejected: &str) -> Result<String, AccountingError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.access_token != rejected
            && Instant::now() < c.expires_at
        {
            return Ok(c.access_token.clone());
        }
        self.fetch(&mut cached).await
    }
}
