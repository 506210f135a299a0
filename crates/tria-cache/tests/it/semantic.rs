//! L3: paraphrase hits, the entity guard, intent and tenant partitions, persistence, expiry.

use std::time::Duration;

use tria_cache::AnswerContext;
use tria_core::{IntentLabel, TenantId};

use crate::support::*;

/// A deterministic unit-ish vector; `nudge` moves it slightly (a paraphrase).
fn vector(seed: u32, nudge: f32) -> Vec<f32> {
    (0..384)
        .map(|i| {
            (((i as u32).wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 1000) as f32 / 1000.0 - 0.5
                + if i == 0 { nudge } else { 0.0 }
        })
        .collect()
}

#[tokio::test]
async fn paraphrases_hit_and_different_entities_miss() {
    let cache = redis_cache(|_| {}).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let stored = "how long do returns take";
    cache.store(&query(tenant, stored, &ctx), answer("Refunds in 5 days.", IntentLabel::PolicyQuestion), Some(&vector(1, 0.0))).await;

    let hit = cache
        .lookup_semantic(tenant, IntentLabel::PolicyQuestion, "what's your return window", &vector(1, 0.05))
        .await
        .expect("paraphrase hits");
    assert_eq!(hit.reply, "Refunds in 5 days.");
    assert!(
        cache.lookup_semantic(tenant, IntentLabel::PolicyQuestion, "weather tomorrow", &vector(2, 0.0)).await.is_none(),
        "unrelated vector misses"
    );
    assert!(
        cache.lookup_semantic(tenant, IntentLabel::Greeting, "what's your return window", &vector(1, 0.05)).await.is_none(),
        "other intent misses"
    );
    assert!(
        cache
            .lookup_semantic(TenantId::new_random(), IntentLabel::PolicyQuestion, "what's your return window", &vector(1, 0.05))
            .await
            .is_none(),
        "other tenant misses"
    );

    // Same meaning, different quantity: the guard refuses even at similarity 1.
    cache
        .store(
            &query(tenant, "price for 12 bags of espresso", &ctx),
            answer("12 bags: $120", IntentLabel::ProductInquiry),
            Some(&vector(3, 0.0)),
        )
        .await;
    assert!(cache.lookup_semantic(tenant, IntentLabel::ProductInquiry, "price for 20 bags of espresso", &vector(3, 0.0)).await.is_none());
    assert!(
        cache.lookup_semantic(tenant, IntentLabel::ProductInquiry, "how much are 12 bags of espresso", &vector(3, 0.01)).await.is_some()
    );
    cleanup(&cache).await;
}

#[tokio::test]
async fn customer_specific_intents_never_use_l3() {
    let cache = redis_cache(|_| {}).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext { scope: Some("c1".into()), ..Default::default() };
    cache.store(&query(tenant, "where is my order", &ctx), answer("Shipped.", IntentLabel::OrderStatus), Some(&vector(5, 0.0))).await;
    assert!(cache.lookup_semantic(tenant, IntentLabel::OrderStatus, "where is my order", &vector(5, 0.0)).await.is_none());
    cleanup(&cache).await;
}

#[tokio::test]
async fn l3_is_persisted_for_other_instances_and_expires() {
    let cache = redis_cache(|c| c.l3.ttl = Duration::from_millis(700)).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    cache.store(&query(tenant, "do you have decaf", &ctx), answer("Yes, two.", IntentLabel::ProductInquiry), Some(&vector(9, 0.0))).await;
    let other = sibling(&cache).await;
    let hit = other.lookup_semantic(tenant, IntentLabel::ProductInquiry, "is there any decaf", &vector(9, 0.03)).await;
    assert_eq!(hit.expect("loaded from Redis").reply, "Yes, two.");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(cache.lookup_semantic(tenant, IntentLabel::ProductInquiry, "is there any decaf", &vector(9, 0.03)).await.is_none(), "expired");
    let third = sibling(&cache).await;
    assert!(
        third.lookup_semantic(tenant, IntentLabel::ProductInquiry, "is there any decaf", &vector(9, 0.03)).await.is_none(),
        "expired in Redis too"
    );
    let stats = cache.stats(tenant).await;
    assert_eq!(stats.levels[2].level, "l3");
    assert!(stats.levels[2].misses >= 1);
    cleanup(&cache).await;
}

/// Cosine of two vectors (for setting the bars around a pair in the test below).
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}

#[tokio::test]
async fn evidence_agreement_survives_persistence_and_lowers_the_bar_only_when_it_agrees() {
    let stored_vector = vector(21, 0.0);
    let query_vector = vector(21, 3.0);
    let similarity = cosine(&stored_vector, &query_vector);
    // The plain bar sits above this pair, the evidence bar below it.
    let cache = redis_cache(|c| {
        c.l3.threshold = similarity + 0.02;
        c.l3.evidence_threshold = similarity - 0.02;
        c.l3.evidence_agreement = 0.8;
    })
    .await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let evidence = vec![("returns-window".to_owned(), 0.61), ("returns-rma".to_owned(), 0.45)];
    let fresh = tria_cache::Fresh { vector: &stored_vector, evidence: &evidence };
    cache.store_with(&query(tenant, "how long do returns take", &ctx), answer("30 days.", IntentLabel::PolicyQuestion), Some(fresh)).await;

    // A second instance loads the entry, evidence included, from Redis.
    let other = sibling(&cache).await;
    let message = "what is the return window";
    let paraphrase = vec![("returns-window".to_owned(), 0.52), ("returns-rma".to_owned(), 0.40)];
    let hit = other.lookup_semantic_with(tenant, IntentLabel::PolicyQuestion, message, &query_vector, &paraphrase).await;
    assert_eq!(hit.expect("agreeing evidence passes the lower bar").reply, "30 days.");
    let elsewhere = vec![("refund-timing".to_owned(), 0.58), ("returns-window".to_owned(), 0.41)];
    assert!(other.lookup_semantic_with(tenant, IntentLabel::PolicyQuestion, message, &query_vector, &elsewhere).await.is_none());
    assert!(other.lookup_semantic(tenant, IntentLabel::PolicyQuestion, message, &query_vector).await.is_none(), "no evidence: plain bar");
    cleanup(&cache).await;
}
