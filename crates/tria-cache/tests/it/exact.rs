//! L1 and L2: hits, misses, expiry, tenant isolation, context-aware keys, corrupt values, stats.

use std::time::Duration;

use tria_cache::AnswerContext;
use tria_core::{CacheLevel, IntentLabel, TenantId};

use crate::support::*;

#[tokio::test]
async fn l1_hits_then_expires() {
    let cache = redis_cache(|c| {
        c.l2.enabled = false;
        c.l1.ttl = Duration::from_millis(300);
    })
    .await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = query(tenant, "What is your return policy?", &ctx);
    assert!(cache.lookup_exact(&q).await.is_none(), "empty cache misses");
    cache.store(&q, answer("30 days.", IntentLabel::PolicyQuestion), None).await;
    let hit = cache.lookup_exact(&q).await.expect("hit");
    assert_eq!(hit.level, CacheLevel::L1);
    assert_eq!(hit.answer.reply, "30 days.");
    // Spelling differences normalise to the same key.
    let q2 = query(tenant, "  what is your RETURN policy ", &ctx);
    assert_eq!(cache.lookup_exact(&q2).await.expect("normalised hit").level, CacheLevel::L1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(cache.lookup_exact(&q).await.is_none(), "expired");
    cleanup(&cache).await;
}

#[tokio::test]
async fn l2_hits_across_instances_then_expires() {
    let cache = redis_cache(|c| c.l2.ttl = Duration::from_millis(600)).await;
    let other = sibling(&cache).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = query(tenant, "do you ship on weekends", &ctx);
    cache.store(&q, answer("Mon-Fri only.", IntentLabel::PolicyQuestion), None).await;
    assert_eq!(cache.lookup_exact(&q).await.expect("hit").level, CacheLevel::L1);

    let hit = other.lookup_exact(&q).await.expect("the other instance reads Redis");
    assert_eq!(hit.level, CacheLevel::L2);
    assert_eq!(hit.answer.reply, "Mon-Fri only.");
    assert_eq!(other.lookup_exact(&q).await.expect("promoted").level, CacheLevel::L1, "L2 hits fill L1");

    let fresh = sibling(&cache).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(fresh.lookup_exact(&q).await.is_none(), "expired in Redis");
    cleanup(&cache).await;
}

#[tokio::test]
async fn tenants_never_share_answers() {
    let cache = redis_cache(|_| {}).await;
    let (a, b) = (TenantId::new_random(), TenantId::new_random());
    let ctx = AnswerContext::default();
    let message = "What are your opening hours?";
    cache.store(&query(a, message, &ctx), answer("A: 8-5", IntentLabel::PolicyQuestion), None).await;
    assert!(cache.lookup_exact(&query(b, message, &ctx)).await.is_none(), "tenant B must miss");
    cache.store(&query(b, message, &ctx), answer("B: 9-6", IntentLabel::PolicyQuestion), None).await;
    let other = sibling(&cache).await;
    for c in [&cache, &other] {
        assert_eq!(c.lookup_exact(&query(a, message, &ctx)).await.expect("a").answer.reply, "A: 8-5");
        assert_eq!(c.lookup_exact(&query(b, message, &ctx)).await.expect("b").answer.reply, "B: 9-6");
    }
    cleanup(&cache).await;
}

#[tokio::test]
async fn customer_specific_answers_follow_the_customer_and_their_orders() {
    let cache = redis_cache(|_| {}).await;
    let other = sibling(&cache).await;
    let tenant = TenantId::new_random();
    let message = "where is my order?";
    let alice =
        AnswerContext { recent_intents: vec![], scope: Some("customer-alice".into()), customer_state: vec!["ORD-1001:confirmed".into()] };
    let bob =
        AnswerContext { recent_intents: vec![], scope: Some("customer-bob".into()), customer_state: vec!["ORD-2002:invoiced".into()] };
    cache.store(&query(tenant, message, &alice), answer("Your order ORD-1001 is confirmed.", IntentLabel::OrderStatus), None).await;
    for c in [&cache, &other] {
        let hit = c.lookup_exact(&query(tenant, message, &alice)).await.expect("alice hits");
        assert_eq!(hit.answer.reply, "Your order ORD-1001 is confirmed.");
        assert!(c.lookup_exact(&query(tenant, message, &bob)).await.is_none(), "bob never gets alice's order");
    }
    // Same customer, order moved on: a different key.
    let alice_later = AnswerContext { customer_state: vec!["ORD-1001:invoiced".into()], ..alice.clone() };
    assert!(cache.lookup_exact(&query(tenant, message, &alice_later)).await.is_none(), "state changed");
    // Anonymous callers without a scope: customer-specific answers are not cached at all.
    let anonymous = AnswerContext::default();
    cache.store(&query(tenant, "my invoice total?", &anonymous), answer("It is $10", IntentLabel::Billing), None).await;
    assert!(cache.lookup_exact(&query(tenant, "my invoice total?", &anonymous)).await.is_none());
    // Policy answers are shared between customers.
    cache.store(&query(tenant, "do you take amex", &alice), answer("Yes.", IntentLabel::PolicyQuestion), None).await;
    assert_eq!(other.lookup_exact(&query(tenant, "do you take amex", &bob)).await.expect("shared").answer.reply, "Yes.");
    cleanup(&cache).await;
}

#[tokio::test]
async fn earlier_intents_are_part_of_the_key() {
    let cache = redis_cache(|_| {}).await;
    let tenant = TenantId::new_random();
    let after_complaint = AnswerContext { recent_intents: vec![IntentLabel::Complaint], ..Default::default() };
    let fresh = AnswerContext::default();
    cache.store(&query(tenant, "ok what now", &after_complaint), answer("Sorry again...", IntentLabel::Greeting), None).await;
    assert!(cache.lookup_exact(&query(tenant, "ok what now", &fresh)).await.is_none());
    assert!(cache.lookup_exact(&query(tenant, "ok what now", &after_complaint)).await.is_some());
    cleanup(&cache).await;
}

#[tokio::test]
async fn corrupt_bytes_are_a_miss_and_are_deleted() {
    let cache = redis_cache(|c| c.l1.enabled = false).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = query(tenant, "is shipping free", &ctx);
    cache.store(&q, answer("Over $100.", IntentLabel::PolicyQuestion), None).await;
    let pattern = format!("{}:{tenant}:l2:*", cache.config().key_prefix);
    let keys = cache.backend().keys_matching(&pattern, 10).await.expect("scan");
    assert_eq!(keys.len(), 1, "{keys:?}");
    cache.backend().set(&keys[0], b"\x00garbage\xff".to_vec(), Duration::from_secs(60)).await.expect("overwrite");
    assert!(cache.lookup_exact(&q).await.is_none(), "corrupt value reads as a miss");
    assert_eq!(cache.backend().get(&keys[0]).await.expect("get"), None, "and is deleted");
    cleanup(&cache).await;
}

#[tokio::test]
async fn stats_count_hits_misses_and_savings() {
    let cache = redis_cache(|c| c.price_per_1k_tokens = 2.0).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = query(tenant, "what is net 30", &ctx);
    let (_, level) = cache
        .get_or_compute(&q, || async {
            Ok::<_, ()>(tria_cache::Fill {
                answer: std::sync::Arc::new(tria_core::Answer::new("Pay in 30 days.", IntentLabel::PolicyQuestion, 0.9).with_tokens(1000)),
                level: CacheLevel::None,
                vector: None,
                cacheable: true,
                evidence: Vec::new(),
            })
        })
        .await
        .expect("computed");
    assert_eq!(level, CacheLevel::None);
    for _ in 0..3 {
        let (a, level) = cache.get_or_compute(&q, || async { Err::<tria_cache::Fill, _>(()) }).await.expect("hit");
        assert_eq!(level, CacheLevel::L1);
        assert_eq!(a.reply, "Pay in 30 days.");
    }
    let stats = cache.stats(tenant).await;
    assert_eq!((stats.hits, stats.misses), (3, 1));
    assert!((stats.hit_rate - 0.75).abs() < 1e-9);
    assert_eq!(stats.tokens_saved, 3000);
    assert!((stats.money_saved - 6.0).abs() < 1e-9, "{}", stats.money_saved);
    let l1 = &stats.levels[0];
    assert_eq!((l1.level.as_str(), l1.hits, l1.misses), ("l1", 3, 1));
    assert!(l1.entries >= 1 && l1.bytes > 0);
    assert!(l1.p99_lookup_us >= l1.p50_lookup_us);
    assert_eq!(stats.levels[1].entries, 1, "one key in Redis");
    assert_eq!(stats.health, "ok");
    let json = serde_json::to_value(&stats).expect("serialises");
    assert_eq!(json["levels"][0]["level"], "l1");
    cleanup(&cache).await;
}
