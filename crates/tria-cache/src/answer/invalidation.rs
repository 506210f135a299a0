//! Tenant generations (part of every key) and invalidation: a whole tenant, a level, a pattern.
//! With Redis each invalidation is also published ([`crate::InvalidationBus`]) and other
//! replicas apply it to their in-process state (L1, the L3 index, the generation they last
//! read) before their next read; the generation is also re-read every second regardless.

use std::time::{Duration, Instant};

use tria_core::TenantId;

use super::AnswerCache;
use crate::keys;
use crate::{CacheError, Invalidation};

/// How long a tenant's generation read from Redis is trusted before it is read again; bounds
/// how long another instance's invalidation takes to be seen here.
const GENERATION_REFRESH: Duration = Duration::from_secs(1);

impl AnswerCache {
    /// The tenant's current generation (part of every key).
    pub async fn generation(&self, tenant: TenantId) -> u64 {
        self.catch_up();
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
        self.l1.remove_tenant(tenant);
        self.announce(Invalidation::CacheTenant { tenant }).await;
        Ok(generation)
    }

    /// Deletes one level of a tenant (`l1`, `l2`, `l3`, `l4`); returns how many shared keys went.
    pub async fn invalidate_level(&self, tenant: TenantId, level: CacheLevelName) -> Result<u64, CacheError> {
        let removed = self.invalidate_level_here(tenant, level).await;
        self.announce(Invalidation::CacheLevel { tenant, level: level.as_str().to_owned() }).await;
        removed
    }

    async fn invalidate_level_here(&self, tenant: TenantId, level: CacheLevelName) -> Result<u64, CacheError> {
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
        self.forget_matching(pattern);
        let removed = self.backend().delete_matching_within(&keys::entry_scope(&self.config.key_prefix), pattern).await;
        self.announce(Invalidation::CachePattern { pattern: pattern.to_owned() }).await;
        removed
    }

    fn forget_matching(&self, pattern: &str) {
        self.l1.remove_matching(pattern);
        self.semantic.clear();
        if let Ok(mut l) = self.l3_loaded.lock() {
            l.clear();
        }
    }

    fn forget_l3(&self, tenant: TenantId) {
        self.semantic.clear_tenant(tenant);
        if let Ok(mut l) = self.l3_loaded.lock() {
            l.remove(&tenant);
        }
    }

    /// Tells the other replicas (with Redis); they apply it in [`Self::catch_up`].
    async fn announce(&self, what: Invalidation) {
        if let Some((bus, _)) = &self.bus {
            bus.publish(what).await;
        }
    }

    /// Applies what other replicas invalidated since the last read: their shared-level deletes
    /// are already done (Redis is shared), so only this process's state is dropped.
    pub(crate) fn catch_up(&self) {
        let Some((_, inbox)) = &self.bus else { return };
        for what in inbox.take() {
            match what {
                Invalidation::CacheTenant { tenant } => {
                    // Read again on the next lookup: the new generation, and nothing old served.
                    if let Ok(mut map) = self.generations.write() {
                        map.remove(&tenant);
                    }
                    self.l1.remove_tenant(tenant);
                    self.forget_l3(tenant);
                }
                Invalidation::CacheLevel { tenant, level } => match level.parse::<CacheLevelName>() {
                    Ok(CacheLevelName::L1 | CacheLevelName::L2) => self.l1.remove_tenant(tenant),
                    Ok(CacheLevelName::L3) => self.forget_l3(tenant),
                    // Components live only in the shared backend.
                    Ok(CacheLevelName::L4) => {}
                    Err(_) => {
                        self.l1.remove_tenant(tenant);
                        self.forget_l3(tenant);
                    }
                },
                Invalidation::CachePattern { pattern } => self.forget_matching(&pattern),
                Invalidation::Everything => {
                    if let Ok(mut map) = self.generations.write() {
                        map.clear();
                    }
                    self.forget_matching("*");
                }
                Invalidation::Auth => {}
            }
        }
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

impl CacheLevelName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "l1",
            Self::L2 => "l2",
            Self::L3 => "l3",
            Self::L4 => "l4",
        }
    }
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
