//! L1 and L2, the exact levels: their keys, lookups and filling.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tria_core::{Answer, CacheLevel, TenantId};

use super::{AnswerBasis, AnswerCache, AnswerContext, AnswerQuery, AnyBasis, Fresh, elapsed, jitter};
use crate::envelope::{self, Kind};
use crate::keys::{self, digest, normalize};
use crate::l1::{L1, L1Key, L1Slot};
use crate::stats::Level;

/// What sits under an exact key.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum ExactSlot {
    /// An answer and the basis it was computed from ([`AnswerBasis`]).
    Answer(Answer, u64),
    /// The answer to this message depends on who asks: look under the scoped key.
    CustomerScoped,
}

/// An answer found in the cache and the level that had it.
#[derive(Clone, Debug)]
pub struct ExactHit {
    pub answer: Arc<Answer>,
    pub level: CacheLevel,
}

impl AnswerCache {
    pub(super) fn exact_keys<'a>(&self, q: &AnswerQuery<'a>, generation: u64) -> ExactKeys<'a> {
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

    /// L1 then L2. Misses and undecodable values are `None`; errors never surface. An L1 hit
    /// builds no string and takes no lock beyond the cache shard's.
    pub async fn lookup_exact(&self, q: &AnswerQuery<'_>) -> Option<ExactHit> {
        self.lookup_exact_on(q, &AnyBasis).await
    }

    /// [`Self::lookup_exact`] serving only answers whose basis still holds; one that does not
    /// is a miss at its level (L2 may hold a fresher one another instance wrote).
    pub async fn lookup_exact_on(&self, q: &AnswerQuery<'_>, basis: &dyn AnswerBasis) -> Option<ExactHit> {
        if !self.config.l1.enabled && !self.config.l2.enabled {
            return None;
        }
        let started = Instant::now();
        let generation = self.generation(q.tenant).await;
        let keys = self.exact_keys(q, generation);

        if self.config.l1.enabled {
            let answer = match self.l1_get(&keys.l1_shared(&self.l1)) {
                Some(L1Slot::Answer(a, stamped)) => basis.still_holds(&a, stamped).then_some(a),
                Some(L1Slot::CustomerScoped) => keys.l1_scoped(&self.l1).and_then(|k| match self.l1_get(&k) {
                    Some(L1Slot::Answer(a, stamped)) => basis.still_holds(&a, stamped).then_some(a),
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
                Some(ExactSlot::Answer(a, stamped)) if basis.still_holds(&a, stamped) => {
                    let a = Arc::new(a);
                    self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::Answer(a.clone(), stamped));
                    Some(a)
                }
                Some(ExactSlot::CustomerScoped) => match (keys.l2_scoped(prefix), keys.l1_scoped(&self.l1)) {
                    (Some(scoped), Some(l1_scoped)) => match self.l2_get(q.tenant, &scoped).await {
                        Some(ExactSlot::Answer(a, stamped)) if basis.still_holds(&a, stamped) => {
                            let a = Arc::new(a);
                            self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::CustomerScoped);
                            self.l1_put(l1_scoped, &scoped, L1Slot::Answer(a.clone(), stamped));
                            Some(a)
                        }
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            };
            if let Some(answer) = found {
                self.hit(q.tenant, Level::L2, &answer, l2_started);
                return Some(ExactHit { answer, level: CacheLevel::L2 });
            }
            self.stats.lookup(q.tenant, Level::L2, false, elapsed(l2_started));
        }
        None
    }

    // ----- filling ------------------------------------------------------------------------

    /// Stores a freshly generated answer at the exact levels and, with a vector, at L3.
    /// Customer-specific answers go under the scoped key only (and are not stored at all
    /// without a scope); they never enter L3.
    pub async fn store(&self, q: &AnswerQuery<'_>, answer: Arc<Answer>, vector: Option<&[f32]>) {
        self.store_with(q, answer, vector.map(|vector| Fresh { vector, evidence: &[] })).await;
    }

    /// [`Self::store`] with the message's answer evidence, for L3's agreement signal.
    pub async fn store_with(&self, q: &AnswerQuery<'_>, answer: Arc<Answer>, fresh: Option<Fresh<'_>>) {
        self.store_on(q, answer, fresh, AnyBasis.current()).await;
    }

    /// [`Self::store_with`] for an answer computed under basis `stamped` ([`AnswerBasis::current`]).
    pub async fn store_on(&self, q: &AnswerQuery<'_>, answer: Arc<Answer>, fresh: Option<Fresh<'_>>, stamped: u64) {
        let generation = self.generation(q.tenant).await;
        let keys = self.exact_keys(q, generation);
        let prefix = &self.config.key_prefix;
        let shared = keys.l2_shared(prefix);
        if answer.intent.is_customer_specific() {
            let (Some(scoped), Some(l1_scoped)) = (keys.l2_scoped(prefix), keys.l1_scoped(&self.l1)) else { return };
            let marker = ExactSlot::CustomerScoped;
            let slot = ExactSlot::Answer((*answer).clone(), stamped);
            self.l2_put(&scoped, &slot).await;
            self.l2_put(&shared, &marker).await;
            self.l1_put(l1_scoped, &scoped, L1Slot::Answer(answer.clone(), stamped));
            self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::CustomerScoped);
            return;
        }
        let slot = ExactSlot::Answer((*answer).clone(), stamped);
        self.l2_put(&shared, &slot).await;
        self.l1_put(keys.l1_shared(&self.l1), &shared, L1Slot::Answer(answer.clone(), stamped));
        if let Some(fresh) = fresh {
            self.semantic_put(q.tenant, q.message, &fresh, answer, stamped).await;
        }
    }
}

/// The keys of one exact lookup, built only as far as the lookup goes: L1 keys are hashes,
/// L2 keys (strings with a SHA-256 part, shared between instances) only on an L1 miss.
pub(super) struct ExactKeys<'a> {
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

    pub(super) fn l2_shared(&self, prefix: &str) -> String {
        let hash = digest(["exact", &self.normalized, &self.recent]);
        keys::key(prefix, self.tenant, "l2", self.generation, &hash)
    }

    pub(super) fn l2_scoped(&self, prefix: &str) -> Option<String> {
        let (scope, state) = self.scoped_state()?;
        let hash = digest(["scoped", &self.normalized, &self.recent, scope, state]);
        Some(keys::key(prefix, self.tenant, "l2", self.generation, &hash))
    }
}
