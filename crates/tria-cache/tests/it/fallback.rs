//! Redis dies mid-run: requests keep succeeding from memory, health says degraded; Redis comes
//! back: the cache switches back by itself.

use std::time::{Duration, Instant};

use tria_cache::{AnswerCache, AnswerContext, CacheHealth};
use tria_core::{IntentLabel, TenantId};

use crate::support::*;

async fn wait_for(cache: &AnswerCache, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let health = cache.health().await;
        if health.as_str() == want {
            return;
        }
        assert!(Instant::now() < deadline, "health stayed {health:?}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn serves_from_memory_while_redis_is_down_and_switches_back() {
    let mut redis = PrivateRedis::start().await;
    let config = test_config(Some(redis.url()));
    let cache = AnswerCache::connect(config, Duration::from_secs(3)).await.expect("connects");
    assert_eq!(cache.health().await, CacheHealth::Ok);
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let questions: Vec<String> = (0..20).map(|i| format!("question number {i} about shipping")).collect();
    for q in &questions {
        cache.store(&query(tenant, q, &ctx), answer(&format!("answer to {q}"), IntentLabel::PolicyQuestion), None).await;
    }

    redis.kill();
    // Every request still succeeds, promptly, and gets its answer (L1, or memory behind L2).
    for (i, q) in questions.iter().enumerate() {
        let started = Instant::now();
        let hit = cache.lookup_exact(&query(tenant, q, &ctx)).await.expect("served while Redis is down");
        assert_eq!(hit.answer.reply, format!("answer to {q}"));
        // Bounded by the 50 ms Redis timeout, not by fred's seconds-long reconnect; the margin
        // is for a loaded CI machine.
        assert!(started.elapsed() < Duration::from_secs(1), "request {i} took {:?}", started.elapsed());
    }
    // New answers during the outage go to memory; the L1 bypass shows memory serving L2.
    let during = "asked during the outage";
    cache.store(&query(tenant, during, &ctx), answer("noted", IntentLabel::PolicyQuestion), None).await;
    cache.invalidate_level(tenant, tria_cache::CacheLevelName::L1).await.expect("l1 flush");
    let hit = cache.lookup_exact(&query(tenant, during, &ctx)).await.expect("memory serves L2");
    assert_eq!(hit.level, tria_core::CacheLevel::L2);
    wait_for(&cache, "degraded", Duration::from_secs(2)).await;
    let stats = cache.stats(tenant).await;
    assert!(stats.degraded, "{stats:?}");
    assert_eq!(stats.health, "degraded");
    assert!(stats.levels[1].fallbacks > 0, "fallbacks are counted: {stats:?}");
    assert!(cache.backend().stats().fallbacks > 0);

    redis.restart().await;
    wait_for(&cache, "ok", Duration::from_secs(5)).await;
    assert_eq!(cache.backend().stats().transitions, 2, "one switch each way");
    // Back on Redis: a write now reaches the restarted (empty) server and a sibling sees it.
    // A write right after the switch can still miss the short Redis timeout on a loaded machine
    // (it then lands in memory, by design), so the write is retried until a deadline: what must
    // hold is that writes reach Redis again, not that the very first one does.
    let sibling = AnswerCache::connect(cache.config().clone(), Duration::from_secs(3)).await.expect("connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    let seen = loop {
        cache.store(&query(tenant, "after recovery", &ctx), answer("back", IntentLabel::PolicyQuestion), None).await;
        if let Some(hit) = sibling.lookup_exact(&query(tenant, "after recovery", &ctx)).await {
            break Some(hit);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(seen.expect("a write after recovery reaches Redis").answer.reply, "back");
}

#[tokio::test]
async fn starts_degraded_when_redis_is_absent_and_still_serves() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let config = test_config(Some(format!("redis://127.0.0.1:{port}")));
    let cache = AnswerCache::connect(config, Duration::from_millis(300)).await.expect("constructs anyway");
    assert_eq!(cache.health().await.as_str(), "degraded");
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    cache.store(&query(tenant, "hi", &ctx), answer("hello", IntentLabel::Greeting), None).await;
    assert!(cache.lookup_exact(&query(tenant, "hi", &ctx)).await.is_some());
    cache.invalidate_tenant(tenant).await.expect("invalidation works in memory");
    assert!(cache.lookup_exact(&query(tenant, "hi", &ctx)).await.is_none());
}
