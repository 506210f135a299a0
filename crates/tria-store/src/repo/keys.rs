//! API keys. Keys are 256-bit random secrets (or fixed demo values), so one SHA-256 digest is
//! enough: a slow password hash protects guessable secrets, and these are not guessable. Lookup
//! goes by the digest (a unique index), so every unknown key costs the same one index probe: a
//! lookup by the clear prefix read and compared rows only when the prefix existed, and its
//! answer time told which prefixes do. The prefix is kept for people to recognise a key by.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tria_core::{ApiRole, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{api_key, operator_tenant};
use crate::records::{ApiKeyRow, IntoRecords};

/// Characters of the key stored in clear for lookup.
const PREFIX_LEN: usize = 12;

/// Hex SHA-256 of a key.
pub fn hash_key(plaintext: &str) -> String {
    hex::encode(key_digest(plaintext))
}

/// The SHA-256 digest of a key's plain text, as bytes ([`hash_key`] is its hex): what a cache
/// of verified keys is keyed by, without hex-encoding on every request.
pub fn key_digest(plaintext: &str) -> [u8; 32] {
    Sha256::digest(plaintext.as_bytes()).into()
}

/// The lookup prefix of a key (its first characters).
pub fn key_prefix(plaintext: &str) -> String {
    plaintext.chars().take(PREFIX_LEN).collect()
}

/// Characters a generated key is drawn from.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters carry 256 bits (62^43 > 2^256).
const GENERATED_KEY_CHARS: usize = 43;

/// A fresh key, `tria_` + 43 base62 characters from the OS-seeded CSPRNG.
pub fn generate_key() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let body: String = (0..GENERATED_KEY_CHARS).map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())])).collect();
    format!("tria_{body}")
}

/// A key as admins see it: never the secret, only what identifies it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub role: String,
    pub label: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<Utc>,
    pub revoked_at: Option<chrono::DateTime<Utc>>,
}

