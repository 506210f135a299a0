//! The deployment's Xero app: its OAuth client and Xero's endpoints, and which client a tenant
//! uses (its own, when it stored `xero_client_id` and `xero_client_secret`, else the app's).

use std::time::Duration;

use tria_core::TenantId;
use tria_secrets::{SecretName, SecretStore, SecretsError};

/// An OAuth client id and secret. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials").field("client_id", &self.client_id).field("client_secret", &"[redacted]").finish()
    }
}

/// The BPO's one Xero app (`[integrations.xero_app]`).
#[derive(Clone, Debug)]
pub struct XeroApp {
    pub client: ClientCredentials,
    /// `https://login.xero.com/identity/connect/authorize`.
    pub authorize_url: String,
    /// `https://identity.xero.com/connect/token`.
    pub token_url: String,
    /// `https://identity.xero.com/connect/revocation`.
    pub revocation_url: String,
    /// `https://api.xero.com/connections`.
    pub connections_url: String,
    /// `https://api.xero.com/api.xro/2.0`.
    pub api_base_url: String,
    /// Where Xero sends the browser back: this deployment's `/integrations/xero/callback`.
    pub redirect_uri: String,
    /// Space-separated; `offline_access` is what yields a refresh token.
    pub scopes: String,
    /// Sales account of invoice lines when the tenant sets none (invoices then `AUTHORISED`).
    pub sales_account_code: Option<String>,
    /// Per request to Xero.
    pub timeout: Duration,
}

impl XeroApp {
    pub const DEFAULT_SCOPES: &'static str = "offline_access accounting.transactions accounting.contacts";

    /// The client `tenant` authorizes with: its own app when it stored both `xero_client_id` and
    /// `xero_client_secret`, else the deployment's.
    pub async fn client_for(&self, secrets: &SecretStore, tenant: TenantId) -> Result<ClientCredentials, SecretsError> {
        let id = secrets.get(tenant, SecretName::XeroClientId).await?;
        let secret = secrets.get(tenant, SecretName::XeroClientSecret).await?;
        Ok(match (id, secret) {
            (Some(id), Some(secret)) => {
                ClientCredentials { client_id: id.expose().trim().to_owned(), client_secret: secret.expose().trim().to_owned() }
            }
            _ => self.client.clone(),
        })
    }

    /// The client a connection's tokens were issued to (`client_id` as stored with it): a
    /// refresh must present that client, even if the tenant's own app changed since.
    pub async fn client_of_connection(
        &self,
        secrets: &SecretStore,
        tenant: TenantId,
        client_id: &str,
    ) -> Result<Option<ClientCredentials>, SecretsError> {
        if client_id == self.client.client_id {
            return Ok(Some(self.client.clone()));
        }
        let own = self.client_for(secrets, tenant).await?;
        Ok((own.client_id == client_id).then_some(own))
    }
}
