//! Redis wrapped with memory: when the primary errors or misses its deadline the wrapper serves
//! from memory, reports itself degraded, probes the primary in the background and switches back
//! when it answers again. One log line per transition, never one per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;

use crate::{BackendStats, CacheBackend, CacheError, CacheHealth, MemoryCache};

/// Invalidations made while degraded, replayed on the primary before switching back so that a
/// tenant flushed during an outage does not get its stale answers back afterwards.
#[derive(Clone, Debug)]
enum Pending {
    Delete(String),
    DeleteMatching(String),
    /// Scope, pattern.
    DeleteMatchingWithin(String, String),
    Incr(String),
}

/// How many invalidations an outage may queue; past that the oldest are dropped.
const MAX_PENDING: usize = 10_000;

struct Inner {
    primary: Arc<dyn CacheBackend>,
    memory: MemoryCache,
    degraded: AtomicBool,
    last_error: Mutex<String>,
    pending: Mutex<Vec<Pending>>,
    fallbacks: AtomicU64,
    transitions: AtomicU64,
}

/// A [`CacheBackend`] that is never down while memory works.
pub struct FallbackCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FallbackCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackCache")
            .field("primary", &self.inner.primary.name())
            .field("degraded", &self.inner.degraded.load(Ordering::Relaxed))
            .finish()
    }
}

impl FallbackCache {
    /// Wraps `primary`; `memory` serves while it is away. Probes every `probe_interval` while
    /// degraded. Must be called inside a Tokio runtime (the probe is a task).
    pub fn new(primary: Arc<dyn CacheBackend>, memory: MemoryCache, probe_interval: Duration) -> Self {
        let inner = Arc::new(Inner {
            primary,
            memory,
            degraded: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            pending: Mutex::new(Vec::new()),
            fallbacks: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
        });
        tokio::spawn(probe(Arc::downgrade(&inner), probe_interval));
        Self { inner }
    }

    /// Starts degraded (e.g. Redis did not answer at start-up); the probe switches back.
    pub fn start_degraded(&self, reason: &str) {
        self.inner.mark_degraded(&CacheError::Unavailable(reason.to_owned()));
    }

    /// The memory store used while degraded.
    pub fn memory(&self) -> &MemoryCache {
        &self.inner.memory
    }
}

impl Inner {
    fn mark_degraded(&self, err: &CacheError) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = err.to_string();
        }
        if !self.degraded.swap(true, Ordering::AcqRel) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(backend = self.primary.name(), error = %err, "cache degraded: serving from memory until the primary answers");
        }
    }

    fn queue(&self, op: Pending) {
        if let Ok(mut pending) = self.pending.lock() {
            if pending.len() >= MAX_PENDING {
                pending.remove(0);
            }
            pending.push(op);
        }
    }

    /// Serves from memory while degraded, counting it. A primary that knows it is unavailable
    /// (its connection dropped) degrades the cache here, before any command waits on it.
    fn degraded_now(&self) -> bool {
        let mut degraded = self.degraded.load(Ordering::Acquire);
        if !degraded && !self.primary.is_available() {
            self.mark_degraded(&CacheError::Unavailable(format!("{} connection lost", self.primary.name())));
            degraded = true;
        }
        if degraded {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        degraded
    }

    fn failed(&self, err: &CacheError) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.mark_degraded(err);
    }

    /// Replays queued invalidations and switches back; keeps degraded if the primary fails again.
    async fn recover(&self) {
        let ops = self.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        for (i, op) in ops.iter().enumerate() {
            let result = match op {
                Pending::Delete(key) => self.primary.delete(key).await,
                Pending::DeleteMatching(pattern) => self.primary.delete_matching(pattern).await.map(|_| ()),
                Pending::DeleteMatchingWithin(scope, pattern) => self.primary.delete_matching_within(scope, pattern).await.map(|_| ()),
                Pending::Incr(key) => self.primary.incr(key).await.map(|_| ()),
            };
            if result.is_err() {
                if let Ok(mut pending) = self.pending.lock() {
                    let rest: Vec<_> = ops[i..].to_vec();
                    pending.splice(0..0, rest);
                }
                return;
            }
        }
        if self.degraded.swap(false, Ordering::AcqRel) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(backend = self.primary.name(), "cache recovered: serving from the primary again");
        }
    }
}

