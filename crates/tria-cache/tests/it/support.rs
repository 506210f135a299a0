//! Shared helpers: a Redis-backed cache with a private key prefix, a private redis-server.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tria_cache::{AnswerCache, AnswerContext, AnswerQuery, CacheConfig, RedisCache};
use tria_core::{Answer, IntentLabel, TenantId};

pub(crate) fn redis_url() -> String {
    std::env::var("TRIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Fails the test with a clear message when Redis is not there: CI always has one.
pub(crate) async fn require_redis(url: &str) {
    let redis = RedisCache::connect(url, 1, Duration::from_millis(500)).expect("valid redis url");
    if let Err(e) = redis.wait_connected(Duration::from_secs(3)).await {
        panic!(
            "Redis is not reachable at {url} ({e}). These tests need a real Redis: start one with \
             `redis-server --port 6379 --save '' --appendonly no` or set TRIA_TEST_REDIS_URL."
        );
    }
    redis.ping().await.unwrap_or_else(|e| panic!("Redis at {url} does not answer PING: {e}"));
}

pub(crate) fn unique_prefix() -> String {
    format!("tria-test-{}", uuid::Uuid::new_v4().simple())
}

/// Settings for a test: its own prefix, short probe interval.
pub(crate) fn test_config(url: Option<String>) -> CacheConfig {
    CacheConfig { redis_url: url, key_prefix: unique_prefix(), probe_interval: Duration::from_millis(100), ..CacheConfig::default() }
}

/// A Redis-backed cache on the shared Redis with its own key prefix.
pub(crate) async fn redis_cache(edit: impl FnOnce(&mut CacheConfig)) -> AnswerCache {
    let url = redis_url();
    require_redis(&url).await;
    let mut config = test_config(Some(url));
    edit(&mut config);
    AnswerCache::connect(config, Duration::from_secs(3)).await.expect("cache connects")
}

/// A second instance sharing the first one's Redis and prefix (another server process).
pub(crate) async fn sibling(cache: &AnswerCache) -> AnswerCache {
    AnswerCache::connect(cache.config().clone(), Duration::from_secs(3)).await.expect("cache connects")
}

/// Removes everything a test wrote (generation counters too, which `invalidate_pattern` leaves).
pub(crate) async fn cleanup(cache: &AnswerCache) {
    let _ = cache.invalidate_pattern(&format!("{}:*", cache.config().key_prefix)).await;
    let _ = cache.backend().delete_prefix(&format!("{}:", cache.config().key_prefix)).await;
}

pub(crate) fn answer(text: &str, intent: IntentLabel) -> Arc<Answer> {
    Arc::new(Answer::new(text, intent, 0.9).with_tokens(tria_cache::count_tokens(text) + 500))
}

pub(crate) fn query<'a>(tenant: TenantId, message: &'a str, context: &'a AnswerContext) -> AnswerQuery<'a> {
    AnswerQuery { tenant, message, context }
}

/// A private `redis-server` on a free port, killed on drop.
pub(crate) struct PrivateRedis {
    pub(crate) port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub(crate) async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server (is it installed?): {e}"));
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("private redis-server on port {} did not start", self.port);
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
