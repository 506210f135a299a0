//! Per-tenant LLM spend budgets: tokens and dollars per UTC hour and per calendar month.
//! Checked before the pipeline runs (a spent budget is a 429 until its window ends) and
//! recorded after every LLM call — every call, including attempts the agent discarded, because
//! the provider bills those too.
//!
//! With Redis, the spend of a window lives in one hash per tenant and window
//! (`{prefix}:budget:{tenant}:h:2026112315`, fields `tokens` and `usd`), updated by one Lua
//! script (`HINCRBY` + `HINCRBYFLOAT` + `EXPIRE`), so every instance adds to and reads the same
//! figure. Every instance also keeps its own tally; when Redis fails or is slow the check reads
//! that instead — per-instance budgets until Redis is back, never a chat outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use fred::prelude::Pool;
use fred::types::scripts::Script;
use tria_core::{TenantContext, TenantId};

/// Adds one call's spend to the hour and month hashes and (re)sets their expiry.
/// KEYS: hour, month. ARGV: tokens, usd, hour ttl s, month ttl s.
const RECORD_LUA: &str = r"
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'tokens', ARGV[1])
  redis.call('HINCRBYFLOAT', key, 'usd', ARGV[2])
  redis.call('EXPIRE', key, ARGV[2 + i])
end
return 1
";

/// Reads both windows in one round trip. Floats leave Lua as strings (numbers would be truncated).
const READ_LUA: &str = r"
local out = {}
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'tokens', 'usd')
  out[#out + 1] = v[1] or '0'
  out[#out + 1] = v[2] or '0'
end
return out
";

/// Why the shared tally was not read or written (this instance's tally is used instead).
#[derive(Debug, thiserror::Error)]
enum SharedSpendError {
    #[error("Redis is down")]
    Down,
    #[error("timed out")]
    Timeout,
    #[error(transparent)]
    Redis(#[from] fred::error::Error),
    #[error("unexpected script reply {0:?}")]
    Reply(Vec<String>),
}

/// Budgets per window; 0 turns one off.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BudgetLimits {
    pub tokens_per_hour: u64,
    pub usd_per_hour: f64,
    pub tokens_per_month: u64,
    pub usd_per_month: f64,
}

impl BudgetLimits {
    /// The configured defaults, each overridden by the tenant's `settings.budget.<field>`.
    pub fn for_tenant(defaults: &BudgetLimits, tenant: &TenantContext) -> Self {
        let own = tenant.settings.get("budget");
        let u = |name: &str, default: u64| own.and_then(|o| o.get(name)).and_then(serde_json::Value::as_u64).unwrap_or(default);
        let f = |name: &str, default: f64| {
            own.and_then(|o| o.get(name)).and_then(serde_json::Value::as_f64).filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(default)
        };
        Self {
            tokens_per_hour: u("tokens_per_hour", defaults.tokens_per_hour),
            usd_per_hour: f("usd_per_hour", defaults.usd_per_hour),
            tokens_per_month: u("tokens_per_month", defaults.tokens_per_month),
            usd_per_month: f("usd_per_month", defaults.usd_per_month),
        }
    }

    fn is_off(&self) -> bool {
        self.tokens_per_hour == 0 && self.usd_per_hour <= 0.0 && self.tokens_per_month == 0 && self.usd_per_month <= 0.0
    }
}

/// Spend in one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spend {
    pub tokens: u64,
    pub usd: f64,
}

/// The budget window a refusal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Hour,
    Month,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hour => "hour",
            Self::Month => "month",
        })
    }
}

