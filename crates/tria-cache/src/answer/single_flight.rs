//! An exact miss computed once however many ask at the same time.

use std::sync::Arc;

use tria_core::{Answer, CacheLevel};

use super::{AnswerBasis, AnswerCache, AnswerQuery, AnyBasis, Fresh};

/// What a computation hands back to [`AnswerCache::get_or_compute`].
#[derive(Clone, Debug)]
pub struct Fill {
    pub answer: Arc<Answer>,
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

impl AnswerCache {
    /// Exact lookup, then `compute` under single-flight: concurrent identical misses run it
    /// once and share the result. Cacheable results are stored before they are returned.
    pub async fn get_or_compute<F, Fut, E>(&self, q: &AnswerQuery<'_>, compute: F) -> Result<(Arc<Answer>, CacheLevel), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fill, E>>,
    {
        self.get_or_compute_on(q, &AnyBasis, compute).await
    }

    /// [`Self::get_or_compute`] serving only answers whose basis still holds
    /// ([`AnswerBasis`]); what is computed is stored under the basis current before computing.
    pub async fn get_or_compute_on<F, Fut, E>(
        &self,
        q: &AnswerQuery<'_>,
        basis: &dyn AnswerBasis,
        compute: F,
    ) -> Result<(Arc<Answer>, CacheLevel), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fill, E>>,
    {
        if let Some(hit) = self.lookup_exact_on(q, basis).await {
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
                    // Before computing: an answer from a basis that moves on meanwhile is stale.
                    let stamped = basis.current();
                    let fill = compute().await?;
                    if fill.cacheable {
                        let fresh = match (&fill.vector, fill.level) {
                            (Some(vector), CacheLevel::None) => Some(Fresh { vector, evidence: &fill.evidence }),
                            _ => None,
                        };
                        self.store_on(q, fill.answer.clone(), fresh, stamped).await;
                    }
                    Ok((fill.answer, fill.level))
                })
                .await?;
            self.stats.answer(q.tenant, value.1 != CacheLevel::None);
            Ok(value)
        })
        .await
    }
}
