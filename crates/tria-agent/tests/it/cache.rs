//! The answer cache through `Agent::chat`: the reply's `cache` field says which level answered.

use std::sync::Arc;
use std::time::Duration;

use tria_agent::Agent;
use tria_cache::{AnswerCache, CacheConfig};
use tria_core::{CacheLevel, ChatRequest};

use crate::seeded;

fn request(message: &str, customer: Option<&str>) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: None, customer_id: customer.map(str::to_owned) }
}

#[tokio::test]
async fn repeated_questions_are_answered_from_l1_by_default() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let first = agent.chat(&tenant, request("What is your return policy?", None)).await.expect("chat");
    assert_eq!(first.cache, CacheLevel::None);
    let second = agent.chat(&tenant, request("what is your return policy", None)).await.expect("chat");
    assert_eq!(second.cache, CacheLevel::L1);
    assert_eq!(second.reply, first.reply);
    assert_eq!(second.intent.label, first.intent.label);
    // The cached exchange is stored like any other, with its level.
    let history = agent.history(&tenant, &second.session_id).await.expect("history");
    assert_eq!(history[1].cache.as_deref(), Some("l1"));
    let stats = agent.answer_cache().stats(tenant.id).await;
    assert_eq!((stats.hits, stats.misses), (1, 1));
    // No model wrote it (the offline responder): a hit on it saves nothing.
    assert_eq!(stats.tokens_saved, 0);
}

#[tokio::test]
async fn order_answers_are_never_shared_between_customers() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let question = "Where is my order?";
    let maya = agent.chat(&tenant, request(question, Some("CUST-1001"))).await.expect("chat");
    let daniel = agent.chat(&tenant, request(question, Some("CUST-1002"))).await.expect("chat");
    assert_eq!(maya.intent.label, tria_core::IntentLabel::OrderStatus, "{maya:?}");
    assert_eq!(daniel.cache, CacheLevel::None, "another customer never gets a cached order answer");
    assert!(maya.reply.contains("ORD-10001") && !daniel.reply.contains("ORD-10001"), "{} / {}", maya.reply, daniel.reply);
    // Order answers come from the live order rows (the order flow), so not even the same
    // customer gets a cached one: a status may have changed since.
    let maya_again = agent.chat(&tenant, request(question, Some("CUST-1001"))).await.expect("chat");
    assert_eq!(maya_again.cache, CacheLevel::None, "order answers are never cached");
    // Anonymous: no scope, so customer-specific answers are not cached.
    agent.chat(&tenant, request(question, None)).await.expect("chat");
    assert_eq!(agent.chat(&tenant, request(question, None)).await.expect("chat").cache, CacheLevel::None);
}

#[tokio::test]
async fn a_second_instance_answers_from_redis_and_reindexing_invalidates() {
    let url = std::env::var("TRIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let config = CacheConfig {
        redis_url: Some(url.clone()),
        key_prefix: format!("tria-test-{}", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    };
    let connect = || async {
        let cache = AnswerCache::connect(config.clone(), Duration::from_secs(3)).await.expect("cache");
        assert_eq!(cache.health().await.as_str(), "ok", "Redis is not reachable at {url}; these tests need it (CI has it)");
        Arc::new(cache)
    };
    let (db, tenant) = seeded().await;
    let one = Agent::builder(db.store.clone()).answer_cache(connect().await).build();
    let two = Agent::builder(db.store.clone()).answer_cache(connect().await).build();
    let q = "Do you offer net 30 payment terms?";
    assert_eq!(one.chat(&tenant, request(q, None)).await.expect("chat").cache, CacheLevel::None);
    assert_eq!(two.chat(&tenant, request(q, None)).await.expect("chat").cache, CacheLevel::L2);
    assert_eq!(two.chat(&tenant, request(q, None)).await.expect("chat").cache, CacheLevel::L1);
    one.reindexed(tenant.id).await.expect("reindex");
    assert_eq!(one.chat(&tenant, request(q, None)).await.expect("chat").cache, CacheLevel::None, "invalidated");
    let _ = one.answer_cache().invalidate_pattern(&format!("{}:*", config.key_prefix)).await;
}

#[tokio::test]
async fn warming_precomputes_faq_answers() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let faq = vec!["What are your support hours?".to_owned(), "How do returns work?".to_owned()];
    let report = agent.warm_cache(&tenant, &faq).await.expect("warm");
    assert_eq!(report.computed + report.not_cacheable, 2, "{report:?}");
    let again = agent.warm_cache(&tenant, &faq).await.expect("warm");
    assert_eq!(again.already_cached, report.computed);
    if report.computed > 0 {
        let hits = agent.chat(&tenant, request(&faq[0], None)).await.expect("chat");
        assert_ne!(hits.cache, CacheLevel::None);
    }
}
