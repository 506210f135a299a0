//! [`SecretStore`]: the one way into tenants' secrets — seal on write, open on read, hints for
//! listing. This is the API the per-tenant Xero, Gorgias, Slack and LLM wiring is to read
//! credentials through (`get`); nothing else needs the keyring.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tria_core::TenantId;
use tria_store::Store;
use tria_store::records::TenantSecret;
use tria_store::repo::SealedSecret;

use crate::{Keyring, Sealed, SecretName, SecretValue, SecretsError};

/// What may be shown of a stored secret: its name, the masked hint and when it was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretHint {
    pub name: String,
    pub hint: String,
    pub updated_at: DateTime<Utc>,
}

impl From<TenantSecret> for SecretHint {
    fn from(row: TenantSecret) -> Self {
        Self { name: row.name, hint: row.hint, updated_at: row.updated_at }
    }
}

/// Tenants' sealed secrets over the store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SecretStore {
    store: Store,
    keyring: Arc<Keyring>,
}

impl SecretStore {
    pub fn new(store: Store, keyring: Keyring) -> Self {
        Self { store, keyring: Arc::new(keyring) }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Seals and stores `value` as `tenant`'s `name`, replacing any previous value.
    pub async fn put(&self, tenant: TenantId, name: SecretName, value: &SecretValue) -> Result<SecretHint, SecretsError> {
        let sealed = self.keyring.seal(tenant, name, value)?;
        let row = self.store.secrets().put(tenant, name.as_str(), sealed_row(sealed, value.hint())).await?;
        tracing::info!(tenant = %tenant.0, secret = %name, key_id = %row.key_id, "secret stored");
        Ok(row.into())
    }

    /// The plaintext of `tenant`'s `name`, `None` when it is not set.
    pub async fn get(&self, tenant: TenantId, name: SecretName) -> Result<Option<SecretValue>, SecretsError> {
        let Some(row) = self.store.secrets().get(tenant, name.as_str()).await? else { return Ok(None) };
        self.keyring.open(tenant, name, &sealed_of(&row)).map(Some)
    }

    /// Names, hints and times of the tenant's secrets; never values.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<SecretHint>, SecretsError> {
        Ok(self.store.secrets().list(tenant).await?.into_iter().map(SecretHint::from).collect())
    }

    /// `false` when it was not set.
    pub async fn delete(&self, tenant: TenantId, name: SecretName) -> Result<bool, SecretsError> {
        let deleted = self.store.secrets().delete(tenant, name.as_str()).await?;
        if deleted {
            tracing::info!(tenant = %tenant.0, secret = %name, "secret deleted");
        }
        Ok(deleted)
    }
}

pub(crate) fn sealed_of(row: &TenantSecret) -> Sealed {
    Sealed { key_id: row.key_id.clone(), nonce: row.nonce.clone(), ciphertext: row.ciphertext.clone() }
}

pub(crate) fn sealed_row(sealed: Sealed, hint: String) -> SealedSecret {
    SealedSecret { key_id: sealed.key_id, nonce: sealed.nonce, ciphertext: sealed.ciphertext, hint }
}