impl From<api_key::Model> for KeyInfo {
    fn from(m: api_key::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            role: m.role,
            label: m.label,
            prefix: m.prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

impl From<ApiKeyRow> for KeyInfo {
    fn from(m: ApiKeyRow) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            role: m.role,
            label: m.label,
            prefix: m.prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// Who a valid key speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedKey {
    pub key_id: Uuid,
    pub role: ApiRole,
    pub tenant_id: Option<TenantId>,
}

#[derive(Clone, Copy, Debug)]
pub struct KeyRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl KeyRepo<'_> {
    /// Stores a key's digest. Returns the key id; the plaintext is the caller's to show once.
    pub async fn insert(&self, tenant: Option<TenantId>, role: ApiRole, label: &str, plaintext: &str) -> Result<Uuid, StoreError> {
        if plaintext.len() < 24 {
            return Err(StoreError::Invalid("API keys must be at least 24 characters".into()));
        }
        if role.has_tenant() != tenant.is_some() {
            return Err(StoreError::Invalid("tenant and widget keys need a tenant; admin and operator keys must not have one".into()));
        }
        let id = Uuid::new_v4();
        api_key::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.map(|t| t.0)),
            prefix: Set(key_prefix(plaintext)),
            key_hash: Set(hash_key(plaintext)),
            role: Set(role.as_str().to_owned()),
            label: Set(label.to_owned()),
            created_at: Set(Utc::now()),
            revoked_at: Set(None),
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    /// The key's role and tenant, or `None` for unknown or revoked keys.
    pub async fn authenticate(&self, plaintext: &str) -> Result<Option<AuthenticatedKey>, StoreError> {
        let candidates = self.candidates(plaintext).await?;
        let digest = hash_key(plaintext);
        let mut found = None;
        // The index matched the digest already; compared again, in constant time, so a row is
        // accepted only for its own digest whatever the database's collation does.
        for row in candidates {
            let equal: bool = row.key_hash.as_bytes().ct_eq(digest.as_bytes()).into();
            if equal {
                found =
                    ApiRole::parse(&row.role).map(|role| AuthenticatedKey { key_id: row.id, role, tenant_id: row.tenant_id.map(TenantId) });
            }
        }
        Ok(found)
    }

    /// The active rows a key is checked against: the one with its digest, if any.
    async fn candidates(&self, plaintext: &str) -> Result<Vec<api_key::Model>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash_key(plaintext)))
            .filter(api_key::Column::RevokedAt.is_null())
            .all(self.db)
            .await?)
    }

    /// Whether a key with this plaintext is already stored (revoked or not).
    pub async fn exists(&self, plaintext: &str) -> Result<bool, StoreError> {
        Ok(api_key::Entity::find().filter(api_key::Column::KeyHash.eq(hash_key(plaintext))).one(self.db).await?.is_some())
    }

    /// Generates, stores and returns a new key; the plaintext exists only in the return value.
    pub async fn create(&self, tenant: Option<TenantId>, role: ApiRole, label: &str) -> Result<(KeyInfo, String), StoreError> {
        let plaintext = generate_key();
        let id = self.insert(tenant, role, label, &plaintext).await?;
        let row = api_key::Entity::find_by_id(id).one(self.db).await?.ok_or_else(|| StoreError::NotFound(format!("key {id}")))?;
        Ok((row.into(), plaintext))
    }

    pub async fn get(&self, key_id: Uuid) -> Result<Option<KeyInfo>, StoreError> {
        Ok(api_key::Entity::find_by_id(key_id).one(self.db).await?.map(KeyInfo::from))
    }

    /// Revokes a key; revoking a revoked key keeps its first revocation time.
    pub async fn revoke(&self, key_id: Uuid) -> Result<(), StoreError> {
        let row = api_key::Entity::find_by_id(key_id).one(self.db).await?.ok_or_else(|| StoreError::NotFound(format!("key {key_id}")))?;
        if row.revoked_at.is_some() {
            return Ok(());
        }
        let mut active: api_key::ActiveModel = row.into();
        active.revoked_at = Set(Some(Utc::now()));
        active.update(self.db).await?;
        Ok(())
    }

    pub async fn list(&self, tenant: Option<TenantId>) -> Result<Vec<ApiKeyRow>, StoreError> {
        let mut query = api_key::Entity::find().order_by_asc(api_key::Column::CreatedAt);
        if let Some(tenant) = tenant {
            query = query.filter(api_key::Column::TenantId.eq(tenant.0));
        }
        Ok(query.all(self.db).await?.records())
    }

    /// Generates an operator key assigned to `tenants` (at least one); key and assignments are
    /// stored in one transaction.
    pub async fn create_operator(&self, label: &str, tenants: &[TenantId]) -> Result<(KeyInfo, String), StoreError> {
        if tenants.is_empty() {
            return Err(StoreError::Invalid("operator keys need at least one tenant".into()));
        }
        let plaintext = generate_key();
        let id = Uuid::new_v4();
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let row = api_key::ActiveModel {
            id: Set(id),
            tenant_id: Set(None),
            prefix: Set(key_prefix(&plaintext)),
            key_hash: Set(hash_key(&plaintext)),
            role: Set(ApiRole::Operator.as_str().to_owned()),
            label: Set(label.to_owned()),
            created_at: Set(now),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let mut seen = std::collections::BTreeSet::new();
        for tenant in tenants.iter().filter(|t| seen.insert(t.0)) {
            operator_tenant::ActiveModel { key_id: Set(id), tenant_id: Set(tenant.0), created_at: Set(now) }.insert(&txn).await?;
        }
        txn.commit().await?;
        Ok((row.into(), plaintext))
    }

    /// The tenants an operator key is assigned to (empty for any other key).
    pub async fn operator_tenants(&self, key_id: Uuid) -> Result<Vec<TenantId>, StoreError> {
        Ok(operator_tenant::Entity::find()
            .filter(operator_tenant::Column::KeyId.eq(key_id))
            .order_by_asc(operator_tenant::Column::CreatedAt)
            .all(self.db)
            .await?
            .into_iter()
            .map(|row| TenantId(row.tenant_id))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DbOptions, Store};

    /// An unknown key costs the same whether or not some stored key shares its prefix: the
    /// lookup reads the same (no) rows, so its timing cannot tell which prefixes exist.
    #[tokio::test]
    async fn an_unknown_key_reads_no_rows_whether_or_not_its_prefix_exists() {
        let store = Store::connect(&DbOptions { max_connections: 1, ..DbOptions::new("sqlite::memory:") }).await.expect("connect");
        store.migrate().await.expect("migrate");
        let keys = store.keys();
        let stored = "tria_AAAAAAA_stored_key_0000001";
        keys.insert(None, ApiRole::Admin, "stored", stored).await.expect("insert");
        let same_prefix = "tria_AAAAAAA_unknown_key_000001";
        let other_prefix = "tria_BBBBBBB_unknown_key_000001";
        assert_eq!(key_prefix(same_prefix), key_prefix(stored));
        assert_ne!(key_prefix(other_prefix), key_prefix(stored));

        let read = |key: &'static str| async move { keys.candidates(key).await.expect("lookup").len() };
        assert_eq!(read(same_prefix).await, 0, "an unknown key whose prefix exists reads rows");
        assert_eq!(read(other_prefix).await, 0);
        assert_eq!(read(stored).await, 1);
        assert!(keys.authenticate(same_prefix).await.expect("auth").is_none());
        assert!(keys.authenticate(other_prefix).await.expect("auth").is_none());
        assert_eq!(keys.authenticate(stored).await.expect("auth").map(|k| k.role), Some(ApiRole::Admin));
    }
}
