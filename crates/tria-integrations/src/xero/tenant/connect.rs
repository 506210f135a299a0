//! Connecting a tenant's Xero organisation: [`XeroConnector::start`] makes the authorize URL with
//! a `state` bound to the tenant; [`XeroConnector::callback`] checks the state, exchanges the
//! code, reads `GET /connections` to pick the organisation, and stores the connection with its
//! sealed refresh token.
//!
//! The state is 32 random bytes; only its SHA-256 is stored, with the tenant, the organisation
//! the admin named and a 10-minute expiry. A stored hash rather than an HMAC: the state must be
//! single use anyway, which needs a row to delete, and a row works on every replica with no
//! signing key to share; the database never holds a usable state. Taking the row deletes it, so
//! a replayed callback finds nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use tria_core::TenantId;
use tria_secrets::{SecretName, SecretStore, SecretValue, SecretsError};
use tria_store::records::XeroConnection;
use tria_store::repo::{NewXeroConnection, SealedSecret};
use tria_store::{Store, StoreError};

use super::XeroApp;
use super::identity::{TokenError, XeroConnectionInfo, XeroIdentity};
use crate::accounting::AccountingError;

/// How long an authorize URL can be completed.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// What `start` gives the admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectStart {
    pub authorize_url: String,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// An organisation the user could have meant, for a 409.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganisationChoice {
    pub tenant_id: String,
    pub tenant_name: String,
}

