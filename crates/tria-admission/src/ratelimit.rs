//! Per-tenant and per-customer request rate limits (GCRA). With Redis, one Lua script per check keeps the
//! theoretical arrival time in Redis, so every instance behind the same Redis shares the limit;
//! replicas that each kept their own bucket would let N× the limit through. When Redis is not
//! configured, or fails or is slow on a check, the per-instance `governor` limiter decides:
//! a limiter outage must not become a chat outage.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fred::prelude::Pool;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Governor};
use serde_json::Value;
use tria_core::{TenantContext, TenantId};

use crate::limits::LimitSettings;

mod shared;

pub use shared::RedisHealth;

use shared::Shared;

/// The slowest and fastest sustained rates a tenant's `settings.rate_limit` may set (besides 0,
/// which turns the limit off); the admin API refuses others (the server's `tenant_settings`).
pub const MIN_PER_SECOND: f64 = 1e-6;
pub const MAX_PER_SECOND: f64 = 1e6;
/// The largest burst a tenant's settings may set.
pub const MAX_BURST: u64 = 1_000_000;
/// The longest a full bucket may take to refill: a slow rate with a large burst is capped here,
/// so the GCRA tolerance (emission × burst) stays far inside `governor`'s u64 nanoseconds.
const MAX_TOLERANCE: Duration = Duration::from_secs(3 * 365 * 24 * 3600);
/// Tenants whose stored bad settings were logged (each once); past this, no more are logged.
const MAX_LOGGED_TENANTS: usize = 10_000;

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

/// One value read from a tenant's settings.
enum Setting<T> {
    Absent,
    Valid(T),
    /// Stored before settings were checked (the admin API refuses it now): the default applies.
    Invalid,
}

fn per_second_setting(value: Option<&Value>) -> Setting<f64> {
    match value {
        None | Some(Value::Null) => Setting::Absent,
        Some(value) => match value.as_f64() {
            Some(rate) if rate == 0.0 || (MIN_PER_SECOND..=MAX_PER_SECOND).contains(&rate) => Setting::Valid(rate),
            _ => Setting::Invalid,
        },
    }
}

fn burst_setting(value: Option<&Value>) -> Setting<u32> {
    match value {
        None | Some(Value::Null) => Setting::Absent,
        Some(value) => match value.as_u64().filter(|b| (1..=MAX_BURST).contains(b)).and_then(|b| u32::try_from(b).ok()) {
            Some(burst) => Setting::Valid(burst),
            None => Setting::Invalid,
        },
    }
}

impl Limit {
    /// The configured default (`rate`, `burst`), overridden by the tenant's
    /// `settings.rate_limit.<rate_key>` / `<burst_key>`. `None` when the limit is off (a rate of
    /// 0). A stored value out of range means the default, and `true` (a fault to report).
    fn from_settings(tenant: &TenantContext, keys: (&str, &str), defaults: (f64, u32)) -> (Option<Self>, bool) {
        let mut fault = false;
        let own = match tenant.settings.get("rate_limit") {
            None | Some(Value::Null) => None,
            Some(own @ Value::Object(_)) => Some(own),
            Some(_) => {
                fault = true;
                None
            }
        };
        let per_second = match per_second_setting(own.and_then(|o| o.get(keys.0))) {
            Setting::Valid(rate) => rate,
            Setting::Absent => defaults.0,
            Setting::Invalid => {
                fault = true;
                defaults.0
            }
        };
        let burst = match burst_setting(own.and_then(|o| o.get(keys.1))) {
            Setting::Valid(burst) => burst,
            Setting::Absent => defaults.1,
            Setting::Invalid => {
                fault = true;
                defaults.1
            }
        };
        let limit = (per_second.is_finite() && per_second > 0.0).then_some(Self { per_second, burst: burst.max(1) });
        (limit, fault)
    }

    /// The configured default, overridden by the tenant's `settings.rate_limit`
    /// (`{"per_second": 5, "burst": 10}`).
    fn for_tenant(defaults: &LimitSettings, tenant: &TenantContext) -> (Option<Self>, bool) {
        Self::from_settings(tenant, ("per_second", "burst"), (defaults.tenant_per_second, defaults.tenant_burst))
    }

    /// The configured per-customer default, overridden by the tenant's
    /// `settings.rate_limit.customer_per_second` / `customer_burst`.
    fn for_customer(defaults: &LimitSettings, tenant: &TenantContext) -> (Option<Self>, bool) {
        Self::from_settings(tenant, ("customer_per_second", "customer_burst"), (defaults.customer_per_second, defaults.customer_burst))
    }

    /// The time one request uses up. Total: any rate (NaN, negative, tiny, huge) is clamped into
    /// the range settings may hold, so no value can make it panic.
    fn emission(self) -> Duration {
        let per_second = if self.per_second.is_nan() { MIN_PER_SECOND } else { self.per_second.clamp(MIN_PER_SECOND, MAX_PER_SECOND) };
        Duration::try_from_secs_f64(per_second.recip()).unwrap_or(Duration::from_secs(1_000_000)).max(Duration::from_micros(1))
    }