async fn probe(inner: Weak<Inner>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.degraded.load(Ordering::Acquire) && inner.primary.health().await == CacheHealth::Ok {
            inner.recover().await;
        }
    }
}

#[async_trait]
impl CacheBackend for FallbackCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let inner = &self.inner;
        if !inner.degraded_now() {
            match inner.primary.get(key).await {
                Ok(value) => return Ok(value),
                Err(e) => inner.failed(&e),
            }
        }
        inner.memory.get(key).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let inner = &self.inner;
        // Written through to memory so an outage starts warm.
        if !inner.degraded_now()
            && let Err(e) = inner.primary.set(key, value.clone(), ttl).await
        {
            inner.failed(&e);
        }
        inner.memory.set(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let inner = &self.inner;
        if inner.degraded_now() {
            inner.queue(Pending::Delete(key.to_owned()));
        } else if let Err(e) = inner.primary.delete(key).await {
            inner.failed(&e);
            inner.queue(Pending::Delete(key.to_owned()));
        }
        inner.memory.delete(key).await
    }

    async fn delete_matching(&self, pattern: &str) -> Result<u64, CacheError> {
        let inner = &self.inner;
        let mut removed = 0;
        if inner.degraded_now() {
            inner.queue(Pending::DeleteMatching(pattern.to_owned()));
        } else {
            match inner.primary.delete_matching(pattern).await {
                Ok(n) => removed = n,
                Err(e) => {
                    inner.failed(&e);
                    inner.queue(Pending::DeleteMatching(pattern.to_owned()));
                }
            }
        }
        Ok(removed.max(inner.memory.delete_matching(pattern).await?))
    }

    async fn delete_matching_within(&self, scope: &str, pattern: &str) -> Result<u64, CacheError> {
        let inner = &self.inner;
        let pending = || Pending::DeleteMatchingWithin(scope.to_owned(), pattern.to_owned());
        let mut removed = 0;
        if inner.degraded_now() {
            inner.queue(pending());
        } else {
            match inner.primary.delete_matching_within(scope, pattern).await {
                Ok(n) => removed = n,
                Err(e) => {
                    inner.failed(&e);
                    inner.queue(pending());
                }
            }
        }
        Ok(removed.max(inner.memory.delete_matching_within(scope, pattern).await?))
    }

    async fn keys_matching(&self, pattern: &str, limit: usize) -> Result<Vec<String>, CacheError> {
        let inner = &self.inner;
        if !inner.degraded_now() {
            match inner.primary.keys_matching(pattern, limit).await {
                Ok(keys) => return Ok(keys),
                Err(e) => inner.failed(&e),
            }
        }
        inner.memory.keys_matching(pattern, limit).await
    }

    async fn incr(&self, key: &str) -> Result<u64, CacheError> {
        let inner = &self.inner;
        if !inner.degraded_now() {
            match inner.primary.incr(key).await {
                Ok(n) => {
                    // Mirror so an outage continues from the same number.
                    inner.memory.set(key, n.to_string().into_bytes(), COUNTER_TTL).await?;
                    return Ok(n);
                }
                Err(e) => inner.failed(&e),
            }
        }
        inner.queue(Pending::Incr(key.to_owned()));
        inner.memory.incr(key).await
    }

    fn name(&self) -> &'static str {
        "redis+memory"
    }

    async fn health(&self) -> CacheHealth {
        if !self.inner.degraded.load(Ordering::Acquire) && !self.inner.primary.is_available() {
            self.inner.mark_degraded(&CacheError::Unavailable(format!("{} connection lost", self.inner.primary.name())));
        }
        if self.inner.degraded.load(Ordering::Acquire) {
            let why = self.inner.last_error.lock().map(|e| e.clone()).unwrap_or_default();
            CacheHealth::Degraded(format!("{} unavailable ({why}); serving from memory", self.inner.primary.name()))
        } else {
            CacheHealth::Ok
        }
    }

    fn stats(&self) -> BackendStats {
        let memory = self.inner.memory.stats();
        BackendStats {
            fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
            transitions: self.inner.transitions.load(Ordering::Relaxed),
            degraded: self.inner.degraded.load(Ordering::Relaxed),
            ..memory
        }
    }

    fn is_degraded(&self) -> bool {
        self.inner.degraded.load(Ordering::Relaxed) || !self.inner.primary.is_available()
    }

    fn is_shared(&self) -> bool {
        true
    }
}

const COUNTER_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
