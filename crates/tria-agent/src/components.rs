//! L4 in the chat pipeline: a message's intent verdict and its policy retrieval, cached per
//! tenant under what they depend on (the intent model and fallback; the policy index's content),
//! and the intent fallback, asked when the intent model is unsure.
//!
//! Both are cached only where computing them costs more than a cache lookup: the embedding
//! model's verdicts (rules and keywords take microseconds) and hybrid retrieval (a lexical search
//! over a tenant's chunks is cheaper than a Redis round trip). Entries carry the tenant's cache
//! generation, so [`tria_cache::AnswerCache::invalidate_tenant`] (re-index, settings change,
//! admin invalidation) retires them with everything else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tria_cache::Component;
use tria_core::{IntentLabel, TenantId};
use tria_intent::{Classification, DecidedBy, IntentFallback, IntentModel, assess_tone, extract_entities};
use tria_rag::{PolicyHit, TenantIndex};
use uuid::Uuid;

use crate::{Agent, AgentBuilder};

/// The intent model when it is the agent's classifier, and the fallback it may ask.
#[derive(Clone, Default)]
pub(crate) struct IntentParts {
    pub(crate) model: Option<Arc<IntentModel>>,
    pub(crate) fallback: Option<Arc<dyn IntentFallback>>,
    /// An LLM to build the fallback over once the agent's guard is known (`intent_fallback.rs`).
    pub(crate) llm: Option<(Arc<dyn tria_llm::LlmClient>, crate::intent_fallback::LlmIntentOptions)>,
}

impl IntentParts {
    /// The parts the agent keeps: an LLM given for the fallback becomes one behind `guard`,
    /// unless an explicit fallback was given.
    pub(crate) fn with_guard(mut self, guard: &Arc<crate::llm_guard::LlmGuard>) -> Self {
        if let Some((client, options)) = self.llm.take()
            && self.fallback.is_none()
        {
            self.fallback = Some(Arc::new(crate::intent_fallback::LlmIntentFallback::new(client, guard.clone(), options)));
        }
        self
    }

    /// What cached verdicts are keyed by; `None` (not cached) without the intent model: the
    /// rule classifier is cheaper than a lookup, and another classifier has no known version.
    fn version(&self) -> Option<String> {
        let model = self.model.as_ref()?;
        let fallback = self.fallback.as_ref().map_or("none", |f| f.version());
        Some(format!("model-{:016x}+fallback-{fallback}", model.fingerprint()))
    }
}

impl AgentBuilder {
    /// A second opinion on the intent model's unsure verdicts (below its fallback threshold;
    /// never a rule's), e.g. an LLM constrained to the ten labels. Asked only when the intent
    /// model classifies (an embedder is configured); none by default. Its answers are cached
    /// (L4 intent) under its [`IntentFallback::version`]; a declined question is not, so another
    /// instance asks again.
    pub fn intent_fallback(mut self, fallback: Arc<dyn IntentFallback>) -> Self {
        self.intent.fallback = Some(fallback);
        self
    }
}

/// Component keys normalise their text (case, trailing punctuation, "please"), but these
/// components read the exact message: tone and entities see "!!!" and capitals, the embedding
/// every character. Keyed by the message's digest, which normalising leaves as it is, a hit is
/// exactly what computing would give.
fn exact_key(message: &str) -> String {
    tria_cache::keys::digest([message])
}

/// What L4 keeps of a verdict: what the model (and fallback) decided. Entities and tone are
/// rules over the message, recomputed on a hit as the model computes them.
#[derive(Serialize, Deserialize)]
struct CachedVerdict {
    label: IntentLabel,
    confidence: f32,
    runner_up: Option<(IntentLabel, f32)>,
    decided_by: DecidedBy,
}

impl CachedVerdict {
    fn of(c: &Classification) -> Self {
        Self { label: c.label, confidence: c.confidence, runner_up: c.runner_up, decided_by: c.decided_by }
    }

    fn for_message(self, message: &str) -> Classification {
        Classification {
            label: self.label,
            confidence: self.confidence,
            runner_up: self.runner_up,
            entities: extract_entities(message),
            tone: assess_tone(message),
            decided_by: self.decided_by,
        }
    }
}

/// One cached retrieval hit: the chunk by id (its text comes from the index, whose version is in
/// the key) and its scores, bit for bit.
#[derive(Serialize, Deserialize)]
struct CachedHit {
    chunk: u128,
    score: f32,
    similarity: Option<f32>,
}

impl Agent {
    /// The verdict for a message the agent does not remember: the tenant's L4 intent cache, else
    /// the classifier and, for an unsure verdict, the intent fallback.
    pub(crate) async fn classify_through_l4(&self, tenant: TenantId, message: &str) -> Classification {
        let cache = &self.cache.cache;
        let Some(version) = self.intent.version() else { return self.classify_now(message) };
        let key = exact_key(message);
        if let Some(verdict) = cache.component::<CachedVerdict>(tenant, Component::Intent, &version, &key).await {
            return verdict.for_message(message);
        }
        let first = self.classify_now(message);
        let (classification, declined) = match (&self.intent.model, &self.intent.fallback) {
            (Some(model), Some(fallback)) if model.needs_fallback(&first) => {
                let resolved = model.resolve(message, first, fallback.as_ref()).await;
                let declined = resolved.decided_by != DecidedBy::Fallback;
                (resolved, declined)
            }
            _ => (first, false),
        };
        // Only the model's own work: a keyword verdict means the embedding failed this time.
        if matches!(classification.decided_by, DecidedBy::Embedding | DecidedBy::Fallback) && !declined {
            cache.put_component(tenant, Component::Intent, &version, &key, &CachedVerdict::of(&classification)).await;
        }
        classification
    }

    /// The best `k` policy chunks for `message`. A hybrid index's hits are cached (L4
    /// retrieval) under the index's version; a lexical search is cheaper than a lookup.
    pub(crate) async fn policy_hits(&self, tenant: TenantId, index: &TenantIndex, message: &str, k: usize) -> Vec<PolicyHit> {
        let cache = &self.cache.cache;
        if !index.is_hybrid() || !cache.config().l4_enabled {
            let vector = self.query_embedding(message);
            return index.hybrid_search(message, vector.as_deref(), k);
        }
        let version = format!("{}+k{k}", index.version());
        let key = exact_key(message);
        if let Some(cached) = cache.component::<Vec<CachedHit>>(tenant, Component::Retrieval, &version, &key).await {
            let hits: Option<Vec<PolicyHit>> = cached
                .iter()
                .map(|h| {
                    let chunk = index.chunk(Uuid::from_u128(h.chunk))?.clone();
                    Some(PolicyHit { chunk, score: h.score, similarity: h.similarity })
                })
                .collect();
            if let Some(hits) = hits {
                return hits;
            }
        }
        let vector = self.query_embedding(message);
        let hits = index.hybrid_search(message, vector.as_deref(), k);
        // Without the query's vector the search was lexical: not what this key stands for.
        if vector.is_some() {
            let cached: Vec<CachedHit> =
                hits.iter().map(|h| CachedHit { chunk: h.chunk.id.as_u128(), score: h.score, similarity: h.similarity }).collect();
            cache.put_component(tenant, Component::Retrieval, &version, &key, &cached).await;
        }
        hits
    }
}