impl Window {
    /// The window's length in seconds as `RateLimit-Policy` states it (a month as 31 days).
    pub fn policy_seconds(self) -> u64 {
        match self {
            Self::Hour => 3600,
            Self::Month => 2_678_400,
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetDecision {
    Within,
    Exhausted {
        window: Window,
        /// "tokens" or "usd".
        unit: &'static str,
        limit: f64,
        /// Until the window ends.
        retry_after: Duration,
    },
}

/// The fixed windows containing `now`: their ids and when each ends.
#[derive(Clone, Debug, PartialEq)]
struct Windows {
    hour: String,
    month: String,
    hour_ends: DateTime<Utc>,
    month_ends: DateTime<Utc>,
}

impl Windows {
    fn at(now: DateTime<Utc>) -> Self {
        let hour_start = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
        let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
        let month_ends = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(now + chrono::Duration::days(31));
        Self {
            hour: now.format("%Y%m%d%H").to_string(),
            month: now.format("%Y%m").to_string(),
            hour_ends: hour_start + chrono::Duration::hours(1),
            month_ends,
        }
    }

    fn until(end: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
        (end - now).to_std().unwrap_or(Duration::ZERO).max(Duration::from_secs(1))
    }
}

struct SharedSpend {
    pool: Pool,
    /// The pool's connection state as the rate limiter tracks it: while Redis is known down the
    /// budget uses this instance's tally at once instead of waiting on a dead connection.
    health: Option<crate::ratelimit::RedisHealth>,
    record: Script,
    read: Script,
    key_prefix: String,
    timeout: Duration,
}

struct Inner {
    defaults: BudgetLimits,
    shared: Option<SharedSpend>,
    /// This instance's own tally per `{tenant}:{h|m}:{window}`; old windows are pruned on record.
    local: Mutex<HashMap<String, Spend>>,
    refused: AtomicU64,
    fallbacks: AtomicU64,
}

/// The spend budgets. Cheap to clone; clones share the tallies.
#[derive(Clone)]
pub struct SpendBudget {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SpendBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpendBudget")
            .field("defaults", &self.inner.defaults)
            .field("shared", &self.inner.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl SpendBudget {
    /// Per-instance tallies only.
    pub fn local(defaults: BudgetLimits) -> Self {
        Self::build(defaults, None)
    }

    /// Tallies shared through the Redis `pool` (the rate limiter's), under `key_prefix`.
    pub fn shared(defaults: BudgetLimits, pool: Pool, key_prefix: &str, timeout: Duration) -> Self {
        let shared = SharedSpend {
            pool,
            health: None,
            record: Script::from_lua(RECORD_LUA),
            read: Script::from_lua(READ_LUA),
            key_prefix: key_prefix.to_owned(),
            timeout,
        };
        Self::build(defaults, Some(shared))
    }

    /// Skips Redis while `health` says it is down (the rate limiter's view of the same pool).
    pub fn with_redis_health(mut self, health: crate::ratelimit::RedisHealth) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner)
            && let Some(shared) = &mut inner.shared
        {
            shared.health = Some(health);
        }
        self
    }

    /// Tallies shared through `limiter`'s Redis pool when its limits are shared (skipping Redis
    /// while the limiter knows it is down), per instance otherwise.
    pub fn beside(limiter: &crate::ratelimit::RateLimiter, defaults: BudgetLimits, key_prefix: &str, timeout: Duration) -> Self {
        match limiter.redis_pool() {
            Some(pool) => {
                let budget = Self::shared(defaults, pool.clone(), key_prefix, timeout);
                match limiter.redis_health() {
                    Some(health) => budget.with_redis_health(health),
                    None => budget,
                }
            }
            None => Self::local(defaults),
        }
    }

    fn build(defaults: BudgetLimits, shared: Option<SharedSpend>) -> Self {
        Self {
            inner: Arc::new(Inner {
                defaults,
                shared,
                local: Mutex::new(HashMap::new()),
                refused: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
            }),
        }
    }

    /// Whether `tenant` may start another LLM-backed request now.
    pub async fn check(&self, tenant: &TenantContext) -> BudgetDecision {
        let limits = BudgetLimits::for_tenant(&self.inner.defaults, tenant);
        if limits.is_off() {
            return BudgetDecision::Within;
        }
        let now = Utc::now();
        let windows = Windows::at(now);
        let (hour, month) = self.spend(tenant.id, &windows).await;
        let decision = judge(&limits, hour, month, &windows, now);
        if decision != BudgetDecision::Within {
            self.inner.refused.fetch_add(1, Ordering::Relaxed);
        }
        decision
    }

    /// Spend of `tenant` in the current hour and month (shared figure when Redis answers).
    pub async fn current_spend(&self, tenant: TenantId) -> (Spend, Spend) {
        self.spend(tenant, &Windows::at(Utc::now())).await
    }

    async fn spend(&self, tenant: TenantId, windows: &Windows) -> (Spend, Spend) {
        if let Some(shared) = &self.inner.shared {
            // Boxed: the Redis round trip's future is kilobytes that every chat request's
            // future would otherwise carry, Redis or not.
            match Box::pin(shared.read(tenant, windows)).await {
                Ok(spend) => return spend,
                Err(err) => {
                    self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %err, "shared spend budget unavailable; using this instance's tally");
                }
            }
        }
        let Ok(local) = self.inner.local.lock() else { return (Spend::default(), Spend::default()) };
        let get = |k: String| local.get(&k).copied().unwrap_or_default();
        (get(local_key(tenant, "h", &windows.hour)), get(local_key(tenant, "m", &windows.month)))
    }

    /// Adds one call's spend to the current hour and month.
    pub async fn record(&self, tenant: TenantId, tokens: u64, usd: f64) {
        let usd = if usd.is_finite() { usd.max(0.0) } else { 0.0 };
        if tokens == 0 && usd == 0.0 {
            return;
        }
        let now = Utc::now();
        let windows = Windows::at(now);
        if let Ok(mut local) = self.inner.local.lock() {
            let (hour_suffix, month_suffix) = (format!(":h:{}", windows.hour), format!(":m:{}", windows.month));
            local.retain(|k, _| k.ends_with(&hour_suffix) || k.ends_with(&month_suffix));
            for key in [local_key(tenant, "h", &windows.hour), local_key(tenant, "m", &windows.month)] {
                let spend = local.entry(key).or_default();
                spend.tokens = spend.tokens.saturating_add(tokens);
                spend.usd += usd;
            }
        }
        if let Some(shared) = &self.inner.shared
            && let Err(err) = Box::pin(shared.record(tenant, tokens, usd, &windows, now)).await
        {
            self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %err, "recording spend in Redis failed; this instance's tally has it");
        }
    }

    /// Requests refused because a budget was spent (for `/metrics`).
    pub fn refused_total(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }
    /// Reads or writes that fell back to the per-instance tally because Redis failed.
    pub fn fallback_total(&self) -> u64 {
        self.inner.fallbacks.load(Ordering::Relaxed)
    }
}

fn local_key(tenant: TenantId, window: &str, id: &str) -> String {
    format!("{tenant}:{window}:{id}")
}

/// The first budget `hour`/`month` spend has reached, if any.
fn judge(limits: &BudgetLimits, hour: Spend, month: Spend, windows: &Windows, now: DateTime<Utc>) -> BudgetDecision {
    let hour_wait = Windows::until(windows.hour_ends, now);
    let month_wait = Windows::until(windows.month_ends, now);
    // Month first: when both are spent, the longer wait is the honest one.
    let checks = [
        (limits.tokens_per_month > 0 && month.tokens >= limits.tokens_per_month, Window::Month, "tokens", limits.tokens_per_month as f64),
        (limits.usd_per_month > 0.0 && month.usd >= limits.usd_per_month, Window::Month, "usd", limits.usd_per_month),
        (limits.tokens_per_hour > 0 && hour.tokens >= limits.tokens_per_hour, Window::Hour, "tokens", limits.tokens_per_hour as f64),
        (limits.usd_per_hour > 0.0 && hour.usd >= limits.usd_per_hour, Window::Hour, "usd", limits.usd_per_hour),
    ];
    checks.into_iter().find(|c| c.0).map_or(BudgetDecision::Within, |(_, window, unit, limit)| BudgetDecision::Exhausted {
        window,
        unit,
        limit,
        retry_after: if window == Window::Hour { hour_wait } else { month_wait },
    })
}

impl SharedSpend {
    fn keys(&self, tenant: TenantId, windows: &Windows) -> Vec<String> {
        // The `{tenant}` hash tag keeps both keys in one Redis Cluster slot (one script may touch both).
        vec![
            format!("{}:budget:{{{tenant}}}:h:{}", self.key_prefix, windows.hour),
            format!("{}:budget:{{{tenant}}}:m:{}", self.key_prefix, windows.month),
        ]
    }

