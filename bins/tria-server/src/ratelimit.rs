//! Per-tenant and per-customer request rate limits (GCRA). With Redis, one Lua script per check keeps the
//! theoretical arrival time in Redis, so every instance behind the same Redis shares the limit;
//! replicas that each kept their own bucket would let N× the limit through. When Redis is not
//! configured, or fails or is slow on a check, the per-instance `governor` limiter decides:
//! a limiter outage must not become a chat outage.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{ClientLike, Config, Pool, ReconnectPolicy};
use fred::types::Builder;
use fred::types::scripts::Script;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Governor};
use tria_core::{TenantContext, TenantId};

use crate::state::LimitSettings;

/// GCRA over Redis server time (microseconds), so instance clocks never disagree.
/// KEYS[1]: the tenant's key. ARGV[1]: emission interval in µs. ARGV[2]: burst.
/// Returns {allowed (0|1), retry_after_us, remaining}.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local tolerance = emission * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now, 0}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0, math.floor((now - allow_at) / emission)}
";

/// Per-instance limiters kept at most (customers are unbounded); beyond it the customer
/// limiters are dropped and start afresh — only reached while Redis is down, and it errs on
/// the side of letting customers through rather than growing without bound.
const MAX_LOCAL_LIMITERS: usize = 50_000;

/// A tenant's limit: sustained rate and burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: u32,
}

