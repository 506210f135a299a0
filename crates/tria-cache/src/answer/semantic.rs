//! L3, the semantic level: paraphrases within a tenant and intent, persisted to shared backends.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tria_core::{Answer, IntentLabel, TenantId};

use super::{AnswerBasis, AnswerCache, AnyBasis, elapsed, jitter};
use crate::envelope::{self, Kind};
use crate::guard::entity_signature;
use crate::keys::{self, digest, normalize};
use crate::stats::Level;
use crate::{SemanticEntry, SemanticQuery};

/// An L3 entry as persisted to Redis.
#[derive(Serialize, Deserialize)]
struct SemanticRecord {
    intent: IntentLabel,
    text: String,
    vector: Vec<f32>,
    entities: Vec<String>,
    evidence: Vec<(String, f32)>,
    answer: Answer,
    /// What the answer was computed from ([`AnswerBasis`]).
    basis: u64,
}

/// What L3 indexes a freshly generated answer by.
#[derive(Clone, Copy, Debug)]
pub struct Fresh<'a> {
    /// The message's embedding.
    pub vector: &'a [f32],
    /// The answer evidence nearest to the message ([`crate::Evidence`]).
    pub evidence: &'a crate::Evidence,
}

impl AnswerCache {
    /// A paraphrase's answer within the tenant and intent, if one is similar enough and
    /// mentions the same entities. Customer-specific intents always miss. Same as
    /// [`Self::lookup_semantic_with`] without an evidence signal.
    pub async fn lookup_semantic(&self, tenant: TenantId, intent: IntentLabel, message: &str, vector: &[f32]) -> Option<Arc<Answer>> {
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
    ) -> Option<Arc<Answer>> {
        self.lookup_semantic_on(tenant, intent, message, vector, evidence, &AnyBasis).await
    }

    /// [`Self::lookup_semantic_with`] serving only an answer whose basis still holds; a match
    /// that does not is dropped here and from the shared backend, and the lookup misses.
    pub async fn lookup_semantic_on(
        &self,
        tenant: TenantId,
        intent: IntentLabel,
        message: &str,
        vector: &[f32],
        evidence: &crate::Evidence,
        basis: &dyn AnswerBasis,
    ) -> Option<Arc<Answer>> {
        if !self.config.l3.enabled || intent.is_customer_specific() {
            return None;
        }
        let started = Instant::now();
        self.generation(tenant).await;
        self.ensure_l3_loaded(tenant).await;
        let entities = entity_signature(message);
        let query = SemanticQuery { vector, message, entities: &entities, evidence };
        let mut hit = self.semantic.search(tenant, intent, &query, self.config.l3.rule());
        if let Some(stale) = hit.take_if(|h| !basis.still_holds(&h.answer, h.basis)) {
            self.semantic.remove_ids(tenant, intent, std::slice::from_ref(&stale.id));
            if self.backend().is_shared() {
                let generation = self.generation(tenant).await;
                let _ = self.backend().delete(&keys::key(&self.config.key_prefix, tenant, "l3", generation, &stale.id)).await;
            }
        }
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
                    self.semantic.insert_based(tenant, r.intent, entry, r.basis);
                }
                Err(_) => {
                    let _ = self.backend().delete(&key).await;
                }
            }
        }
    }

    pub(super) async fn semantic_put(&self, tenant: TenantId, message: &str, fresh: &Fresh<'_>, answer: Arc<Answer>, basis: u64) {
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
        self.semantic.insert_based(tenant, answer.intent, entry, basis);
        if self.backend().is_shared() {
            let record = SemanticRecord {
                intent: answer.intent,
                text: message.to_owned(),
                vector: vector.to_vec(),
                entities,
                evidence: evidence.to_vec(),
                answer: (*answer).clone(),
                basis,
            };
            if let Ok(bytes) = envelope::encode(Kind::Semantic, &record) {
                self.note_written(Level::L3, bytes.len());
                let key = keys::key(&self.config.key_prefix, tenant, "l3", generation, &id);
                let _ = self.backend().set(&key, bytes, ttl).await;
            }
        }
    }
}