    fn known_down(&self) -> bool {
        self.health.as_ref().is_some_and(|h| !h.is_up())
    }

    async fn read(&self, tenant: TenantId, windows: &Windows) -> Result<(Spend, Spend), SharedSpendError> {
        if self.known_down() {
            return Err(SharedSpendError::Down);
        }
        let call = self.read.evalsha_with_reload::<Vec<String>, _, _>(self.pool.next(), self.keys(tenant, windows), Vec::<String>::new());
        let reply = tokio::time::timeout(self.timeout, call).await.map_err(|_| SharedSpendError::Timeout)??;
        if reply.len() != 4 {
            return Err(SharedSpendError::Reply(reply));
        }
        let num = |i: usize| reply.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let spend = |i: usize| Spend { tokens: num(i).max(0.0) as u64, usd: num(i + 1) };
        Ok((spend(0), spend(2)))
    }

    async fn record(&self, tenant: TenantId, tokens: u64, usd: f64, windows: &Windows, now: DateTime<Utc>) -> Result<(), SharedSpendError> {
        if self.known_down() {
            return Err(SharedSpendError::Down);
        }
        // Keep a window a while past its end so a late reader of the previous window still sees it.
        let hour_ttl = Windows::until(windows.hour_ends, now).as_secs() + 600;
        let month_ttl = Windows::until(windows.month_ends, now).as_secs() + 86_400;
        let args = vec![tokens.to_string(), format!("{usd:.9}"), hour_ttl.to_string(), month_ttl.to_string()];
        let call = self.record.evalsha_with_reload::<i64, _, _>(self.pool.next(), self.keys(tenant, windows), args);
        tokio::time::timeout(self.timeout, call).await.map_err(|_| SharedSpendError::Timeout)??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn windows_are_the_utc_hour_and_calendar_month() {
        let w = Windows::at(at("2026-12-31T23:59:30Z"));
        assert_eq!((w.hour.as_str(), w.month.as_str()), ("2026123123", "202612"));
        assert_eq!(w.hour_ends, at("2027-01-01T00:00:00Z"));
        assert_eq!(w.month_ends, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn the_month_budget_wins_over_the_hour_when_both_are_spent() {
        let now = at("2026-11-23T15:30:00Z");
        let w = Windows::at(now);
        let limits = BudgetLimits { tokens_per_hour: 100, usd_per_hour: 0.0, tokens_per_month: 1000, usd_per_month: 5.0 };
        let spent = Spend { tokens: 2000, usd: 1.0 };
        let BudgetDecision::Exhausted { window, unit, retry_after, .. } = judge(&limits, spent, spent, &w, now) else { panic!("spent") };
        assert_eq!((window, unit), (Window::Month, "tokens"));
        assert_eq!(retry_after, Duration::from_secs(7 * 86_400 + 8 * 3600 + 30 * 60));
        let hour_only = judge(&limits, Spend { tokens: 100, usd: 0.0 }, Spend { tokens: 100, usd: 0.0 }, &w, now);
        assert!(
            matches!(hour_only, BudgetDecision::Exhausted { window: Window::Hour, retry_after, .. } if retry_after == Duration::from_secs(1800))
        );
        assert_eq!(judge(&limits, Spend { tokens: 99, usd: 4.9 }, Spend { tokens: 99, usd: 4.9 }, &w, now), BudgetDecision::Within);
    }
}