impl Limit {
    /// The configured default, overridden by the tenant's `settings.rate_limit`
    /// (`{"per_second": 5, "burst": 10}`). `None` when the limit is off.
    fn for_tenant(defaults: &LimitSettings, tenant: &TenantContext) -> Option<Self> {
        let own = tenant.settings.get("rate_limit");
        let per_second = own.and_then(|o| o.get("per_second")).and_then(serde_json::Value::as_f64).unwrap_or(defaults.tenant_per_second);
        let burst = own
            .and_then(|o| o.get("burst"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(defaults.tenant_burst)
            .max(1);
        (per_second.is_finite() && per_second > 0.0).then_some(Self { per_second, burst })
    }

    /// The configured per-customer default, overridden by the tenant's
    /// `settings.rate_limit.customer_per_second` / `customer_burst`. `None` when off.
    fn for_customer(defaults: &LimitSettings, tenant: &TenantContext) -> Option<Self> {
        let own = tenant.settings.get("rate_limit");
        let per_second =
            own.and_then(|o| o.get("customer_per_second")).and_then(serde_json::Value::as_f64).unwrap_or(defaults.customer_per_second);
        let burst = own
            .and_then(|o| o.get("customer_burst"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(defaults.customer_burst)
            .max(1);
        (per_second.is_finite() && per_second > 0.0).then_some(Self { per_second, burst })
    }

    fn emission(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second).max(Duration::from_micros(1))
    }
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    Allowed { limit: u32, remaining: u32 },
    Limited { limit: u32, retry_after: Duration },
}

type Local = Governor<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

struct Shared {
    pool: Pool,
    script: Script,
    key_prefix: String,
    timeout: Duration,
}

/// The limiter the server consults for every tenant request.
pub struct RateLimiter {
    defaults: LimitSettings,
    /// Keyed like the Redis keys (without the prefix): `{tenant}` or `{tenant}:c:{customer hash}`.
    local: Mutex<HashMap<String, (Limit, Arc<Local>)>>,
    shared: Option<Shared>,
    limited: AtomicU64,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("defaults", &self.defaults).field("shared", &self.shared.is_some()).finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Per-instance limits only.
    pub fn local(defaults: &LimitSettings) -> Self {
        Self {
            defaults: defaults.clone(),
            local: Mutex::new(HashMap::new()),
            shared: None,
            limited: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// Limits shared through Redis at `url`; connects in the background, so a Redis that is
    /// down at start-up only means per-instance limits until it is back. `timeout` bounds each check.
    pub fn shared(defaults: &LimitSettings, url: &str, key_prefix: &str, timeout: Duration) -> Result<Self, fred::error::Error> {
        let mut config = Config::from_url(url)?;
        config.fail_fast = true;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_millis(500);
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .set_policy(ReconnectPolicy::new_constant(0, 500))
            .build_pool(2)?;
        pool.connect();
        let mut limiter = Self::local(defaults);
        limiter.shared = Some(Shared { pool, script: Script::from_lua(GCRA_LUA), key_prefix: key_prefix.to_owned(), timeout });
        Ok(limiter)
    }

    /// Waits up to `wait` for Redis (tests and start-up logging); false if it did not answer.
    pub async fn wait_connected(&self, wait: Duration) -> bool {
        match &self.shared {
            Some(shared) => matches!(tokio::time::timeout(wait, shared.pool.wait_for_connect()).await, Ok(Ok(()))),
            None => false,
        }
    }

    /// Counts one request of `tenant` against its limit.
    pub async fn check(&self, tenant: &TenantContext) -> Decision {
        let Some(limit) = Limit::for_tenant(&self.defaults, tenant) else {
            return Decision::Allowed { limit: 0, remaining: 0 };
        };
        self.check_key(tenant.id.to_string(), limit).await
    }

    /// Counts one request through a publishable widget key of `tenant`. Widget traffic has a
    /// bucket of its own at the tenant's rate: the key is public, and a flood through it must
    /// not use up the limit the tenant's own server (its tenant keys) chats within.
    pub async fn check_widget(&self, tenant: &TenantContext) -> Decision {
        let Some(limit) = Limit::for_tenant(&self.defaults, tenant) else {
            return Decision::Allowed { limit: 0, remaining: 0 };
        };
        self.check_key(format!("{}:widget", tenant.id), limit).await
    }

    /// Counts one request of `customer` (the tenant's own customer id, or the OpenAI `user`)
    /// against the per-customer limit inside `tenant`.
    pub async fn check_customer(&self, tenant: &TenantContext, customer: &str) -> Decision {
        let Some(limit) = Limit::for_customer(&self.defaults, tenant) else {
            return Decision::Allowed { limit: 0, remaining: 0 };
        };
        self.check_key(customer_key(tenant.id, customer), limit).await
    }

    /// The Redis connection pool when limits are shared (the spend budget reuses it).
    pub fn redis_pool(&self) -> Option<&Pool> {
        self.shared.as_ref().map(|s| &s.pool)
    }

    async fn check_key(&self, key: String, limit: Limit) -> Decision {
        let decision = match &self.shared {
            // Boxed: the Redis round trip's future is kilobytes that every request without
            // shared limits would otherwise carry.
            Some(shared) => match Box::pin(shared.check(&key, limit)).await {
                Ok(decision) => decision,
                Err(err) => {
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %err, "shared rate limit unavailable; using the per-instance limit");
                    self.check_local(key, limit)
                }
            },
            None => self.check_local(key, limit),
        };
        if matches!(decision, Decision::Limited { .. }) {
            self.limited.fetch_add(1, Ordering::Relaxed);
        }
        decision
    }

    fn check_local(&self, key: String, limit: Limit) -> Decision {
        let limiter = {
            let Ok(mut map) = self.local.lock() else {
                return Decision::Allowed { limit: limit.burst, remaining: 0 };
            };
            if map.len() >= MAX_LOCAL_LIMITERS && !map.contains_key(&key) {
                map.retain(|k, _| !k.contains(":c:"));
            }
            match map.get(&key) {
                Some((known, limiter)) if *known == limit => limiter.clone(),
                _ => {
                    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
                    let quota = Quota::with_period(limit.emission()).map_or_else(|| Quota::per_second(burst), |q| q.allow_burst(burst));
                    let limiter = Arc::new(Governor::direct(quota).with_middleware::<StateInformationMiddleware>());
                    map.insert(key, (limit, limiter.clone()));
                    limiter
                }
            }
        };
        match limiter.check() {
            Ok(snapshot) => Decision::Allowed { limit: limit.burst, remaining: snapshot.remaining_burst_capacity() },
            Err(not_until) => {
                Decision::Limited { limit: limit.burst, retry_after: not_until.wait_time_from(DefaultClock::default().now()) }
            }
        }
    }

    /// Requests refused so far (for `/metrics`).
    pub fn limited_total(&self) -> u64 {
        self.limited.load(Ordering::Relaxed)
    }
    /// Checks decided per instance because Redis failed.
    pub fn fallback_total(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }
}

/// Customer ids are the tenant's own strings (any length, any characters): the key holds a
/// digest, so keys stay short and one tenant's customers never collide with another's.
fn customer_key(tenant: TenantId, customer: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(customer.as_bytes());
    format!("{tenant}:c:{}", hex::encode(&digest[..16]))
}

impl Shared {
    async fn check(&self, subject: &str, limit: Limit) -> Result<Decision, String> {
        let key = format!("{}:rl:{subject}", self.key_prefix);
        let emission_us = u64::try_from(limit.emission().as_micros()).unwrap_or(u64::MAX).max(1);
        let client = self.pool.next();
        let call =
            self.script.evalsha_with_reload::<Vec<i64>, _, _>(client, vec![key], vec![emission_us.to_string(), limit.burst.to_string()]);
        let reply = tokio::time::timeout(self.timeout, call).await.map_err(|_| "timed out".to_owned())?.map_err(|e| e.to_string())?;
        match reply.as_slice() {
            [1, _, remaining] => Ok(Decision::Allowed { limit: limit.burst, remaining: u32::try_from(*remaining).unwrap_or(0) }),
            [0, wait_us, _] => {
                Ok(Decision::Limited { limit: limit.burst, retry_after: Duration::from_micros(u64::try_from(*wait_us).unwrap_or(0)) })
            }
            other => Err(format!("unexpected script reply {other:?}")),
        }
    }
}
