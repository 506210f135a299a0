//! Tenant generations (part of every key) and invalidation: a whole tenant, a level, a pattern.

use std::time::{Duration, Instant};

use tria_core::TenantId;

use super::AnswerCache;
use crate::CacheError;
use crate::keys;

/// How long a tenant's generation read from Redis is trusted before it is read again; bounds
/// how long another instance's invalidation takes to be seen here.
const GENERATION_REFRESH: Duration = Duration::from_secs(1);

impl AnswerCache {
    /// The tenant's current generation (part of every key).
    pub async fn generation(&self, tenant: TenantId) -> u64 {
        if let Ok(map) = self.generations.read()
            && let Some((generation, read_at)) = map.get(&tenant)
            && (!self.backend().is_shared() || read_at.elapsed() < GENERATION_REFRESH)
        {
            return *generation;
        }
        let stored = match self.backend().get(&keys::generation_key(&self.config.key_prefix, tenant)).await {
            Ok(Some(bytes)) => std::str::from_utf8(&bytes).ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
            Ok(None) => 0,
            // Unknown: keep what we had rather than reset to 0.
            Err(_) => self.generations.read().ok().and_then(|m| m.get(&tenant).map(|g| g.0)).unwrap_or(0),
        };
        self.observe_generation(tenant, stored);
        stored
    }

    fn observe_generation(&self, tenant: TenantId, generation: u64) {
        let previous = self.generations.write().ok().and_then(|mut map| map.insert(tenant, (generation, Instant::now()))).map(|g| g.0);
        if previous.is_some_and(|p| p != generation) {
            // Another instance (or we) invalidated the tenant: its semantic entries are stale.
            self.semantic.clear_tenant(tenant);
            if let Ok(mut loaded) = self.l3_loaded.lock() {
                loaded.remove(&tenant);
            }
        }
    }

    /// Retires every cached value of a tenant in O(1): its generation goes up, so no old key is
    /// ever read again (they expire on their own). Returns the new generation.
    pub async fn invalidate_tenant(&self, tenant: TenantId) -> Result<u64, CacheError> {
        let generation = self.backend().incr(&keys::generation_key(&self.config.key_prefix, tenant)).await?;
        self.observe_generation(tenant, generation);
        self.semantic.clear_tenant(tenant);
        Ok(generation)
    }

    /// Deletes one level of a tenant (`l1`, `l2`, `l3`, `l4`); returns how many shared keys went.
    pub async fn invalidate_level(&self, tenant: TenantId, level: CacheLevelName) -> Result<u64, CacheError> {
        let prefix = &self.config.key_prefix;
        match level {
            CacheLevelName::L1 => {
                self.l1.remove_tenant(tenant);
                Ok(0)
            }
            CacheLevelName::L2 => {
                self.l1.remove_tenant(tenant);
                self.backend().delete_matching(&keys::level_pattern(prefix, tenant, "l2")).await
            }
            CacheLevelName::L3 => {
                self.semantic.clear_tenant(tenant);
                if let Ok(mut l) = self.l3_loaded.lock() {
                    l.remove(&tenant);
                }
                self.backend().delete_matching(&keys::level_pattern(prefix, tenant, "l3")).await
            }
            CacheLevelName::L4 => self.backend().delete_matching(&format!("{prefix}:{tenant}:l4-*")).await,
        }
    }

    /// Deletes the cache entries matching a Redis glob (`SCAN` + `UNLINK` in Redis), mirrored
    /// in L1; the in-process L3 index is dropped and reloads from the backend. Only cache entry
    /// keys are candidates ([`keys::entry_scope`]): even `*` leaves the rest of the Redis
    /// database alone — rate-limit and budget keys, generation counters, other applications'.
    pub async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        self.l1.remove_matching(pattern);
        self.semantic.clear();
        if let Ok(mut l) = self.l3_loaded.lock() {
            l.clear();
        }
        self.backend().delete_matching_within(&keys::entry_scope(&self.config.key_prefix), pattern).await
    }
}

/// A level to invalidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheLevelName {
    L1,
    L2,
    L3,
    L4,
}

impl std::str::FromStr for CacheLevelName {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "l1" => Ok(Self::L1),
            "l2" => Ok(Self::L2),
            "l3" => Ok(Self::L3),
            "l4" => Ok(Self::L4),
            other => Err(CacheError::Config(format!("unknown cache level `{other}` (l1, l2, l3, l4)"))),
        }
    }
}