    /// The burst as the GCRA uses it: at most what refills within [`MAX_TOLERANCE`].
    fn tolerated_burst(self) -> u32 {
        let most = MAX_TOLERANCE.as_nanos() / self.emission().as_nanos().max(1);
        u32::try_from(most.min(u128::from(self.burst))).unwrap_or(u32::MAX).max(1)
    }
}

/// Why shared limits could not be set up (a Redis URL fred cannot use).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RateLimiterError(#[from] fred::error::Error);

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    Allowed { limit: u32, remaining: u32 },
    Limited { limit: u32, retry_after: Duration },
}

type Local = Governor<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// The limiter the server consults for every tenant request.
pub struct RateLimiter {
    defaults: LimitSettings,
    /// Keyed like the Redis keys (without the prefix): `{tenant}` or `{tenant}:c:{customer hash}`.
    local: Mutex<HashMap<String, (Limit, Arc<Local>)>>,
    shared: Option<Shared>,
    limited: AtomicU64,
    fallbacks: AtomicU64,
    faults: AtomicU64,
    /// Tenants whose bad stored settings have been logged.
    logged_tenants: Mutex<HashSet<TenantId>>,
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
            faults: AtomicU64::new(0),
            logged_tenants: Mutex::new(HashSet::new()),
        }
    }

    /// Limits shared through Redis at `url`; connects in the background, so a Redis that is
    /// down at start-up only means per-instance limits until it answers (it is retried for ever).
    /// `timeout` bounds each check; while Redis is known down a check does not wait on it at all.
    /// Must be called inside a Tokio runtime.
    pub fn shared(defaults: &LimitSettings, url: &str, key_prefix: &str, timeout: Duration) -> Result<Self, RateLimiterError> {
        let mut limiter = Self::local(defaults);
        limiter.shared = Some(Shared::connect(url, key_prefix, timeout)?);
        Ok(limiter)
    }

    /// Waits up to `wait` for Redis to answer (tests and start-up logging); false if it did not.
    pub async fn wait_connected(&self, wait: Duration) -> bool {
        match &self.shared {
            Some(shared) => shared.wait_connected(wait).await,
            None => false,
        }
    }

    /// Counts one request of `tenant` against its limit.
    pub async fn check(&self, tenant: &TenantContext) -> Decision {
        let Some(limit) = self.noting_faults(tenant, Limit::for_tenant(&self.defaults, tenant)) else {
            return Decision::Allowed { limit: 0, remaining: 0 };
        };
        self.check_key(tenant.id.to_string(), limit).await
    }

    /// Counts one request through a publishable widget key of `tenant`. Widget traffic has a
    /// bucket of its own at the tenant's rate: the key is public, and a flood through it must
    /// not use up the limit the tenant's own server (its tenant keys) chats within.
    pub async fn check_widget(&self, tenant: &TenantContext) -> Decision {
        let Some(limit) = self.noting_faults(tenant, Limit::for_tenant(&self.defaults, tenant)) else {
            return Decision::Allowed { limit: 0, remaining: 0 };
        };
        self.check_key(format!("{}:widget", tenant.id), limit).await
    }

    /// Counts one request of `customer` (the tenant's own customer id, or the OpenAI `user`)
    /// against the per-customer limit inside `tenant`.
    pub async fn check_customer(&self, tenant: &TenantContext, customer: &str) -> Decision {
        let Some(limit) = self.noting_faults(tenant, Limit::for_customer(&self.defaults, tenant)) else {
            return Decision::Allowed { limit: 0, remaining: 0 };
        };
        self.check_key(customer_key(tenant.id, customer), limit).await
    }

    /// The Redis connection pool when limits are shared (the spend budget reuses it).
    pub fn redis_pool(&self) -> Option<&Pool> {
        self.shared.as_ref().map(Shared::pool)
    }

    /// Whether the shared limits' Redis is up now (`None` without Redis).
    pub fn redis_health(&self) -> Option<RedisHealth> {
        self.shared.as_ref().map(Shared::health)
    }

    /// A bad stored setting is counted each time and logged once per tenant.
    fn noting_faults(&self, tenant: &TenantContext, (limit, fault): (Option<Limit>, bool)) -> Option<Limit> {
        if fault {
            self.faults.fetch_add(1, Ordering::Relaxed);
            let mut logged = self.logged_tenants.lock().unwrap_or_else(PoisonError::into_inner);
            if logged.len() < MAX_LOGGED_TENANTS && logged.insert(tenant.id) {
                tracing::warn!(
                    tenant = %tenant.slug,
                    "settings.rate_limit holds a value out of range (stored before settings were checked); the configured default applies until it is corrected"
                );
            }
        }
        limit
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

    /// The per-instance limiters. Nothing panics while the lock is held; should a lock ever be
    /// poisoned all the same, the limiters start afresh (what a panic left half-done is not
    /// trusted), the fault is counted and logged, and checks go on limiting: a poisoned lock
    /// used to let every request of every tenant through until restart.
    fn local_limiters(&self) -> MutexGuard<'_, HashMap<String, (Limit, Arc<Local>)>> {
        self.local.lock().unwrap_or_else(|poisoned| {
            let mut map = poisoned.into_inner();
            map.clear();
            self.local.clear_poison();
            self.faults.fetch_add(1, Ordering::Relaxed);
            tracing::error!("the per-instance rate limiters' lock was poisoned; limiting again with fresh limiters");
            map
        })
    }

    fn check_local(&self, key: String, limit: Limit) -> Decision {
        let limiter = {
            let mut map = self.local_limiters();
            if map.len() >= MAX_LOCAL_LIMITERS && !map.contains_key(&key) {
                map.retain(|k, _| !k.contains(":c:"));
            }
            match map.get(&key) {
                Some((known, limiter)) if *known == limit => limiter.clone(),
                _ => {
                    let burst = NonZeroU32::new(limit.tolerated_burst()).unwrap_or(NonZeroU32::MIN);
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
    /// Checks decided per instance because Redis failed or was known to be down.
    pub fn fallback_total(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
    /// Checks that met a fault and were decided fail-safe: a stored setting out of range (the
    /// default applied) or a poisoned lock (fresh limiters).
    pub fn faults_total(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }
    /// With shared limits: whether Redis is taken to answer now (checks go to it). `None`
    /// when limits are per instance by configuration.
    pub fn shared_up(&self) -> Option<bool> {
        self.shared.as_ref().map(Shared::is_up)
    }
    /// With shared limits: how often they switched between shared and per instance.
    pub fn shared_transitions(&self) -> u64 {
        self.shared.as_ref().map_or(0, Shared::transitions)
    }
}

/// Customer ids are the tenant's own strings (any length, any characters): the key holds a
/// digest, so keys stay short and one tenant's customers never collide with another's.
fn customer_key(tenant: TenantId, customer: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(customer.as_bytes());
    format!("{tenant}:c:{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defaults(per_second: f64, burst: u32) -> LimitSettings {
        LimitSettings { tenant_per_second: per_second, tenant_burst: burst, ..LimitSettings::default() }
    }

    fn tenant(settings: Value) -> TenantContext {
        TenantContext { id: TenantId(uuid::Uuid::new_v4()), slug: "t".into(), name: "T".into(), tone: Default::default(), settings }
    }

    #[test]
    fn emission_is_total_for_any_rate() {
        for per_second in [1e-30, 0.0, -5.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, 1e300, f64::MAX] {
            let limit = Limit { per_second, burst: u32::MAX };
            let emission = limit.emission();
            assert!(emission >= Duration::from_micros(1) && emission <= Duration::from_secs(1_000_000), "{per_second}: {emission:?}");
            assert!(u128::from(limit.tolerated_burst()) * emission.as_nanos() <= MAX_TOLERANCE.as_nanos() + emission.as_nanos());
        }
        assert_eq!(Limit { per_second: 4.0, burst: 10 }.emission(), Duration::from_millis(250));
        assert_eq!(Limit { per_second: 4.0, burst: 10 }.tolerated_burst(), 10);
    }

    #[test]
    fn stored_values_out_of_range_mean_the_default_and_a_fault() {
        let defaults = defaults(2.0, 5);
        let default = Some(Limit { per_second: 2.0, burst: 5 });
        for bad in
            [json!({ "per_second": 1e-30 }), json!({ "per_second": -5 }), json!({ "per_second": "fast" }), json!({ "burst": 0 }), json!(7)]
        {
            let (limit, fault) = Limit::for_tenant(&defaults, &tenant(json!({ "rate_limit": bad })));
            assert_eq!((limit, fault), (default, true), "{bad}");
        }
        let (limit, fault) = Limit::for_tenant(&defaults, &tenant(json!({ "rate_limit": { "per_second": 0.5, "burst": 3 } })));
        assert_eq!((limit, fault), (Some(Limit { per_second: 0.5, burst: 3 }), false));
        let (limit, fault) = Limit::for_tenant(&defaults, &tenant(json!({ "rate_limit": { "per_second": 0 } })));
        assert_eq!((limit, fault), (None, false), "0 turns the limit off, as documented");
        assert_eq!(Limit::for_tenant(&defaults, &tenant(json!({}))), (default, false));
    }

    #[tokio::test]
    async fn a_poisoned_lock_means_fresh_limiters_that_still_limit() {
        let limiter = RateLimiter::local(&defaults(0.1, 2));
        let tenant = tenant(json!({}));
        assert!(matches!(limiter.check(&tenant).await, Decision::Allowed { .. }));
        let poisoner = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _held = limiter.local.lock();
            std::panic::resume_unwind(Box::new("a panic while the lock is held"));
        }));
        assert!(poisoner.is_err() && limiter.local.is_poisoned());
        let mut allowed = Vec::new();
        for _ in 0..3 {
            allowed.push(matches!(limiter.check(&tenant).await, Decision::Allowed { .. }));
        }
        assert_eq!(allowed, [true, true, false], "fresh limiters: the burst again, then limited");
        assert_eq!(limiter.faults_total(), 1);
        assert!(!limiter.local.is_poisoned());
    }
}
