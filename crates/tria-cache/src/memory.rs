//! The in-process backend: a byte-bounded `quick_cache` whose entries carry their expiry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use crate::backend::glob_match;
use crate::{BackendStats, CacheBackend, CacheError};

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    expires_at: Instant,
}

#[derive(Clone, Copy)]
struct ByteWeighter;

impl Weighter<String, Entry> for ByteWeighter {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.value.len() + 48) as u64
    }
}

/// Counts evictions (capacity pressure only; deletes and expiry are not evictions).
#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<String, Entry> for CountEvictions {
    type RequestState = ();
    fn on_evict(&self, _state: &mut (), _key: String, _val: Entry) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type Store = Cache<String, Entry, ByteWeighter, DefaultHashBuilder, CountEvictions>;

/// Bounded by total bytes; expired entries read as misses and are dropped.
pub struct MemoryCache {
    entries: Store,
    evictions: Arc<AtomicU64>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache").field("entries", &self.entries.len()).finish()
    }
}

impl MemoryCache {
    /// A cache holding at most about `capacity_bytes` of keys and values.
    pub fn new(capacity_bytes: u64) -> Self {
        let estimated_items = usize::try_from((capacity_bytes / 1024).max(64)).unwrap_or(usize::MAX);
        let lifecycle = CountEvictions::default();
        let evictions = lifecycle.0.clone();
        let entries = Cache::with(estimated_items, capacity_bytes, ByteWeighter, DefaultHashBuilder::default(), lifecycle);
        Self { entries, evictions }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn weight(&self) -> u64 {
        self.entries.weight()
    }

    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Entries and bytes of live keys matching a glob (a walk over every entry).
    pub fn usage_matching(&self, pattern: &str) -> (u64, u64) {
        let now = Instant::now();
        let mut usage = (0, 0);
        for (key, entry) in self.entries.iter() {
            if entry.expires_at > now && glob_match(pattern, &key) {
                usage.0 += 1;
                usage.1 += (key.len() + entry.value.len()) as u64;
            }
        }
        usage
    }

    fn get_now(&self, key: &str) -> Option<Arc<[u8]>> {
        match self.entries.get(key) {
            Some(entry) if entry.expires_at > Instant::now() => Some(entry.value),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }
}

#[async_trait]
impl CacheBackend for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self.get_now(key).map(|v| v.to_vec()))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        self.entries.insert(key.to_owned(), Entry { value: value.into(), expires_at: Instant::now() + ttl });
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.remove(key);
        Ok(())
    }

    async fn delete_matching(&self, pattern: &str) -> Result<u64, CacheError> {
        let removed = AtomicU64::new(0);
        self.entries.retain(|key, _| {
            let hit = glob_match(pattern, key);
            removed.fetch_add(u64::from(hit), Ordering::Relaxed);
            !hit
        });
        Ok(removed.into_inner())
    }

    async fn delete_matching_within(&self, scope: &str, pattern: &str) -> Result<u64, CacheError> {
        let removed = AtomicU64::new(0);
        self.entries.retain(|key, _| {
            let hit = glob_match(pattern, key) && glob_match(scope, key);
            removed.fetch_add(u64::from(hit), Ordering::Relaxed);
            !hit
        });
        Ok(removed.into_inner())
    }

    async fn keys_matching(&self, pattern: &str, limit: usize) -> Result<Vec<String>, CacheError> {
        let now = Instant::now();
        Ok(self
            .entries
            .iter()
            .filter(|(key, entry)| entry.expires_at > now && glob_match(pattern, key))
            .map(|(key, _)| key)
            .take(limit)
            .collect())
    }

    async fn incr(&self, key: &str) -> Result<u64, CacheError> {
        // Counters never expire on their own; a year stands in for "forever".
        let current = self.get_now(key).and_then(|v| std::str::from_utf8(&v).ok().and_then(|s| s.parse::<u64>().ok())).unwrap_or(0);
        let next = current + 1;
        self.entries.insert(key.to_owned(), Entry { value: next.to_string().into_bytes().into(), expires_at: Instant::now() + FOREVER });
        Ok(next)
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn stats(&self) -> BackendStats {
        BackendStats {
            entries: self.entries.len() as u64,
            bytes: self.entries.weight(),
            evictions: self.evictions(),
            ..BackendStats::default()
        }
    }
}

const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_expire_and_can_be_deleted() {
        let cache = MemoryCache::new(1 << 20);
        cache.set("a", b"1".to_vec(), Duration::from_millis(30)).await.expect("set");
        cache.set("b", b"2".to_vec(), Duration::from_secs(60)).await.expect("set");
        assert_eq!(cache.get("a").await.expect("get"), Some(b"1".to_vec()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(cache.get("a").await.expect("get"), None, "expired entries are misses");
        cache.delete("b").await.expect("delete");
        assert_eq!(cache.get("b").await.expect("get"), None);
    }

    #[tokio::test]
    async fn size_is_bounded_by_bytes_and_evictions_are_counted() {
        let cache = MemoryCache::new(64 * 1024);
        for i in 0..1000 {
            cache.set(&format!("k{i}"), vec![0u8; 1024], Duration::from_secs(60)).await.expect("set");
        }
        assert!(cache.weight() <= 64 * 1024, "weight {}", cache.weight());
        assert!(cache.len() < 1000);
        assert!(cache.evictions() > 0);
    }

    #[tokio::test]
    async fn patterns_and_counters() {
        let cache = MemoryCache::new(1 << 20);
        for k in ["p:a:1", "p:a:2", "p:b:1"] {
            cache.set(k, b"x".to_vec(), Duration::from_secs(60)).await.expect("set");
        }
        assert_eq!(cache.keys_matching("p:a:*", 10).await.expect("keys").len(), 2);
        assert_eq!(cache.delete_prefix("p:a:").await.expect("delete"), 2);
        assert_eq!(cache.get("p:b:1").await.expect("get"), Some(b"x".to_vec()));
        assert_eq!(cache.incr("n").await.expect("incr"), 1);
        assert_eq!(cache.incr("n").await.expect("incr"), 2);
    }
}
