//! L1: decoded exact answers in process, keyed by (tenant, generation, 64-bit hash).
//!
//! The hot path builds no key string: one SipHash pass (per-process random key) over the
//! normalised message and the context parts finds the entry, and the entry's own copy of those
//! parts is compared before it is served, so a hash collision is a miss, never another
//! conversation's answer. A hit clones two `Arc`s. Each entry also keeps its L2 key string,
//! written once on insert, so Redis-style pattern invalidation still reaches L1.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use tria_core::{Answer, TenantId};

use crate::backend::glob_match;

/// Where an exact answer sits in L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct L1Key {
    tenant: TenantId,
    generation: u64,
    hash: u64,
}

/// What L1 holds: the decoded slot, answers shared rather than copied on a hit.
#[derive(Clone)]
pub(crate) enum L1Slot {
    /// An answer and the basis it was computed from ([`crate::AnswerBasis`]).
    Answer(Arc<Answer>, u64),
    CustomerScoped,
}

struct L1Entry {
    slot: L1Slot,
    expires_at: Instant,
    bytes: u32,
    /// The parts the key was hashed from, checked on every hit.
    parts: Box<[Box<str>]>,
    /// The matching L2 key, for pattern invalidation and byte accounting.
    shared_key: Box<str>,
}

/// Shared so that reading an entry out of the cache is one reference count, not a deep copy.
type Shared = Arc<L1Entry>;

#[derive(Clone, Copy)]
struct L1Weighter;

impl Weighter<L1Key, Shared> for L1Weighter {
    fn weight(&self, _key: &L1Key, entry: &Shared) -> u64 {
        (entry.shared_key.len() + entry.parts.iter().map(|p| p.len() + 16).sum::<usize>() + entry.bytes as usize + 96) as u64
    }
}

/// Counts L1 evictions per tenant.
#[derive(Clone, Default)]
struct Evictions(Arc<Mutex<HashMap<TenantId, u64>>>);

impl Lifecycle<L1Key, Shared> for Evictions {
    type RequestState = ();
    fn on_evict(&self, _state: &mut (), key: L1Key, _val: Shared) {
        if let Ok(mut map) = self.0.lock() {
            *map.entry(key.tenant).or_default() += 1;
        }
    }
}

/// The in-process exact level.
pub(crate) struct L1 {
    entries: Cache<L1Key, Shared, L1Weighter, DefaultHashBuilder, Evictions>,
    evictions: Evictions,
    seed: RandomState,
}

impl L1 {
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        let evictions = Evictions::default();
        let entries = Cache::with(
            usize::try_from((capacity_bytes / 1024).max(64)).unwrap_or(usize::MAX),
            capacity_bytes.max(1024),
            L1Weighter,
            DefaultHashBuilder::default(),
            evictions.clone(),
        );
        Self { entries, evictions, seed: RandomState::new() }
    }

    /// The key of `parts` (each length-prefixed, so part boundaries count) for a tenant.
    pub(crate) fn key<'a>(&self, tenant: TenantId, generation: u64, parts: impl IntoIterator<Item = &'a str>) -> L1Key {
        let mut h = self.seed.build_hasher();
        for part in parts {
            h.write_usize(part.len());
            h.write(part.as_bytes());
        }
        L1Key { tenant, generation, hash: h.finish() }
    }

    /// The live slot under `key` if it was stored for exactly these `parts`.
    pub(crate) fn get<'a>(&self, key: &L1Key, parts: impl IntoIterator<Item = &'a str>) -> Option<L1Slot> {
        let entry = self.entries.get(key)?;
        if entry.expires_at <= Instant::now() {
            self.entries.remove(key);
            return None;
        }
        entry.parts.iter().map(|p| &**p).eq(parts).then(|| entry.slot.clone())
    }

    pub(crate) fn put<'a>(&self, key: L1Key, parts: impl IntoIterator<Item = &'a str>, shared_key: &str, slot: L1Slot, ttl: Duration) {
        let bytes = match &slot {
            L1Slot::Answer(a, _) => crate::answer::approx_bytes(a),
            L1Slot::CustomerScoped => 8,
        };
        let entry = L1Entry {
            slot,
            expires_at: Instant::now() + ttl,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
            parts: parts.into_iter().map(Box::from).collect(),
            shared_key: shared_key.into(),
        };
        self.entries.insert(key, Arc::new(entry));
    }

    pub(crate) fn remove_tenant(&self, tenant: TenantId) {
        self.entries.retain(|k, _| k.tenant != tenant);
    }

    pub(crate) fn remove_matching(&self, pattern: &str) {
        self.entries.retain(|_, e| !glob_match(pattern, &e.shared_key));
    }

    /// Live entries and bytes of a tenant, and its evictions so far.
    pub(crate) fn usage(&self, tenant: TenantId) -> (u64, u64, u64) {
        let now = Instant::now();
        let (mut entries, mut bytes) = (0, 0);
        for (key, entry) in self.entries.iter() {
            if key.tenant == tenant && entry.expires_at > now {
                entries += 1;
                bytes += (entry.shared_key.len() + entry.bytes as usize) as u64;
            }
        }
        let evictions = self.evictions.0.lock().ok().and_then(|m| m.get(&tenant).copied()).unwrap_or(0);
        (entries, bytes, evictions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_parts_tenants_and_generations() {
        let l1 = L1::new(1 << 20);
        let t = TenantId::new_random();
        let k = |t, g, parts: &[&str]| l1.key(t, g, parts.iter().copied());
        assert_eq!(k(t, 0, &["a", "b"]), k(t, 0, &["a", "b"]));
        assert_ne!(k(t, 0, &["ab", "c"]), k(t, 0, &["a", "bc"]));
        assert_ne!(k(t, 0, &["a"]), k(t, 1, &["a"]));
        assert_ne!(k(t, 0, &["a"]), k(TenantId::new_random(), 0, &["a"]));
    }

    #[test]
    fn pattern_and_tenant_removal() {
        let l1 = L1::new(1 << 20);
        let (t1, t2) = (TenantId::new_random(), TenantId::new_random());
        let answer = Arc::new(Answer::new("x", tria_core::IntentLabel::Greeting, 1.0));
        let ttl = Duration::from_secs(60);
        let (k1, k2) = (l1.key(t1, 0, ["a"]), l1.key(t2, 0, ["a"]));
        l1.put(k1, ["a"], "p:t1:l2:v1g0:aa", L1Slot::Answer(answer.clone(), 0), ttl);
        l1.put(k2, ["a"], "p:t2:l2:v1g0:aa", L1Slot::Answer(answer, 0), ttl);
        l1.remove_matching("p:t1:*");
        assert!(l1.get(&k1, ["a"]).is_none());
        assert!(l1.get(&k2, ["a"]).is_some());
        l1.remove_tenant(t2);
        assert!(l1.get(&k2, ["a"]).is_none());
    }

    #[test]
    fn a_colliding_key_with_other_parts_is_a_miss() {
        let l1 = L1::new(1 << 20);
        let t = TenantId::new_random();
        let answer = Arc::new(Answer::new("x", tria_core::IntentLabel::Greeting, 1.0));
        // Stored under the key of other parts: as if two messages hashed alike.
        let key = l1.key(t, 0, ["where is ORD-1"]);
        l1.put(key, ["where is ORD-2"], "k", L1Slot::Answer(answer, 0), Duration::from_secs(60));
        assert!(l1.get(&key, ["where is ORD-1"]).is_none());
        assert!(l1.get(&key, ["where is ORD-2"]).is_some());
    }
}
