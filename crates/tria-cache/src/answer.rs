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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tria_core::{CacheLevel, IntentLabel, SourceRef, TenantId};

use crate::envelope::{self, Kind};
use crate::guard::entity_signature;
use crate::keys::{self, digest, normalize};
use crate::l1::{L1, L1Key, L1Slot};
use crate::stats::{self, Level, StatsRegistry, Usage};
use crate::{
    CacheBackend, CacheConfig, CacheError, CacheHealth, CacheStats, FallbackCache, MemoryCache, RedisCache, SemanticEntry, SemanticIndex,
    SemanticQuery, SingleFlight,
};

/// How long a tenant's generation read from Redis is trusted before it is read again; bounds
/// how long another instance's invalidation takes to be seen here.
const GENERATION_REFRESH: Duration = Duration::from_secs(1);
/// How many keys a stats call counts in Redis per level.
const STATS_SCAN_LIMIT: usize = 100_000;

/// A reply as the cache keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub reply: String,
    pub intent: IntentLabel,
    pub confidence: f32,
    pub sources: Vec<SourceRef>,
    /// LLM tokens (prompt + completion) the answer took when it was generated, counted with
    /// cl100k; what a hit saves.
    pub tokens: u32,
}

impl CachedAnswer {
    pub fn new(reply: impl Into<String>, intent: IntentLabel, confidence: f32) -> Self {
        Self { reply: reply.into(), intent, confidence, sources: Vec::new(), tokens: 0 }
    }

    pub fn with_sources(mut self, sources: Vec<SourceRef>) -> Self {
        self.sources = sources;
        self
    }

    pub fn with_tokens(mut self, tokens: u32) -> Self {
        self.tokens = tokens;
        self
    }

    pub(crate) fn approx_bytes(&self) -> usize {
        64 + self.reply.len() + self.sources.iter().map(|s| 32 + s.id.len() + s.title.len() + s.heading.len()).sum::<usize>()
    }
}

/// What sits under an exact key.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum ExactSlot {
    Answer(CachedAnswer),
    /// The answer to this message depends on who asks: look under the scoped key.
    CustomerScoped,
}

/// An L3 entry as persisted to Redis.
#[derive(Serialize, Deserialize)]
struct SemanticRecord {
    intent: IntentLabel,
    text: String,
    vector: Vec<f32>,
    entities: Vec<String>,
    evidence: Vec<(String, f32)>,
    answer: CachedAnswer,
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

/// An answer found in the cache and the level that had it.
#[derive(Clone, Debug)]
pub struct ExactHit {
    pub answer: Arc<CachedAnswer>,
    pub level: CacheLevel,
}

/// What a computation hands back to [`AnswerCache::get_or_compute`].
#[derive(Clone, Debug)]
pub struct Fill {
    pub answer: Arc<CachedAnswer>,
    /// `CacheLevel::L3` when the computation found a paraphrase; `None` when it generated.
    pub level: CacheLevel,
    /// The message's embedding, to index a fresh answer in L3.
    pub vector: Option<Vec<f32>>,
    /// The answer evidence nearest to the message ([`crate::Evidence`]), stored with it in L3
    /// (empty: none, and then only the plain threshold can match it).
    pub evidence: Vec<(String, f32)>,
    /// False for answers that must not be cached (errors, "I don't know", hand-offs).
    pub cacheable: bool,
}

/// What L3 indexes a freshly generated answer by.
#[derive(Clone, Copy, Debug)]
pub struct Fresh<'a> {
    /// The message's embedding.
    pub vector: &'a [f32],
    /// The answer evidence nearest to the message ([`crate::Evidence`]).
    pub evidence: &'a crate::Evidence,
}

/// The component caches of L4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    Intent,
    Retrieval,
    Embedding,
}

impl Component {
    fn level(self) -> &'static str {
        match self {
            Component::Intent => "l4-intent",
            Component::Retrieval => "l4-retrieval",
            Component::Embedding => "l4-embedding",
        }
    }
}

