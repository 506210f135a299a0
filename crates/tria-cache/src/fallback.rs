//! Redis wrapped with memory: a command that errors or misses its deadline is served from memory
//! for that request. Health is not one slow reply: the wrapper degrades when the primary reports
//! its connection lost, or when commands fail at a sustained rate ([`DegradePolicy`]); degraded,
//! it serves from memory, probes the primary in the background and switches back when it
//! answers again. One log line per transition, never one per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

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

/// When failed commands degrade a primary whose connection is up: at least `min_failures` of
/// them within the last `window`, and at least `failure_ratio` of the commands in it. A lost
/// connection degrades at once, whatever this says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DegradePolicy {
    pub window: Duration,
    pub min_failures: u32,
    /// 0–1.
    pub failure_ratio: f64,
}

impl Default for DegradePolicy {
    /// A slow moment on a loaded machine (a burst of deadlines missed together) stays a
    /// per-request fallback; half the commands failing for seconds is an outage.
    fn default() -> Self {
        Self { window: Duration::from_secs(5), min_failures: 20, failure_ratio: 0.5 }
    }
}

/// Command outcomes over the policy's window, in [`WINDOW_BUCKETS`] slices that age out whole.
#[derive(Debug)]
struct FailureWindow {
    started: Instant,
    slice: Duration,
    /// Index of the newest slice since `started`.
    newest: u64,
    /// (succeeded, failed) per slice, slice `i` at `i % WINDOW_BUCKETS`.
    counts: [(u32, u32); WINDOW_BUCKETS],
}

const WINDOW_BUCKETS: usize = 10;

impl FailureWindow {
    fn new(window: Duration) -> Self {
        let slice = (window / WINDOW_BUCKETS as u32).max(Duration::from_millis(1));
        Self { started: Instant::now(), slice, newest: 0, counts: [(0, 0); WINDOW_BUCKETS] }
    }

    /// Counts one outcome at `now` and returns the window's (succeeded, failed) totals.
    fn record(&mut self, failed: bool, now: Instant) -> (u32, u32) {
        let index =
            u64::try_from(now.saturating_duration_since(self.started).as_nanos() / self.slice.as_nanos().max(1)).unwrap_or(u64::MAX);
        if index > self.newest {
            let stale = (index - self.newest).min(WINDOW_BUCKETS as u64);
            for i in 1..=stale {
                self.counts[((self.newest + i) % WINDOW_BUCKETS as u64) as usize] = (0, 0);
            }
            self.newest = index;
        }
        let slot = &mut self.counts[(self.newest % WINDOW_BUCKETS as u64) as usize];
        if failed {
            slot.1 = slot.1.saturating_add(1);
        } else {
            slot.0 = slot.0.saturating_add(1);
        }
        self.counts.iter().fold((0u32, 0u32), |(ok, bad), &(o, b)| (ok.saturating_add(o), bad.saturating_add(b)))
    }

    fn clear(&mut self) {
        self.counts = [(0, 0); WINDOW_BUCKETS];
    }
}

impl DegradePolicy {
    /// Whether `failed` of `succeeded + failed` commands in the window is an outage.
    fn exceeded(&self, succeeded: u32, failed: u32) -> bool {
        let total = f64::from(succeeded) + f64::from(failed);
        failed >= self.min_failures.max(1) && f64::from(failed) >= self.failure_ratio * total
    }
}

