//! Two instances of the service sharing one database and one Redis: what one forgets (a
//! revoked key, L1 answers) the other forgets within a second, through the cache's
//! invalidation channel, though its own auth cache would keep a key for a minute. Runs when
//! `TRIA_TEST_REDIS_URL` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::json;
use tria_agent::Agent;
use tria_cache::{AnswerCache, CacheConfig};
use tria_server::{AppState, ServiceSettings};

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, seeded_db};

fn redis_url() -> Option<String> {
    std::env::var("TRIA_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())
}

/// Two instances over one seeded database and one Redis (its own key prefix and channel).
async fn two_instances(url: &str) -> (TestApp, TestApp) {
    let prefix = format!("tria-test-{}", uuid::Uuid::new_v4().simple());
    // Long enough that only an invalidation, never the TTL, makes the other instance forget.
    let settings = ServiceSettings { auth_cache_ttl: Duration::from_secs(60), ..ServiceSettings::default() };
    let db = seeded_db().await;
    let instance = |store: tria_store::Store| {
        let (prefix, settings) = (prefix.clone(), settings.clone());
        async move {
            let config = CacheConfig { redis_url: Some(url.to_owned()), key_prefix: prefix, ..CacheConfig::default() };
            let cache = AnswerCache::connect(config, Duration::from_secs(3)).await.expect("cache");
            assert!(cache.invalidation_bus().is_some(), "Redis configured: invalidations are shared");
            let agent = Agent::builder(store.clone()).answer_cache(Arc::new(cache)).build();
            AppState::new(store, agent, Vec::new(), settings)
        }
    };
    let one = instance(db.store.clone()).await;
    let other_db = tria_testkit::sqlite().await;
    let two = instance(db.connect_again().await).await;
    (TestApp::from_state(one, db), TestApp::from_state(two, other_db))
}

/// Polls `check` until it holds or `within` has passed; whether it held.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A subscription is made in the background: wait until the channel carries messages both ways.
async fn wait_subscribed(one: &TestApp, two: &TestApp) {
    let tenant = one.db.store.tenants().find_by_slug("velo").await.expect("read").expect("velo").id;
    let listening = |app: &TestApp| {
        let bus = app.state.agent().answer_cache().invalidation_bus().expect("bus").clone();
        async move { bus.stats().received }
    };
    for (from, to) in [(one, two), (two, one)] {
        let before = listening(to).await;
        let heard = eventually(Duration::from_secs(5), || async {
            let cache = from.state.agent().answer_cache();
            cache.invalidate_level(tenant, tria_cache::CacheLevelName::L4).await.expect("invalidate");
            listening(to).await > before
        })
        .await;
        assert!(heard, "the other instance subscribed");
    }
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_by_the_other_within_a_second() {
    let Some(url) = redis_url() else {
        eprintln!("TRIA_TEST_REDIS_URL not set; cross-instance invalidation not tested");
        return;
    };
    let (one, two) = two_instances(&url).await;
    wait_subscribed(&one, &two).await;
    let admin = one.admin_key().await;
    // The other instance has verified (and remembered) the key.
    let (status, _, _) = two.call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::OK);

    let key = one.db.store.keys().authenticate(NORTHWIND_KEY).await.expect("read").expect("key");
    let (status, _, json) = one.call("DELETE", &format!("/admin/keys/{}", key.key_id), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let refused = eventually(Duration::from_secs(1), || async {
        two.call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(refused, "the other instance still accepted the revoked key a second later");
    // Only what was revoked: the other tenant's key still works there.
    let (status, _, _) = two.call("GET", "/api/v1/metrics/cache", Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(two.state.agent().answer_cache().invalidation_bus().expect("bus").stats().received >= 1);
}

#[tokio::test]
async fn an_l1_invalidation_on_one_instance_evicts_on_the_other() {
    let Some(url) = redis_url() else {
        eprintln!("TRIA_TEST_REDIS_URL not set; cross-instance invalidation not tested");
        return;
    };
    let (one, two) = two_instances(&url).await;
    wait_subscribed(&one, &two).await;
    let admin = one.admin_key().await;
    let question = json!({ "message": "What is the restocking fee on returns?" });
    let _ = two.chat(NORTHWIND_KEY, question.clone()).await;
    let (_, cached) = two.chat(NORTHWIND_KEY, question.clone()).await;
    assert_eq!(cached["cache"], "l1", "{cached}");
    let tenant = one.db.store.tenants().find_by_slug("northwind").await.expect("read").expect("northwind").id;
    let l1_entries = || async { two.state.agent().answer_cache().stats(tenant).await.levels[0].entries };
    assert!(l1_entries().await >= 1);

    let body = json!({ "tenant": "northwind", "level": "l1" });
    let (status, _, json) = one.call("POST", "/admin/cache/invalidate", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(eventually(Duration::from_secs(1), || async { l1_entries().await == 0 }).await, "evicted on the other instance");
    // Still in the shared level: the next answer comes from Redis, not from L1.
    let (_, again) = two.chat(NORTHWIND_KEY, question).await;
    assert_eq!(again["cache"], "l2", "{again}");
}
