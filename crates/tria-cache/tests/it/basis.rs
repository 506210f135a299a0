//! An answer's basis ([`AnswerBasis`]): a hit whose basis no longer holds is a miss at every
//! level, in memory and through Redis on another instance, and only that answer goes.

use std::sync::Arc;

use tria_cache::{AnswerBasis, AnswerCache, AnswerContext, Fresh};
use tria_core::{Answer, IntentLabel, SourceRef, TenantId};

use crate::support::*;

/// Serves answers citing none of the `retired` sources, and answers citing nothing only
/// under basis `current`.
struct Retired {
    current: u64,
    retired: Vec<&'static str>,
}

impl AnswerBasis for Retired {
    fn current(&self) -> u64 {
        self.current
    }

    fn still_holds(&self, answer: &Answer, stamped: u64) -> bool {
        if answer.sources.is_empty() {
            return stamped == self.current;
        }
        answer.sources.iter().all(|s| !self.retired.contains(&s.id.as_str()))
    }
}

fn citing(text: &str, source: &str) -> Arc<Answer> {
    let source = SourceRef { id: source.into(), title: source.into(), heading: String::new(), score: 1.0 };
    Arc::new(Answer::new(text, IntentLabel::PolicyQuestion, 0.9).with_sources(vec![source]))
}

async fn check(cache: &AnswerCache, reader: &AnswerCache) {
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let v1 = Retired { current: 1, retired: vec![] };
    cache.store_on(&query(tenant, "fee for a", &ctx), citing("10%", "chunk-a"), None, v1.current()).await;
    cache.store_on(&query(tenant, "fee for b", &ctx), citing("5%", "chunk-b"), None, v1.current()).await;
    cache.store_on(&query(tenant, "hello", &ctx), answer("hi", IntentLabel::Greeting), None, v1.current()).await;
    for q in ["fee for a", "fee for b", "hello"] {
        assert!(reader.lookup_exact_on(&query(tenant, q, &ctx), &v1).await.is_some(), "{q} under v1");
    }
    // Version 2 replaced the document of chunk-a.
    let v2 = Retired { current: 2, retired: vec!["chunk-a"] };
    assert!(reader.lookup_exact_on(&query(tenant, "fee for a", &ctx), &v2).await.is_none(), "cites a retired chunk");
    assert!(reader.lookup_exact_on(&query(tenant, "fee for b", &ctx), &v2).await.is_some(), "cites a chunk still serving");
    assert!(reader.lookup_exact_on(&query(tenant, "hello", &ctx), &v2).await.is_none(), "cites nothing: computed under v1");
    // Recomputed under v2, it is served again.
    cache.store_on(&query(tenant, "hello", &ctx), answer("hi again", IntentLabel::Greeting), None, v2.current()).await;
    let hit = reader.lookup_exact_on(&query(tenant, "hello", &ctx), &v2).await.expect("stored under v2");
    assert_eq!(hit.answer.reply, "hi again");
}

#[tokio::test]
async fn exact_hits_whose_basis_moved_on_are_misses_in_memory() {
    let cache = AnswerCache::memory_only();
    check(&cache, &cache).await;
}

#[tokio::test]
async fn exact_hits_whose_basis_moved_on_are_misses_on_another_instance_through_redis() {
    let cache = redis_cache(|_| {}).await;
    let other = sibling(&cache).await;
    check(&cache, &other).await;
    cleanup(&cache).await;
}

#[tokio::test]
async fn a_semantic_match_whose_basis_moved_on_is_dropped_and_misses() {
    let cache = redis_cache(|c| c.l3.enabled = true).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let vector = [1.0, 0.0, 0.5];
    let v1 = Retired { current: 1, retired: vec![] };
    let fresh = Fresh { vector: &vector, evidence: &[] };
    cache.store_on(&query(tenant, "what is the fee for a", &ctx), citing("10%", "chunk-a"), Some(fresh), v1.current()).await;
    let paraphrase = "fee for a, what is it";
    let found = cache.lookup_semantic_on(tenant, IntentLabel::PolicyQuestion, paraphrase, &vector, &[], &v1).await;
    assert!(found.is_some(), "a paraphrase under v1");
    let early = sibling(&cache).await;
    assert!(
        early.lookup_semantic_on(tenant, IntentLabel::PolicyQuestion, paraphrase, &vector, &[], &v1).await.is_some(),
        "another instance loads it from Redis"
    );
    let v2 = Retired { current: 2, retired: vec!["chunk-a"] };
    let other = sibling(&cache).await;
    assert!(other.lookup_semantic_on(tenant, IntentLabel::PolicyQuestion, paraphrase, &vector, &[], &v2).await.is_none());
    assert!(cache.lookup_semantic_on(tenant, IntentLabel::PolicyQuestion, paraphrase, &vector, &[], &v2).await.is_none());
    // Dropped from Redis too: a third instance loading L3 afresh does not find it, even under v1.
    let third = sibling(&cache).await;
    assert!(third.lookup_semantic_on(tenant, IntentLabel::PolicyQuestion, paraphrase, &vector, &[], &v1).await.is_none());
    cleanup(&cache).await;
}