struct Inner {
    primary: Arc<dyn CacheBackend>,
    memory: MemoryCache,
    degraded: AtomicBool,
    last_error: Mutex<String>,
    pending: Mutex<Vec<Pending>>,
    fallbacks: AtomicU64,
    transitions: AtomicU64,
    policy: DegradePolicy,
    window: Mutex<FailureWindow>,
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
        Self::with_policy(primary, memory, probe_interval, DegradePolicy::default())
    }

    /// [`FallbackCache::new`] with the failure rate that degrades it.
    pub fn with_policy(primary: Arc<dyn CacheBackend>, memory: MemoryCache, probe_interval: Duration, policy: DegradePolicy) -> Self {
        let inner = Arc::new(Inner {
            primary,
            memory,
            degraded: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            pending: Mutex::new(Vec::new()),
            fallbacks: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            policy,
            window: Mutex::new(FailureWindow::new(policy.window)),
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

    fn succeeded(&self) {
        if let Ok(mut window) = self.window.lock() {
            window.record(false, Instant::now());
        }
    }

    /// This request is served from memory. The cache degrades only when the connection is known
    /// lost or failures reach the policy's rate: one slow reply is not an outage.
    fn failed(&self, err: &CacheError) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        if !self.primary.is_available() {
            self.mark_degraded(err);
            return;
        }
        let Ok((succeeded, failed)) = self.window.lock().map(|mut w| w.record(true, Instant::now())) else { return };
        if self.policy.exceeded(succeeded, failed) {
            let window = self.policy.window;
            self.mark_degraded(&CacheError::Unavailable(format!(
                "{failed} of {} commands failed in {window:?}; last: {err}",
                succeeded + failed
            )));
        } else {
            tracing::debug!(backend = self.primary.name(), error = %err, failed, succeeded, "cache command failed; served from memory");
        }
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
        if let Ok(mut window) = self.window.lock() {
            window.clear();
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
                Ok(value) => {
                    inner.succeeded();
                    return Ok(value);
                }
                Err(e) => inner.failed(&e),
            }
        }
        inner.memory.get(key).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let inner = &self.inner;
        // Written through to memory so an outage starts warm.
        if !inner.degraded_now() {
            match inner.primary.set(key, value.clone(), ttl).await {
                Ok(()) => inner.succeeded(),
                Err(e) => inner.failed(&e),
            }
        }
        inner.memory.set(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let inner = &self.inner;
        if inner.degraded_now() {
            inner.queue(Pending::Delete(key.to_owned()));
        } else {
            match inner.primary.delete(key).await {
                Ok(()) => inner.succeeded(),
                Err(e) => {
                    inner.failed(&e);
                    inner.queue(Pending::Delete(key.to_owned()));
                }
            }
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
                Ok(n) => {
                    inner.succeeded();
                    removed = n;
                }
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
                Ok(n) => {
                    inner.succeeded();
                    removed = n;
                }
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
                Ok(keys) => {
                    inner.succeeded();
                    return Ok(keys);
                }
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
                    inner.succeeded();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A primary whose commands time out while `slow` is set and that reports its connection
    /// lost while `down` is set.
    #[derive(Default)]
    struct Scripted {
        slow: AtomicBool,
        down: AtomicBool,
    }

    impl Scripted {
        fn answer<T>(&self, value: T) -> Result<T, CacheError> {
            if self.down.load(Ordering::Relaxed) {
                Err(CacheError::Unavailable("connection closed".into()))
            } else if self.slow.load(Ordering::Relaxed) {
                Err(CacheError::Timeout(Duration::from_millis(50)))
            } else {
                Ok(value)
            }
        }
    }

    #[async_trait]
    impl CacheBackend for Scripted {
        async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, CacheError> {
            self.answer(None)
        }
        async fn set(&self, _: &str, _: Vec<u8>, _: Duration) -> Result<(), CacheError> {
            self.answer(())
        }
        async fn delete(&self, _: &str) -> Result<(), CacheError> {
            self.answer(())
        }
        async fn delete_matching(&self, _: &str) -> Result<u64, CacheError> {
            self.answer(0)
        }
        async fn delete_matching_within(&self, _: &str, _: &str) -> Result<u64, CacheError> {
            self.answer(0)
        }
        async fn keys_matching(&self, _: &str, _: usize) -> Result<Vec<String>, CacheError> {
            self.answer(Vec::new())
        }
        async fn incr(&self, _: &str) -> Result<u64, CacheError> {
            self.answer(1)
        }
        fn name(&self) -> &'static str {
            "scripted"
        }
        async fn health(&self) -> CacheHealth {
            match self.answer(()) {
                Ok(()) => CacheHealth::Ok,
                Err(e) => CacheHealth::Down(e.to_string()),
            }
        }
        fn is_available(&self) -> bool {
            !self.down.load(Ordering::Relaxed)
        }
    }

    fn wrapped() -> (FallbackCache, Arc<Scripted>) {
        let primary = Arc::new(Scripted::default());
        let policy = DegradePolicy { window: Duration::from_secs(60), min_failures: 5, failure_ratio: 0.5 };
        (FallbackCache::with_policy(primary.clone(), MemoryCache::new(1 << 20), Duration::from_secs(3600), policy), primary)
    }

    #[tokio::test]
    async fn a_few_slow_replies_among_good_ones_fall_back_without_degrading() {
        let (cache, primary) = wrapped();
        for _ in 0..20 {
            cache.get("k").await.expect("get");
        }
        primary.slow.store(true, Ordering::Relaxed);
        for _ in 0..10 {
            cache.get("k").await.expect("served from memory");
        }
        assert_eq!(cache.stats().fallbacks, 10);
        assert!(!cache.is_degraded());
        assert_eq!(cache.health().await, CacheHealth::Ok);
        assert_eq!(cache.stats().transitions, 0);
    }

    #[tokio::test]
    async fn failures_at_the_policy_rate_degrade() {
        let (cache, primary) = wrapped();
        cache.get("k").await.expect("get");
        primary.slow.store(true, Ordering::Relaxed);
        for _ in 0..4 {
            cache.get("k").await.expect("served from memory");
        }
        assert!(!cache.is_degraded(), "4 failures are under min_failures");
        cache.get("k").await.expect("served from memory");
        assert!(cache.is_degraded(), "5 of 6 failed");
        assert_eq!(cache.health().await.as_str(), "degraded");
        assert_eq!(cache.stats().transitions, 1);
    }

    #[tokio::test]
    async fn a_lost_connection_degrades_at_once() {
        let (cache, primary) = wrapped();
        for _ in 0..50 {
            cache.get("k").await.expect("get");
        }
        primary.down.store(true, Ordering::Relaxed);
        cache.get("k").await.expect("served from memory");
        assert!(cache.is_degraded());
        assert_eq!(cache.stats().transitions, 1);
    }

    #[test]
    fn old_outcomes_age_out_of_the_window() {
        let mut window = FailureWindow::new(Duration::from_secs(10));
        let start = window.started;
        for _ in 0..5 {
            window.record(true, start);
        }
        assert_eq!(window.record(false, start + Duration::from_secs(5)), (1, 5));
        assert_eq!(window.record(false, start + Duration::from_secs(11)), (2, 0), "the first slice aged out");
        assert_eq!(window.record(true, start + Duration::from_secs(60)), (0, 1), "everything aged out");
    }
}
