//! Providers' 429 hold-offs shared through Redis ([`RedisHoldOff`]), so a `Retry-After` one
//! replica was given holds every replica back: one key per provider key (`{prefix}:llm:hold:
//! openai/gpt-4o-mini`) that expires when the hold-off ends. It reuses the rate limiter's
//! connection pool and its view of whether Redis is up, as the spend budget does; while Redis
//! is down or slow the guard keeps its in-process hold-off.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::Pool;
use fred::types::scripts::Script;
use tria_llm::{HoldOffError, SharedHoldOff};

use crate::ratelimit::{RateLimiter, RedisHealth};

/// KEYS[1]: the hold-off. ARGV[1]: its length in ms. Sets it unless a longer one is in place.
const HOLD_LUA: &str = r"
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
";

/// Hold-offs in Redis; cheap to share (`Arc`).
pub struct RedisHoldOff {
    pool: Pool,
    health: Option<RedisHealth>,
    hold: Script,
    key_prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisHoldOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHoldOff").field("key_prefix", &self.key_prefix).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl RedisHoldOff {
    /// Hold-offs in the Redis of `pool` under `key_prefix`; `timeout` bounds each command.
    pub fn new(pool: Pool, key_prefix: &str, timeout: Duration) -> Self {
        Self { pool, health: None, hold: Script::from_lua(HOLD_LUA), key_prefix: key_prefix.to_owned(), timeout }
    }

    /// Through `limiter`'s Redis pool when its limits are shared (skipping Redis while the
    /// limiter knows it is down); `None` without Redis.
    pub fn beside(limiter: &RateLimiter, key_prefix: &str, timeout: Duration) -> Option<Self> {
        let pool = limiter.redis_pool()?.clone();
        Some(Self { health: limiter.redis_health(), ..Self::new(pool, key_prefix, timeout) })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:llm:hold:{key}", self.key_prefix)
    }

    fn check_up(&self) -> Result<(), HoldOffError> {
        match &self.health {
            Some(health) if !health.is_up() => Err(HoldOffError::Unavailable("Redis is down".into())),
            _ => Ok(()),
        }
    }
}

fn unavailable(error: fred::error::Error) -> HoldOffError {
    HoldOffError::Unavailable(error.to_string())
}

#[async_trait]
impl SharedHoldOff for RedisHoldOff {
    async fn held_for(&self, key: &str) -> Result<Option<Duration>, HoldOffError> {
        use fred::prelude::KeysInterface;
        self.check_up()?;
        let call = self.pool.next().pttl::<i64, _>(self.key(key));
        let left = tokio::time::timeout(self.timeout, call).await.map_err(|_| HoldOffError::Timeout)?.map_err(unavailable)?;
        // -2: no key; -1: a key without expiry (never written by `hold`): not a hold-off.
        Ok(u64::try_from(left).ok().filter(|ms| *ms > 0).map(Duration::from_millis))
    }

    async fn hold(&self, key: &str, duration: Duration) -> Result<(), HoldOffError> {
        self.check_up()?;
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1);
        let call = self.hold.evalsha_with_reload::<i64, _, _>(self.pool.next(), vec![self.key(key)], vec![ms.to_string()]);
        tokio::time::timeout(self.timeout, call).await.map_err(|_| HoldOffError::Timeout)?.map_err(unavailable)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::LimitSettings;

    fn redis_url() -> Option<String> {
        std::env::var("TRIA_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())
    }

    #[tokio::test]
    async fn a_hold_off_is_seen_by_another_client_until_it_expires_and_a_longer_one_stays() {
        // Without TRIA_TEST_REDIS_URL there is no Redis to share through (CI sets it).
        let Some(url) = redis_url() else { return };
        let prefix = format!("tria-test-{}", uuid::Uuid::new_v4().simple());
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let limiter = RateLimiter::shared(&LimitSettings::default(), &url, &prefix, Duration::from_millis(500)).expect("redis config");
            assert!(limiter.wait_connected(Duration::from_secs(3)).await, "redis reachable");
            replicas.push((RedisHoldOff::beside(&limiter, &prefix, Duration::from_millis(500)).expect("shared"), limiter));
        }
        let (one, two) = (&replicas[0].0, &replicas[1].0);
        assert_eq!(two.held_for("openai/m").await, Ok(None));
        one.hold("openai/m", Duration::from_millis(300)).await.expect("hold");
        let left = two.held_for("openai/m").await.expect("read").expect("held");
        assert!(left <= Duration::from_millis(300) && left > Duration::from_millis(100), "{left:?}");
        assert_eq!(two.held_for("anthropic/m").await, Ok(None), "one key per provider");
        two.hold("openai/m", Duration::from_millis(50)).await.expect("hold");
        assert!(one.held_for("openai/m").await.expect("read").is_some_and(|d| d > Duration::from_millis(100)), "the longer hold stays");
        tokio::time::sleep(Duration::from_millis(320)).await;
        assert_eq!(one.held_for("openai/m").await, Ok(None), "expired with the Retry-After");
    }

    #[test]
    fn without_shared_limits_there_is_no_shared_hold_off() {
        let limiter = RateLimiter::local(&LimitSettings::default());
        assert!(RedisHoldOff::beside(&limiter, "tria", Duration::from_millis(20)).is_none());
    }
}
