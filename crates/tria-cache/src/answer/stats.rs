//! The figures: hits and lookups per level, and entries and bytes per level for `stats`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tria_core::{Answer, TenantId};

use super::{AnswerCache, Shared, elapsed};
use crate::CacheStats;
use crate::keys;
use crate::stats::{Level, Usage};

/// How many keys a stats call counts in Redis per level.
const STATS_SCAN_LIMIT: usize = 100_000;

/// Bytes and count of values written per level, to estimate Redis usage without reading values.
#[derive(Default)]
pub(super) struct Written {
    count: AtomicU64,
    bytes: AtomicU64,
}

impl AnswerCache {
    pub(super) fn note_written(&self, level: Level, bytes: usize) {
        let w = &self.written[level as usize];
        w.count.fetch_add(1, Ordering::Relaxed);
        w.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn hit(&self, tenant: TenantId, level: Level, answer: &Answer, started: Instant) {
        self.stats.hit(tenant, level, elapsed(started), answer.tokens);
    }

    /// Counts an answer served (from any level) or generated, for the tenant's overall hit rate.
    /// [`Self::get_or_compute`] does this itself.
    pub fn record_answer(&self, tenant: TenantId, from_cache: bool) {
        self.stats.answer(tenant, from_cache);
    }

    /// The tenant's figures as `GET /api/v1/metrics/cache` shows them.
    pub async fn stats(&self, tenant: TenantId) -> CacheStats {
        self.catch_up();
        let prefix = &self.config.key_prefix;
        let (entries, bytes, evictions) = self.l1.usage(tenant);
        let l1 = Usage { entries, bytes, evictions };
        let l2 = self.shared_usage(&keys::level_pattern(prefix, tenant, "l2"), Level::L2).await;
        let l4 = self.shared_usage(&format!("{prefix}:{tenant}:l4-*"), Level::L4).await;
        let (entries, bytes) = self.semantic.usage(tenant);
        let l3 = Usage { entries, bytes, evictions: 0 };
        let health = self.health().await;
        let counters = self.stats.tenant(tenant);
        crate::stats::report(
            tenant,
            &counters,
            [self.config.l1.enabled, self.config.l2.enabled, self.config.l3.enabled, self.config.l4_enabled],
            [l1, l2, l3, l4],
            self.config.price_per_1k_tokens,
            self.backend().name(),
            health.as_str(),
        )
    }

    async fn shared_usage(&self, pattern: &str, level: Level) -> Usage {
        let evictions = self.backend().stats().evictions;
        match &self.shared {
            Shared::Memory(m) => {
                let (entries, bytes) = m.usage_matching(pattern);
                Usage { entries, bytes, evictions }
            }
            _ => {
                let entries = self.backend().keys_matching(pattern, STATS_SCAN_LIMIT).await.map(|k| k.len() as u64).unwrap_or(0);
                let w = &self.written[level as usize];
                let (count, bytes) = (w.count.load(Ordering::Relaxed), w.bytes.load(Ordering::Relaxed));
                let average = bytes.checked_div(count).unwrap_or(0);
                Usage { entries, bytes: entries * average, evictions }
            }
        }
    }

    /// Forgets a tenant's counters (not its entries).
    pub fn reset_stats(&self, tenant: TenantId) {
        self.stats.reset(tenant);
    }
}
