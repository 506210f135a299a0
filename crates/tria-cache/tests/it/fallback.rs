//! Redis dies mid-run: requests keep succeeding from memory, health says degraded; Redis comes
//! back: the cache switches back by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tria_cache::{AnswerCache, AnswerContext, CacheBackend, CacheHealth, FallbackCache, MemoryCache, RedisCache};
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

/// Sends one command to a Redis on another connection and reads its one-line reply.
/// (Blocking, on loopback: a reply takes microseconds.)
fn redis_command(port: u16, args: &[&str]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    let mut frame = format!("*{}\r\n", args.len());
    for arg in args {
        frame.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(frame.as_bytes()).expect("send");
    let mut reply = vec![0u8; 256];
    let n = stream.read(&mut reply).expect("reply");
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

fn fallback_over(redis: &PrivateRedis) -> (FallbackCache, Arc<RedisCache>) {
    let primary = Arc::new(RedisCache::connect(&redis.url(), 2, Duration::from_millis(50)).expect("valid url"));
    let cache = FallbackCache::new(primary.clone(), MemoryCache::new(1 << 20), Duration::from_millis(100));
    (cache, primary)
}

/// A healthy Redis that is slow for one command (a loaded machine, a slow reply) is not an
/// outage: that request is served from memory without waiting, and health stays ok.
#[tokio::test]
async fn one_slow_command_does_not_flip_health() {
    let redis = PrivateRedis::start().await;
    let (cache, primary) = fallback_over(&redis);
    primary.wait_connected(Duration::from_secs(3)).await.expect("connects");
    cache.set("k", b"v".to_vec(), Duration::from_secs(60)).await.expect("set");
    assert_eq!(cache.health().await, CacheHealth::Ok);

    // Every client of this Redis is held for 300 ms: the next command misses its 50 ms deadline.
    assert!(redis_command(redis.port, &["CLIENT", "PAUSE", "300"]).starts_with("+OK"));
    let started = Instant::now();
    let value = cache.get("k").await.expect("served from memory");
    assert!(started.elapsed() < Duration::from_millis(250), "the request waited {:?}", started.elapsed());
    assert_eq!(value.as_deref(), Some(&b"v"[..]), "memory had the written-through value");
    assert_eq!(cache.stats().fallbacks, 1, "that one request fell back");
    assert!(!cache.is_degraded(), "one slow reply degraded the cache");
    assert_eq!(cache.health().await, CacheHealth::Ok);

    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..20 {
        cache.get("k").await.expect("get");
    }
    assert_eq!(cache.health().await, CacheHealth::Ok);
    assert_eq!(cache.stats().transitions, 0, "health never flipped: {:?}", cache.stats());
}

/// A Redis that is really gone (its process killed) switches the cache to memory at once, and
/// the probe switches it back after Redis restarts.
#[tokio::test]
async fn a_killed_redis_flips_health_fast_and_the_probe_brings_it_back() {
    let mut redis = PrivateRedis::start().await;
    let (cache, primary) = fallback_over(&redis);
    primary.wait_connected(Duration::from_secs(3)).await.expect("connects");
    cache.set("k", b"v".to_vec(), Duration::from_secs(60)).await.expect("set");

    redis.kill();
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(2);
    while !cache.is_degraded() {
        assert!(Instant::now() < deadline, "still healthy {:?} after Redis was killed", killed.elapsed());
        let started = Instant::now();
        assert_eq!(cache.get("k").await.expect("served").as_deref(), Some(&b"v"[..]));
        assert!(started.elapsed() < Duration::from_millis(500), "a request waited {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cache.health().await.as_str(), "degraded");
    assert_eq!(cache.stats().transitions, 1);

    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.health().await != CacheHealth::Ok {
        assert!(Instant::now() < deadline, "the probe did not switch back: {:?}", cache.health().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.stats().transitions, 2, "one switch each way");
    // And a write reaches the restarted Redis again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        cache.set("after", b"back".to_vec(), Duration::from_secs(60)).await.expect("set");
        if primary.get("after").await.ok().flatten().as_deref() == Some(&b"back"[..]) {
            break;
        }
        assert!(Instant::now() < deadline, "writes do not reach Redis after recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