/// The connection the callback stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    pub tenant: TenantId,
    pub connection: XeroConnection,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Unknown, expired or already used `state`: nothing is done.
    #[error("the state is unknown, expired or already used; start again with GET /admin/tenants/{{slug}}/integrations/xero/connect")]
    InvalidState,
    /// The callback carried no code.
    #[error("the callback has no `code`")]
    MissingCode,
    /// The user declined on Xero's consent page (or Xero reported another OAuth error).
    #[error("Xero did not authorize the connection: {0}")]
    Denied(String),
    /// Xero refused the code (expired, used, or for another redirect URI).
    #[error("Xero refused the authorization code (expired or already used); start again")]
    CodeRefused,
    /// The authorization connected no organisation, or not the one the admin named.
    #[error("{message}")]
    NoOrganisation { message: String, organisations: Vec<OrganisationChoice> },
    /// Several organisations and nothing says which: name one with `?organisation=`.
    #[error("the authorization connected several organisations; connect again with ?organisation=<tenantId or name>")]
    Ambiguous { organisations: Vec<OrganisationChoice> },
    #[error("Xero: {0}")]
    Xero(AccountingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// SHA-256 of a state, hex: what the table keys on.
pub fn hash_state(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// Runs the authorization-code flow for tenants.
#[derive(Clone, Debug)]
pub struct XeroConnector {
    app: XeroApp,
    identity: XeroIdentity,
    store: Store,
    secrets: SecretStore,
}

fn choices(list: &[XeroConnectionInfo]) -> Vec<OrganisationChoice> {
    list.iter().map(|c| OrganisationChoice { tenant_id: c.tenant_id.clone(), tenant_name: c.tenant_name.clone() }).collect()
}

/// The organisation this authorization connected: the one the admin named (by id or name),
/// else the only one, else the only one created by the newest authorization event.
fn pick(list: &[XeroConnectionInfo], named: Option<&str>) -> Result<XeroConnectionInfo, ConnectError> {
    let orgs: Vec<&XeroConnectionInfo> = list.iter().filter(|c| c.tenant_type.is_empty() || c.tenant_type == "ORGANISATION").collect();
    if let Some(named) = named.map(str::trim).filter(|n| !n.is_empty()) {
        return orgs
            .iter()
            .find(|c| c.tenant_id.eq_ignore_ascii_case(named) || c.tenant_name.eq_ignore_ascii_case(named))
            .map(|c| (*c).clone())
            .ok_or_else(|| ConnectError::NoOrganisation {
                message: format!("the authorization did not connect organisation `{named}`"),
                organisations: choices(list),
            });
    }
    match orgs.as_slice() {
        [] => Err(ConnectError::NoOrganisation { message: "the authorization connected no organisation".into(), organisations: vec![] }),
        [only] => Ok((*only).clone()),
        _ => {
            // Connections made by one consent share an authEventId; the newest event is this one.
            let newest = orgs.iter().max_by_key(|c| c.updated_date_utc.clone().or_else(|| c.created_date_utc.clone()));
            let event = newest.and_then(|c| c.auth_event_id.clone());
            let same: Vec<&&XeroConnectionInfo> = orgs.iter().filter(|c| event.is_some() && c.auth_event_id == event).collect();
            match same.as_slice() {
                [only] => Ok((**only).clone()),
                _ => Err(ConnectError::Ambiguous { organisations: choices(list) }),
            }
        }
    }
}

impl XeroConnector {
    pub fn new(app: XeroApp, http: reqwest::Client, store: Store, secrets: SecretStore) -> Self {
        let identity = XeroIdentity::new(http, &app);
        Self { app, identity, store, secrets }
    }

    pub fn app(&self) -> &XeroApp {
        &self.app
    }

    /// A fresh authorize URL for `tenant`; `organisation` (a Xero tenantId or name) settles
    /// which one to keep if the user connects several.
    pub async fn start(&self, tenant: TenantId, organisation: Option<&str>) -> Result<ConnectStart, ConnectError> {
        let client = self.app.client_for(&self.secrets, tenant).await?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let state = hex::encode(bytes);
        let expires_at = Utc::now() + chrono::Duration::from_std(STATE_TTL).unwrap_or(chrono::Duration::MAX);
        let organisation = organisation.map(str::trim).filter(|o| !o.is_empty());
        self.store.xero_connections().insert_state(tenant, &hash_state(&state), organisation, expires_at).await?;
        let mut url = reqwest::Url::parse(&self.app.authorize_url)
            .map_err(|e| ConnectError::Xero(AccountingError::Protocol(format!("authorize_url: {e}"))))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &self.app.redirect_uri)
            .append_pair("scope", &self.app.scopes)
            .append_pair("state", &state);
        Ok(ConnectStart { authorize_url: url.to_string(), state, expires_at })
    }

    /// Completes an authorization: the state is used up whatever happens next.
    pub async fn callback(&self, state: &str, code: Option<&str>, error: Option<&str>) -> Result<Connected, ConnectError> {
        let pending = match self.store.xero_connections().take_state(&hash_state(state)).await? {
            Some(p) if p.expires_at > Utc::now() => p,
            _ => return Err(ConnectError::InvalidState),
        };
        let tenant = TenantId(pending.tenant_id);
        if let Some(error) = error.filter(|e| !e.is_empty()) {
            return Err(ConnectError::Denied(error.chars().take(64).collect()));
        }
        let code = code.filter(|c| !c.is_empty()).ok_or(ConnectError::MissingCode)?;
        let client = self.app.client_for(&self.secrets, tenant).await?;
        let tokens = match self.identity.exchange_code(&client, code, &self.app.redirect_uri).await {
            Ok(tokens) => tokens,
            Err(TokenError::InvalidGrant) => return Err(ConnectError::CodeRefused),
            Err(TokenError::Other(err)) => return Err(ConnectError::Xero(err)),
        };
        let refresh = tokens
            .refresh_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConnectError::Xero(AccountingError::Protocol("no refresh token: is `offline_access` in the scopes?".into())))?;
        let list = self.identity.connections(&tokens.access_token).await.map_err(ConnectError::Xero)?;
        let chosen = pick(&list, pending.organisation.as_deref())?;
        let value = SecretValue::new(refresh);
        let sealed = self.secrets.keyring().seal(tenant, SecretName::XeroRefreshToken, &value)?;
        let row = SealedSecret { key_id: sealed.key_id, nonce: sealed.nonce, ciphertext: sealed.ciphertext, hint: value.hint() };
        let new = NewXeroConnection {
            connection_id: chosen.id,
            xero_tenant_id: chosen.tenant_id,
            org_name: chosen.tenant_name,
            client_id: client.client_id,
        };
        let connection = self.store.xero_connections().connect(tenant, new, SecretName::XeroRefreshToken.as_str(), row).await?;
        tracing::info!(tenant = %tenant.0, org = %connection.org_name, "Xero organisation connected");
        Ok(Connected { tenant, connection })
    }

    /// Disconnects: revokes the authorization at Xero (best effort: a failure is logged and the
    /// tokens are removed anyway), then deletes the connection and its refresh token.
    /// `false` when the tenant had no connection.
    pub async fn disconnect(&self, tenant: TenantId) -> Result<bool, ConnectError> {
        let repo = self.store.xero_connections();
        let Some(connection) = repo.get(tenant).await? else { return Ok(false) };
        let token = self.secrets.get(tenant, SecretName::XeroRefreshToken).await.unwrap_or_else(|err| {
            tracing::warn!(tenant = %tenant.0, error = %err, "reading the Xero refresh token to revoke it failed");
            None
        });
        let client = self.app.client_of_connection(&self.secrets, tenant, &connection.client_id).await.ok().flatten();
        if let (Some(token), Some(client), true) = (token, client, connection.is_connected())
            && let Err(err) = self.identity.revoke(&client, token.expose()).await
        {
            tracing::warn!(tenant = %tenant.0, error = %err, "revoking the Xero authorization failed; removing the tokens anyway");
        }
        repo.disconnect(tenant, SecretName::XeroRefreshToken.as_str()).await?;
        tracing::info!(tenant = %tenant.0, org = %connection.org_name, "Xero organisation disconnected");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: &str, name: &str, event: &str, updated: &str) -> XeroConnectionInfo {
        XeroConnectionInfo {
            id: format!("c-{id}"),
            tenant_id: id.into(),
            tenant_name: name.into(),
            tenant_type: "ORGANISATION".into(),
            auth_event_id: Some(event.into()),
            created_date_utc: Some(updated.into()),
            updated_date_utc: Some(updated.into()),
        }
    }

    #[test]
    fn one_organisation_or_the_newest_authorization_or_the_named_one_is_picked() {
        let a = conn("a", "Acme", "e1", "2026-01-01T00:00:00.0000000");
        let b = conn("b", "Bolt", "e2", "2026-02-01T00:00:00.0000000");
        let c = conn("c", "Cogs", "e2", "2026-02-01T00:00:00.0000000");
        assert_eq!(pick(std::slice::from_ref(&a), None).expect("only").tenant_id, "a");
        assert_eq!(pick(&[a.clone(), b.clone()], None).expect("newest event").tenant_id, "b");
        assert!(
            matches!(pick(&[a.clone(), b.clone(), c.clone()], None), Err(ConnectError::Ambiguous { organisations }) if organisations.len() == 3)
        );
        assert_eq!(pick(&[a.clone(), b.clone(), c.clone()], Some("cogs")).expect("by name").tenant_id, "c");
        assert_eq!(pick(&[a.clone(), b.clone(), c], Some("a")).expect("by id").tenant_id, "a");
        assert!(matches!(pick(&[a, b], Some("zeta")), Err(ConnectError::NoOrganisation { .. })));
        assert!(matches!(pick(&[], None), Err(ConnectError::NoOrganisation { .. })));
    }

    #[test]
    fn a_state_is_stored_as_its_hash() {
        let h = hash_state("abc");
        assert_eq!(h.len(), 64);
        assert_ne!(h, "abc");
        assert_eq!(h, hash_state("abc"));
    }
}
