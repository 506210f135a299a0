//! Verified API keys and their tenants, reused for a short time (`server.auth_cache_ttl_ms`)
//! so a request answered from the cache does not also pay two database reads. Keys are
//! remembered by their SHA-256 digest, never in plain text; unknown or revoked keys are not
//! remembered (every attempt is checked). Revoking a key or changing a tenant through this
//! instance's admin API forgets everything at once; with Redis it is also published on the
//! cache's invalidation channel ([`tria_cache::InvalidationBus`]) and every other instance
//! forgets everything before its next check (milliseconds); without Redis, or while it is
//! away, they see it within the TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use tria_cache::{Inbox, Invalidation, InvalidationBus};
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
    /// Other replicas' revocations and tenant changes, and where this one's go.
    shared: Option<(Arc<InvalidationBus>, Arc<Inbox>)>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").field("ttl", &self.ttl).field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl AuthCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, keys: Cache::new(CAPACITY), tenants: Cache::new(CAPACITY), shared: None }
    }

    /// Hears other replicas' revocations on `bus` and tells them of this one's.
    pub(crate) fn sharing(mut self, bus: Option<&Arc<InvalidationBus>>) -> Self {
        self.shared = bus.map(|bus| (bus.clone(), bus.subscribe()));
        self
    }

    /// Forgets everything if another replica revoked a key or changed a tenant since the
    /// last check (an atomic load when nothing came).
    fn catch_up(&self) {
        let Some((_, inbox)) = &self.shared else { return };
        if inbox.take().iter().any(|what| matches!(what, Invalidation::Auth | Invalidation::Everything)) {
            self.keys.clear();
            self.tenants.clear();
        }
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
        self.catch_up();
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
        self.catch_up();
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

    /// Forgets every key and tenant (after a revocation or a tenant change here), and tells
    /// the other replicas to (published in the background: a revocation's response does not
    /// wait on Redis).
    pub(crate) fn forget_all(&self) {
        self.keys.clear();
        self.tenants.clear();
        if let Some((bus, _)) = &self.shared {
            let bus = bus.clone();
            tokio::spawn(async move { bus.publish(Invalidation::Auth).await });
        }
    }
}
