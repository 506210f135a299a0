//! Invalidation per tenant (generation bump), per level and by pattern (SCAN + UNLINK).

use std::time::Duration;

use tria_cache::{AnswerContext, CacheBackend, CacheLevelName};
use tria_core::{IntentLabel, TenantId};

use crate::support::*;

#[tokio::test]
async fn tenant_invalidation_retires_everything_of_that_tenant_only() {
    let cache = redis_cache(|_| {}).await;
    let other_instance = sibling(&cache).await;
    let (a, b) = (TenantId::new_random(), TenantId::new_random());
    let ctx = AnswerContext::default();
    for t in [a, b] {
        cache.store(&query(t, "what is your warranty", &ctx), answer("1 year", IntentLabel::PolicyQuestion), Some(&[1.0, 0.0, 0.5])).await;
    }
    assert!(other_instance.lookup_exact(&query(a, "what is your warranty", &ctx)).await.is_some());
    let generation = cache.invalidate_tenant(a).await.expect("bump");
    assert_eq!(generation, 1);
    assert!(cache.lookup_exact(&query(a, "what is your warranty", &ctx)).await.is_none());
    assert!(cache.lookup_semantic(a, IntentLabel::PolicyQuestion, "warranty?", &[1.0, 0.0, 0.5]).await.is_none());
    assert!(cache.lookup_exact(&query(b, "what is your warranty", &ctx)).await.is_some(), "tenant B untouched");
    // Another instance sees the new generation within its refresh interval.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(other_instance.lookup_exact(&query(a, "what is your warranty", &ctx)).await.is_none());
    assert!(other_instance.lookup_exact(&query(b, "what is your warranty", &ctx)).await.is_some());
    cleanup(&cache).await;
}

#[tokio::test]
async fn pattern_and_level_invalidation_use_scan_and_unlink() {
    let cache = redis_cache(|_| {}).await;
    let (a, b) = (TenantId::new_random(), TenantId::new_random());
    let ctx = AnswerContext::default();
    for i in 0..1200 {
        cache.store(&query(a, &format!("question {i}"), &ctx), answer("x", IntentLabel::PolicyQuestion), None).await;
    }
    cache.store(&query(b, "question 1", &ctx), answer("y", IntentLabel::PolicyQuestion), None).await;
    let prefix = cache.config().key_prefix.clone();
    let removed = cache.invalidate_pattern(&format!("{prefix}:{a}:l2:*")).await.expect("pattern");
    assert_eq!(removed, 1200, "more than one SCAN page");
    assert!(cache.lookup_exact(&query(a, "question 7", &ctx)).await.is_none(), "gone from L1 and Redis");
    assert!(cache.lookup_exact(&query(b, "question 1", &ctx)).await.is_some());

    let removed = cache.invalidate_level(b, CacheLevelName::L2).await.expect("level");
    assert_eq!(removed, 1);
    assert!(cache.lookup_exact(&query(b, "question 1", &ctx)).await.is_none());
    cleanup(&cache).await;
}

/// `POST /admin/cache/invalidate {"pattern": "*"}` used to UNLINK every key in the Redis
/// database: other applications' keys and Tria's own rate-limit and budget counters. A pattern
/// is a glob over cache entries only. A private redis-server, as `*` is the whole database.
#[tokio::test]
async fn a_pattern_matches_cache_entries_only_never_other_keys_in_the_database() {
    let redis = PrivateRedis::start().await;
    let mut config = test_config(Some(redis.url()));
    config.key_prefix = "tria".into();
    let cache = tria_cache::AnswerCache::connect(config, Duration::from_secs(3)).await.expect("connects");
    let raw = tria_cache::RedisCache::connect(&redis.url(), 1, Duration::from_secs(1)).expect("redis url");
    raw.wait_connected(Duration::from_secs(3)).await.expect("connected");
    let tenant = TenantId::new_random();
    let others = [
        "other-app:session:42".to_owned(),
        format!("tria:rl:{tenant}"),
        format!("tria:budget:{{{tenant}}}:h:2026120606"),
        format!("tria:{tenant}:gen"),
    ];
    for key in &others {
        raw.set(key, b"1".to_vec(), Duration::from_secs(60)).await.expect("set");
    }
    let ctx = AnswerContext::default();
    for pattern in ["*", "tria:*"] {
        cache
            .store(&query(tenant, "what is your warranty", &ctx), answer("1 year", IntentLabel::PolicyQuestion), Some(&[1.0, 0.0, 0.5]))
            .await;
        assert!(cache.lookup_exact(&query(tenant, "what is your warranty", &ctx)).await.is_some());
        let removed = cache.invalidate_pattern(pattern).await.expect("pattern");
        assert!(removed >= 1, "{pattern}: the cache entries went ({removed})");
        assert!(cache.lookup_exact(&query(tenant, "what is your warranty", &ctx)).await.is_none(), "{pattern}");
        for key in &others {
            assert_eq!(raw.get(key).await.expect("get"), Some(b"1".to_vec()), "{pattern} left `{key}` alone");
        }
    }
}
