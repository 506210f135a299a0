//! Verified API keys and their tenants, reused for a short time (`server.auth_cache_ttl_ms`)
//! so a request answered from the cache does not also pay two database reads. Keys are
//! remembered by their SHA-256 digest, never in plain text; unknown or revoked keys are not
//! remembered (every attempt is checked). Revoking a key or changing a tenant through this
//! instance's admin API forgets everything at once; other instances see it within the TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use tria_core::{TenantContext, TenantId};
use tria_store::repo::{AuthenticatedKey, key_digest};
use tria_store::{Store, StoreError};

/// Keys and tenants remembered at most (a few hundred bytes each).
const CAPACITY: usize = 10_000;

pub(crate) struct AuthCache {
    ttl: Duration,
    keys: Cache<[u8; 32], (AuthenticatedKey, Instant)>,
    /// Shared, not cloned per request: a tenant carries its tone, settings and policies.
    tenants: Cache<TenantId, (Arc<TenantContext>, Instant)>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").field("ttl", &self.ttl).field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl AuthCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, keys: Cache::new(CAPACITY), tenants: Cache::new(CAPACITY) }
    }

    /// The key `token` is, when it is valid and not revoked.
    ///
    /// The store's futures are boxed here and in [`Self::tenant`]: each is kilobytes, and inline
    /// they would sit in every authenticated request's future (which axum allocates and moves
    /// per request) though a cache hit never runs them.
    pub(crate) async fn key(&self, store: &Store, token: &str) -> Result<Option<AuthenticatedKey>, StoreError> {
        if self.ttl.is_zero() {
            return Box::pin(store.keys().authenticate(token)).await;
        }
        let digest = key_digest(token);
        if let Some((key, at)) = self.keys.get(&digest)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(key));
        }
        let found = Box::pin(store.keys().authenticate(token)).await?;
        match &found {
            Some(key) => self.keys.insert(digest, (key.clone(), Instant::now())),
            None => {
                self.keys.remove(&digest);
            }
        }
        Ok(found)
    }

    /// The tenant `id`, when it still exists.
    pub(crate) async fn tenant(&self, store: &Store, id: TenantId) -> Result<Option<Arc<TenantContext>>, StoreError> {
        if !self.ttl.is_zero()
            && let Some((tenant, at)) = self.tenants.get(&id)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(tenant));
        }
        let found = Box::pin(store.tenants().get(id)).await?.map(Arc::new);
        if let Some(tenant) = &found
            && !self.ttl.is_zero()
        {
            self.tenants.insert(id, (tenant.clone(), Instant::now()));
        }
        Ok(found)
    }

    /// Forgets every key and tenant (after a revocation or a tenant change here).
    pub(crate) fn forget_all(&self) {
        self.keys.clear();
        self.tenants.clear();
    }
}
