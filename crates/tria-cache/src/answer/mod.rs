//! [`AnswerCache`]: the four levels in front of the chat pipeline.
//!
//! - L1: typed, in-process, exact (the same keys as L2, decoded once).
//! - L2: the shared backend (Redis with memory fallback, or memory alone), exact.
//! - L3: semantic, per tenant and intent, never for customer-specific intents.
//! - L4: components (intent verdicts, retrievals, embeddings) under model/prompt versions.
//!
//! Exact keys are the tenant's generation + normalised message + the intents of the last turns.
//! Customer-specific answers live under a second key that adds who is asking and their state
//! (open orders); the shared key then only holds a marker pointing there, so one lookup decides.
//!
//! One file per concern, each adding its part of [`AnswerCache`]'s methods: the exact levels
//! and filling them (`exact`), the semantic level (`semantic`), the component caches
//! (`component`), single flight over a miss (`single_flight`), tenant generations and
//! invalidation (`invalidation`) and the figures (`stats`).

mod basis;
mod component;
mod exact;
mod invalidation;
mod semantic;
mod single_flight;
mod stats;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::Rng;
use tria_core::{Answer, CacheLevel, IntentLabel, TenantId};

pub use basis::{AnswerBasis, AnyBasis};
pub use component::Component;
pub use exact::ExactHit;
pub use invalidation::CacheLevelName;
pub use semantic::Fresh;
pub use single_flight::Fill;

use crate::bus::{Inbox, InvalidationBus};
use crate::l1::L1;
use crate::stats::StatsRegistry;
use crate::{CacheBackend, CacheConfig, CacheError, CacheHealth, FallbackCache, MemoryCache, RedisCache, SemanticIndex, SingleFlight};

/// The longest an invalidation's publication may take (the command timeout is for lookups,
/// tens of milliseconds; an invalidation is rare and worth waiting a little for).
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);

/// Roughly how many bytes `answer` holds in memory, for the in-process levels' byte budgets.
pub(crate) fn approx_bytes(answer: &Answer) -> usize {
    64 + answer.reply.len() + answer.sources.iter().map(|s| 32 + s.id.len() + s.title.len() + s.heading.len()).sum::<usize>()
}

/// The conversation facts that change an answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerContext {
    /// Intents of the last turns, oldest first (already cut to `context_turns` or not: the
    /// cache keeps the last `context_turns`).
    pub recent_intents: Vec<IntentLabel>,
    /// Whom a customer-specific answer would be about: the customer, or the conversation for an
    /// anonymous one. `None`: customer-specific answers are not cached at all.
    pub scope: Option<String>,
    /// Customer state that changes answers, e.g. `ORD-1001:confirmed` for each open order.
    pub customer_state: Vec<String>,
}

/// One lookup: who, what, in which context.
#[derive(Clone, Copy, Debug)]
pub struct AnswerQuery<'a> {
    pub tenant: TenantId,
    pub message: &'a str,
    pub context: &'a AnswerContext,
}

enum Shared {
    Memory(Arc<MemoryCache>),
    Redis(Arc<FallbackCache>),
    Custom(Arc<dyn CacheBackend>),
}

/// The four-level answer cache. Share it behind an `Arc`.
pub struct AnswerCache {
    config: CacheConfig,
    l1: L1,
    shared: Shared,
    semantic: SemanticIndex,
    l3_loaded: Mutex<HashSet<TenantId>>,
    generations: RwLock<HashMap<TenantId, (u64, Instant)>>,
    flight: SingleFlight<(Arc<Answer>, CacheLevel)>,
    stats: StatsRegistry,
    written: [stats::Written; 4],
    /// With Redis: the other replicas hear of this one's invalidations, and this one's inbox
    /// of theirs is applied before each read (`invalidation.rs`).
    bus: Option<(Arc<InvalidationBus>, Arc<Inbox>)>,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache").field("backend", &self.backend().name()).finish_non_exhaustive()
    }
}

/// Spreads expiry ±10% so entries written together do not expire together.
fn jitter(ttl: Duration) -> Duration {
    let factor = rand::rng().random_range(0.9..=1.1);
    ttl.mul_f64(factor).max(Duration::from_millis(1))
}

fn elapsed(since: Instant) -> Duration {
    since.elapsed()
}

impl AnswerCache {
    /// Memory only, default settings: what `Agent::builder` uses when given nothing.
    pub fn memory_only() -> Self {
        Self::in_memory(CacheConfig::default())
    }

    /// Memory only with these settings (`redis_url` is ignored).
    pub fn in_memory(config: CacheConfig) -> Self {
        let memory = Arc::new(MemoryCache::new(config.memory_bytes));
        Self::build(config, Shared::Memory(memory))
    }

    /// Over any backend (tests, custom stores).
    pub fn with_backend(config: CacheConfig, backend: Arc<dyn CacheBackend>) -> Self {
        Self::build(config, Shared::Custom(backend))
    }

    /// Memory only when `config.redis_url` is `None`; otherwise Redis wrapped with memory. Waits
    /// up to `connect_wait` for Redis and starts degraded (still serving) if it does not answer.
    /// Needs a Tokio runtime.
    pub async fn connect(config: CacheConfig, connect_wait: Duration) -> Result<Self, CacheError> {
        let Some(url) = config.redis_url.clone() else { return Ok(Self::in_memory(config)) };
        let redis = RedisCache::connect(&url, config.redis_pool_size, config.redis_timeout)?;
        let connected = redis.wait_connected(connect_wait).await;
        let memory = MemoryCache::new(config.memory_bytes);
        let fallback = FallbackCache::with_policy(Arc::new(redis), memory, config.probe_interval, config.degrade);
        if let Err(e) = connected {
            fallback.start_degraded(&format!("not reachable at start-up: {e}"));
        }
        let bus = InvalidationBus::connect(&url, &config.key_prefix, config.redis_timeout.max(PUBLISH_TIMEOUT))?;
        let mut cache = Self::build(config, Shared::Redis(Arc::new(fallback)));
        cache.bus = Some((bus.clone(), bus.subscribe()));
        Ok(cache)
    }

    fn build(config: CacheConfig, shared: Shared) -> Self {
        let l1 = L1::new(config.l1_bytes);
        Self {
            semantic: SemanticIndex::new(config.l3.max_entries_per_tenant),
            config,
            l1,
            shared,
            l3_loaded: Mutex::new(HashSet::new()),
            generations: RwLock::new(HashMap::new()),
            flight: SingleFlight::default(),
            stats: StatsRegistry::default(),
            written: Default::default(),
            bus: None,
        }
    }

    /// The channel this cache's invalidations reach other replicas on (with Redis), for other
    /// per-process state to share it (the server's verified keys).
    pub fn invalidation_bus(&self) -> Option<&Arc<InvalidationBus>> {
        self.bus.as_ref().map(|(bus, _)| bus)
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The shared (L2/L3-persistence/L4) backend.
    pub fn backend(&self) -> &dyn CacheBackend {
        match &self.shared {
            Shared::Memory(m) => m.as_ref(),
            Shared::Redis(r) => r.as_ref(),
            Shared::Custom(c) => c.as_ref(),
        }
    }

    /// `ok`, or `degraded` while Redis is away and memory serves; never `down` on its own.
    pub async fn health(&self) -> CacheHealth {
        self.backend().health().await
    }
}
