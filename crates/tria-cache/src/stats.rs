//! Per-tenant, per-level counters and the serializable report built from them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tria_core::TenantId;

/// Lookup latencies kept per tenant and level for the percentiles.
const SAMPLES: usize = 2048;

/// The levels counters are kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    L1 = 0,
    L2 = 1,
    L3 = 2,
    L4 = 3,
}

impl Level {
    pub(crate) const ALL: [Level; 4] = [Level::L1, Level::L2, Level::L3, Level::L4];
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::L1 => "l1",
            Level::L2 => "l2",
            Level::L3 => "l3",
            Level::L4 => "l4",
        }
    }
}

/// The last [`SAMPLES`] lookup latencies in nanoseconds, lock-free: a relaxed counter picks the
/// slot, so recording costs two uncontended atomics and no lock on the hot L1 path. A reader may
/// see a sample mid-update; percentiles do not need better.
struct Ring {
    samples: Box<[AtomicU32]>,
    next: AtomicUsize,
}

impl Default for Ring {
    fn default() -> Self {
        Self { samples: (0..SAMPLES).map(|_| AtomicU32::new(0)).collect(), next: AtomicUsize::new(0) }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    fallbacks: AtomicU64,
    tokens_saved: AtomicU64,
    latencies: Ring,
}

impl Counters {
    fn record(&self, hit: bool, took: Duration) {
        if hit { &self.hits } else { &self.misses }.fetch_add(1, Ordering::Relaxed);
        let nanos = u32::try_from(took.as_nanos()).unwrap_or(u32::MAX).max(1);
        let i = self.latencies.next.fetch_add(1, Ordering::Relaxed) % SAMPLES;
        self.latencies.samples[i].store(nanos, Ordering::Relaxed);
    }

    fn percentiles(&self) -> (f64, f64) {
        // Zero marks a slot never written.
        let mut sorted: Vec<u32> = self.latencies.samples.iter().map(|s| s.load(Ordering::Relaxed)).filter(|&n| n > 0).collect();
        if sorted.is_empty() {
            return (0.0, 0.0);
        }
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
        };
        (at(0.50), at(0.99))
    }
}

#[derive(Default)]
pub(crate) struct TenantCounters {
    levels: [Counters; 4],
    answers_hit: AtomicU64,
    answers_missed: AtomicU64,
}

/// Every tenant's counters.
#[derive(Default)]
pub(crate) struct StatsRegistry {
    tenants: RwLock<HashMap<TenantId, Arc<TenantCounters>>>,
}

impl StatsRegistry {
    pub(crate) fn tenant(&self, tenant: TenantId) -> Arc<TenantCounters> {
        if let Ok(map) = self.tenants.read()
            && let Some(c) = map.get(&tenant)
        {
            return c.clone();
        }
        match self.tenants.write() {
            Ok(mut map) => map.entry(tenant).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    pub(crate) fn lookup(&self, tenant: TenantId, level: Level, hit: bool, took: Duration) {
        self.tenant(tenant).levels[level as usize].record(hit, took);
    }

    /// A hit: counted, timed and credited with the tokens it saved, under one tenant lookup.
    pub(crate) fn hit(&self, tenant: TenantId, level: Level, took: Duration, tokens: u32) {
        let counters = self.tenant(tenant);
        let level = &counters.levels[level as usize];
        level.record(true, took);
        level.tokens_saved.fetch_add(u64::from(tokens), Ordering::Relaxed);
    }

    pub(crate) fn fallback(&self, tenant: TenantId, level: Level) {
        self.tenant(tenant).levels[level as usize].fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn answer(&self, tenant: TenantId, hit: bool) {
        let t = self.tenant(tenant);
        if hit { &t.answers_hit } else { &t.answers_missed }.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self, tenant: TenantId) {
        if let Ok(mut map) = self.tenants.write() {
            map.remove(&tenant);
        }
    }
}

/// Storage figures a level reports about a tenant, filled in by the cache.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    pub(crate) evictions: u64,
}

/// One level's figures for one tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelStats {
    /// `l1`, `l2`, `l3` or `l4`.
    pub level: String,
    pub enabled: bool,
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: f64,
    pub p50_lookup_us: f64,
    pub p99_lookup_us: f64,
    pub entries: u64,
    pub bytes: u64,
    pub evictions: u64,
    /// Lookups served by memory because Redis was down or slow.
    pub fallbacks: u64,
    pub tokens_saved: u64,
    pub money_saved: f64,
}

/// A tenant's cache report, as `GET /api/v1/metrics/cache` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    pub tenant: String,
    /// `memory` or `redis+memory`.
    pub backend: String,
    /// `ok`, `degraded` or `down`.
    pub health: String,
    pub degraded: bool,
    /// Answers served from any level / all answer lookups.
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: f64,
    pub tokens_saved: u64,
    pub money_saved: f64,
    pub price_per_1k_tokens: f64,
    pub levels: Vec<LevelStats>,
}

fn rate(hits: u64, misses: u64) -> f64 {
    if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 }
}

pub(crate) fn report(
    tenant: TenantId,
    counters: &TenantCounters,
    enabled: [bool; 4],
    usage: [Usage; 4],
    price_per_1k: f64,
    backend: &str,
    health: &str,
) -> CacheStats {
    let money = |tokens: u64| tokens as f64 / 1000.0 * price_per_1k;
    let levels: Vec<LevelStats> = Level::ALL
        .iter()
        .map(|&level| {
            let c = &counters.levels[level as usize];
            let (hits, misses) = (c.hits.load(Ordering::Relaxed), c.misses.load(Ordering::Relaxed));
            let (p50, p99) = c.percentiles();
            let tokens = c.tokens_saved.load(Ordering::Relaxed);
            let u = usage[level as usize];
            LevelStats {
                level: level.as_str().into(),
                enabled: enabled[level as usize],
                hits,
                misses,
                hit_rate: rate(hits, misses),
                p50_lookup_us: p50,
                p99_lookup_us: p99,
                entries: u.entries,
                bytes: u.bytes,
                evictions: u.evictions,
                fallbacks: c.fallbacks.load(Ordering::Relaxed),
                tokens_saved: tokens,
                money_saved: money(tokens),
            }
        })
        .collect();
    let (hits, misses) = (counters.answers_hit.load(Ordering::Relaxed), counters.answers_missed.load(Ordering::Relaxed));
    let tokens_saved = levels.iter().map(|l| l.tokens_saved).sum();
    CacheStats {
        tenant: tenant.to_string(),
        backend: backend.into(),
        health: health.into(),
        degraded: health == "degraded",
        hits,
        misses,
        hit_rate: rate(hits, misses),
        tokens_saved,
        money_saved: money(tokens_saved),
        price_per_1k_tokens: price_per_1k,
        levels,
    }
}