enum Shared {
    Memory(Arc<MemoryCache>),
    Redis(Arc<FallbackCache>),
    Custom(Arc<dyn CacheBackend>),
}

/// Bytes and count of values written per level, to estimate Redis usage without reading values.
#[derive(Default)]
struct Written {
    count: AtomicU64,
    bytes: AtomicU64,
}

/// The four-level answer cache. Share it behind an `Arc`.
pub struct AnswerCache {
    config: CacheConfig,
    l1: L1,
    shared: Shared,
    semantic: SemanticIndex,
    l3_loaded: Mutex<HashSet<TenantId>>,
    generations: RwLock<HashMap<TenantId, (u64, Instant)>>,
    flight: SingleFlight<(Arc<CachedAnswer>, CacheLevel)>,
    stats: StatsRegistry,
    written: [Written; 4],
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
        Ok(Self::build(config, Shared::Redis(Arc::new(fallback))))
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
        }
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

    // ----- generations -------------------------------------------------------------------

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

    // ----- exact levels (L1, L2) ----------------------------------------------------------

    fn exact_keys<'a>(&self, q: &AnswerQuery<'a>, generation: u64) -> ExactKeys<'a> {
        let intents = &q.context.recent_intents;
        let recent: Vec<&str> = intents[intents.len().saturating_sub(self.config.context_turns)..].iter().map(|i| i.as_str()).collect();
        ExactKeys {
            tenant: q.tenant,
            generation,
            normalized: normalize(q.message),
            recent: recent.join(","),
            context: q.context,
            state: std::sync::OnceLock::new(),
        }
    }

    fn l1_get<const N: usize>(&self, (key, parts): &(L1Key, [&str; N])) -> Option<L1Slot> {
        self.l1.get(key, parts.iter().copied())
    }

    fn l1_put<const N: usize>(&self, (key, parts): (L1Key, [&str; N]), shared_key: &str, slot: L1Slot) {
        if self.config.l1.enabled {
            self.l1.put(key, parts, shared_key, slot, jitter(self.config.l1.ttl));
        }
    }

    async fn l2_get(&self, tenant: TenantId, key: &str) -> Option<ExactSlot> {
        if self.backend().is_degraded() {
            self.stats.fallback(tenant, Level::L2);
        }
        let bytes = self.backend().get(key).await.ok()??;
        match envelope::decode::<ExactSlot>(Kind::Exact, &bytes) {
            Ok(slot) => Some(slot),
            Err(e) => {
                tracing::warn!(key, error = %e, "undecodable cache value dropped");
                let _ = self.backend().delete(key).await;
                None
            }
        }
    }

    async fn l2_put(&self, key: &str, slot: &ExactSlot) {
        if !self.config.l2.enabled {
            return;
        }
        if let Ok(bytes) = envelope::encode(Kind::Exact, slot) {
            self.note_written(Level::L2, bytes.len());
            let _ = self.backend().set(key, bytes, jitter(self.config.l2.ttl)).await;
        }
    }

    fn note_written(&self, level: Level, bytes: usize) {
        let w = &self.written[level as usize];
        w.count.fetch_add(1, Ordering::Relaxed);
        w.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn hit(&self, tenant: TenantId, level: Level, answer: &CachedAnswer, started: Instant) {
        self.stats.hit(tenant, level, elapsed(started), answer.tokens);
    }

    /// L1 then L2. Misses and undecodable values are `None`; errors never surface. An L1 hit
    /// builds no string and takes no lock beyond the cache shard's.
    pub async fn lookup_exact(&self, q: &AnswerQuery<'_>) -> Option<ExactHit> {
        if !self.config.l1.enabled && !self.config.l2.enabled {
            return None;
        }
        let started = Instant::now();
        let generation = self.generation(q.tenant).await;
        let keys = self.exact_keys(q, generation);

        if self.config.l1.enabled {
            let answer = match self.l1_get(&keys.l1_shared(&self.l1)) {
                Some(L1Slot::Answer(a)) => Some(a),
                Some(L1Slot::CustomerScoped) => keys.l1_scoped(&self.l1).and_then(|k| match self.l1_get(&k) {
                    Some(L1Slot::Answer(a)) => Some(a),
                    _ => None,
                }),
                None => None,
            };
            if let Some(answer) = answer {
                self.hit(q.tenant, Level::L1, &answer, started);
                return Some(ExactHit { answer, level: CacheLevel::L1 });
            }
            self.stats.lookup(q.tenant, Level::L1, false, elapsed(started));
        }

        if self.config.l2.enabled {
            let l2_started = Instant::now();
            let prefix = &self.config.key_prefix;
            let shared = keys.l2_shared(prefix);
            let found = match self.l2_get(q.tenant, &shared).await {
                Some(ExactSlot::Answer(a)) => {
                    let a = Arc::new(a);
                    self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::Answer(a.clone()));
                    Some(a)
                }
                Some(ExactSlot::CustomerScoped) => match (keys.l2_scoped(prefix), keys.l1_scoped(&self.l1)) {
                    (Some(scoped), Some(l1_scoped)) => match self.l2_get(q.tenant, &scoped).await {
                        Some(ExactSlot::Answer(a)) => {
                            let a = Arc::new(a);
                            self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::CustomerScoped);
                            self.l1_put(l1_scoped, &scoped, L1Slot::Answer(a.clone()));
                            Some(a)
                        }
                        _ => None,
                    },
                    _ => None,
                },
                None => None,
            };
            if let Some(answer) = found {
                self.hit(q.tenant, Level::L2, &answer, l2_started);
                return Some(ExactHit { answer, level: CacheLevel::L2 });
            }
            self.stats.lookup(q.tenant, Level::L2, false, elapsed(l2_started));
        }
        None
    }

    // ----- semantic level (L3) ------------------------------------------------------------

    /// A paraphrase's answer within the tenant and intent, if one is similar enough and
    /// mentions the same entities. Customer-specific intents always miss. Same as
    /// [`Self::lookup_semantic_with`] without an evidence signal.
    pub async fn lookup_semantic(&self, tenant: TenantId, intent: IntentLabel, message: &str, vector: &[f32]) -> Option<Arc<CachedAnswer>> {
        self.lookup_semantic_with(tenant, intent, message, vector, &[]).await
    }

    /// Like [`Self::lookup_semantic`], with the answer evidence nearest to `message` (best
    /// first, [`crate::Evidence`]): when a stored paraphrase selected the same evidence, the
    /// lower evidence threshold applies ([`SemanticConfig::rule`](crate::SemanticConfig::rule)).
    pub async fn lookup_semantic_with(
        &self,
        tenant: TenantId,
        intent: IntentLabel,
        message: &str,
        vector: &[f32],
        evidence: &crate::Evidence,
    ) -> Option<Arc<CachedAnswer>> {
        if !self.config.l3.enabled || intent.is_customer_specific() {
            return None;
        }
        let started = Instant::now();
        self.generation(tenant).await;
        self.ensure_l3_loaded(tenant).await;
        let entities = entity_signature(message);
        let query = SemanticQuery { vector, message, entities: &entities, evidence };
        let hit = self.semantic.search(tenant, intent, &query, self.config.l3.rule());
        match hit {
            Some(hit) => {
                self.hit(tenant, Level::L3, &hit.answer, started);
                Some(hit.answer)
            }
            None => {
                self.stats.lookup(tenant, Level::L3, false, elapsed(started));
                None
            }
        }
    }

    /// Loads the tenant's persisted L3 entries once per generation (shared backends only).
    async fn ensure_l3_loaded(&self, tenant: TenantId) {
        if !self.backend().is_shared() {
            return;
        }
        let first = self.l3_loaded.lock().map(|mut l| l.insert(tenant)).unwrap_or(false);
        if !first {
            return;
        }
        let generation = self.generation(tenant).await;
        let pattern = format!("{}:{tenant}:l3:{}:*", self.config.key_prefix, keys::version(generation));
        let Ok(found) = self.backend().keys_matching(&pattern, self.config.l3.max_entries_per_tenant).await else {
            // Try again on the next lookup.
            if let Ok(mut l) = self.l3_loaded.lock() {
                l.remove(&tenant);
            }
            return;
        };
        let expires_at = Instant::now() + self.config.l3.ttl;
        for key in found {
            let Ok(Some(bytes)) = self.backend().get(&key).await else { continue };
            match envelope::decode::<SemanticRecord>(Kind::Semantic, &bytes) {
                Ok(r) => {
                    let id = key.rsplit(':').next().unwrap_or_default().to_owned();
                    let entry = SemanticEntry {
                        id,
                        text: r.text,
                        vector: &r.vector,
                        entities: r.entities,
                        evidence: r.evidence,
                        answer: Arc::new(r.answer),
                        expires_at,
                    };
                    self.semantic.insert(tenant, r.intent, entry);
                }
                Err(_) => {
                    let _ = self.backend().delete(&key).await;
                }
            }
        }
    }

    async fn semantic_put(&self, tenant: TenantId, message: &str, fresh: &Fresh<'_>, answer: Arc<CachedAnswer>) {
        let Fresh { vector, evidence } = *fresh;
        if !self.config.l3.enabled || answer.intent.is_customer_specific() {
            return;
        }
        let generation = self.generation(tenant).await;
        let normalized = normalize(message);
        let id = digest(["semantic", answer.intent.as_str(), &normalized]);
        let entities = entity_signature(message);
        let ttl = jitter(self.config.l3.ttl);
        let entry = SemanticEntry {
            id: id.clone(),
            text: message.to_owned(),
            vector,
            entities: entities.clone(),
            evidence: evidence.to_vec(),
            answer: answer.clone(),
            expires_at: Instant::now() + ttl,
        };
        self.semantic.insert(tenant, answer.intent, entry);
        if self.backend().is_shared() {
            let record = SemanticRecord {
                intent: answer.intent,
                text: message.to_owned(),
                vector: vector.to_vec(),
                entities,
                evidence: evidence.to_vec(),
                answer: (*answer).clone(),
            };
            if let Ok(bytes) = envelope::encode(Kind::Semantic, &record) {
                self.note_written(Level::L3, bytes.len());
                let key = keys::key(&self.config.key_prefix, tenant, "l3", generation, &id);
                let _ = self.backend().set(&key, bytes, ttl).await;
            }
        }
    }

    // ----- filling ------------------------------------------------------------------------

    /// Stores a freshly generated answer at the exact levels and, with a vector, at L3.
    /// Customer-specific answers go under the scoped key only (and are not stored at all
    /// without a scope); they never enter L3.
    pub async fn store(&self, q: &AnswerQuery<'_>, answer: Arc<CachedAnswer>, vector: Option<&[f32]>) {
        self.store_with(q, answer, vector.map(|vector| Fresh { vector, evidence: &[] })).await;
    }

    /// [`Self::store`] with the message's answer evidence, for L3's agreement signal.
    pub async fn store_with(&self, q: &AnswerQuery<'_>, answer: Arc<CachedAnswer>, fresh: Option<Fresh<'_>>) {
        let generation = self.generation(q.tenant).await;
        let keys = self.exact_keys(q, generation);
        let prefix = &self.config.key_prefix;
        let shared = keys.l2_shared(prefix);
        if answer.intent.is_customer_specific() {
            let (Some(scoped), Some(l1_scoped)) = (keys.l2_scoped(prefix), keys.l1_scoped(&self.l1)) else { return };
            let marker = ExactSlot::CustomerScoped;
            let slot = ExactSlot::Answer((*answer).clone());
            self.l2_put(&scoped, &slot).await;
            self.l2_put(&shared, &marker).await;
            self.l1_put(l1_scoped, &scoped, L1Slot::Answer(answer.clone()));
            self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::CustomerScoped);
            return;
        }
        let slot = ExactSlot::Answer((*answer).clone());
        self.l2_put(&shared, &slot).await;
        self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::Answer(answer.clone()));
        if let Some(fresh) = fresh {
            self.semantic_put(q.tenant, q.message, &fresh, answer).await;
        }
    }

    /// Exact lookup, then `compute` under single-flight: concurrent identical misses run it
    /// once and share the result. Cacheable results are stored before they are returned.
    pub async fn get_or_compute<F, Fut, E>(&self, q: &AnswerQuery<'_>, compute: F) -> Result<(Arc<CachedAnswer>, CacheLevel), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fill, E>>,
    {
        if let Some(hit) = self.lookup_exact(q).await {
            self.stats.answer(q.tenant, true);
            return Ok((hit.answer, hit.level));
        }
        // Boxed: the miss path (single flight, computing, storing at every level) is kilobytes
        // of future, and inline it would sit in every lookup's future, hits included.
        Box::pin(async {
            let generation = self.generation(q.tenant).await;
            let keys = self.exact_keys(q, generation);
            let prefix = &self.config.key_prefix;
            let flight_key = keys.l2_scoped(prefix).unwrap_or_else(|| keys.l2_shared(prefix));
            let (value, _computed) = self
                .flight
                .run(&flight_key, || async {
                    let fill = compute().await?;
                    if fill.cacheable {
                        let fresh = match (&fill.vector, fill.level) {
                            (Some(vector), CacheLevel::None) => Some(Fresh { vector, evidence: &fill.evidence }),
                            _ => None,
                        };
                        self.store_with(q, fill.answer.clone(), fresh).await;
                    }
                    Ok((fill.answer, fill.level))
                })
                .await?;
            self.stats.answer(q.tenant, value.1 != CacheLevel::None);
            Ok(value)
        })
        .await
    }

    /// Counts an answer served (from any level) or generated, for the tenant's overall hit rate.
    /// [`Self::get_or_compute`] does this itself.
    pub fn record_answer(&self, tenant: TenantId, from_cache: bool) {
        self.stats.answer(tenant, from_cache);
    }

    // ----- components (L4) ----------------------------------------------------------------

    fn component_key(&self, tenant: TenantId, kind: Component, version: &str, text: &str, generation: u64) -> String {
        keys::key(&self.config.key_prefix, tenant, kind.level(), generation, &digest([version, &normalize(text)]))
    }

    fn component_ttl(&self, kind: Component) -> Duration {
        match kind {
            Component::Intent => self.config.l4_intent_ttl,
            Component::Retrieval => self.config.l4_retrieval_ttl,
            Component::Embedding => self.config.l4_embedding_ttl,
        }
    }

    /// A cached component for `text` under `version` (model or prompt version).
    pub async fn component<T: DeserializeOwned>(&self, tenant: TenantId, kind: Component, version: &str, text: &str) -> Option<T> {
        if !self.config.l4_enabled {
            return None;
        }
        let started = Instant::now();
        let generation = self.generation(tenant).await;
        let key = self.component_key(tenant, kind, version, text, generation);
        if self.backend().is_degraded() {
            self.stats.fallback(tenant, Level::L4);
        }
        let value = match self.backend().get(&key).await {
            Ok(Some(bytes)) => match envelope::decode::<T>(Kind::Component, &bytes) {
                Ok(v) => Some(v),
                Err(_) => {
                    let _ = self.backend().delete(&key).await;
                    None
                }
            },
            _ => None,
        };
        self.stats.lookup(tenant, Level::L4, value.is_some(), elapsed(started));
        value
    }

    pub async fn put_component<T: Serialize>(&self, tenant: TenantId, kind: Component, version: &str, text: &str, value: &T) {
        if !self.config.l4_enabled {
            return;
        }
        let generation = self.generation(tenant).await;
        let key = self.component_key(tenant, kind, version, text, generation);
        if let Ok(bytes) = envelope::encode(Kind::Component, value) {
            self.note_written(Level::L4, bytes.len());
            let _ = self.backend().set(&key, bytes, jitter(self.component_ttl(kind))).await;
        }
    }

    /// Cached component or `compute` (errors are returned and not cached).
    pub async fn component_or<T, F, Fut, E>(&self, tenant: TenantId, kind: Component, version: &str, text: &str, compute: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.component(tenant, kind, version, text).await {
            return Ok(v);
        }
        let value = compute().await?;
        self.put_component(tenant, kind, version, text, &value).await;
        Ok(value)
    }

    // ----- invalidation -------------------------------------------------------------------

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

    // ----- stats --------------------------------------------------------------------------

    /// The tenant's figures as `GET /api/v1/metrics/cache` shows them.
    pub async fn stats(&self, tenant: TenantId) -> CacheStats {
        let prefix = &self.config.key_prefix;
        let (entries, bytes, evictions) = self.l1.usage(tenant);
        let l1 = Usage { entries, bytes, evictions };
        let l2 = self.shared_usage(&keys::level_pattern(prefix, tenant, "l2"), Level::L2).await;
        let l4 = self.shared_usage(&format!("{prefix}:{tenant}:l4-*"), Level::L4).await;
        let (entries, bytes) = self.semantic.usage(tenant);
        let l3 = Usage { entries, bytes, evictions: 0 };
        let health = self.health().await;
        let counters = self.stats.tenant(tenant);
        stats::report(
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

/// The keys of one exact lookup, built only as far as the lookup goes: L1 keys are hashes,
/// L2 keys (strings with a SHA-256 part, shared between instances) only on an L1 miss.
struct ExactKeys<'a> {
    tenant: TenantId,
    generation: u64,
    normalized: String,
    recent: String,
    context: &'a AnswerContext,
    /// The customer state in a fixed order, joined; built on first use.
    state: std::sync::OnceLock<String>,
}

impl ExactKeys<'_> {
    /// The scope and its customer state in a fixed order, when answers may be customer-specific.
    fn scoped_state(&self) -> Option<(&str, &str)> {
        let scope = self.context.scope.as_deref()?;
        let state = self.state.get_or_init(|| {
            let mut state: Vec<&str> = self.context.customer_state.iter().map(String::as_str).collect();
            state.sort_unstable();
            state.join("\n")
        });
        Some((scope, state))
    }

    fn l1_shared(&self, l1: &L1) -> (L1Key, [&str; 3]) {
        let parts = ["exact", self.normalized.as_str(), self.recent.as_str()];
        (l1.key(self.tenant, self.generation, parts.iter().copied()), parts)
    }

    fn l1_scoped(&self, l1: &L1) -> Option<(L1Key, [&str; 5])> {
        let (scope, state) = self.scoped_state()?;
        let parts = ["scoped", self.normalized.as_str(), self.recent.as_str(), scope, state];
        Some((l1.key(self.tenant, self.generation, parts.iter().copied()), parts))
    }

    fn l2_shared(&self, prefix: &str) -> String {
        let hash = digest(["exact", &self.normalized, &self.recent]);
        keys::key(prefix, self.tenant, "l2", self.generation, &hash)
    }

    fn l2_scoped(&self, prefix: &str) -> Option<String> {
        let (scope, state) = self.scoped_state()?;
        let hash = digest(["scoped", &self.normalized, &self.recent, scope, state]);
        Some(keys::key(prefix, self.tenant, "l2", self.generation, &hash))
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
