//! The Redis side of the rate limits, with the connection-state tracking the cache's Redis
//! backend uses (`tria_cache::RedisCache`, `FallbackCache`): fred's connection events and client
//! state say when Redis is gone, so a check while it is known down is decided locally at once
//! instead of waiting on Redis; a probe task pings it while it is down and switches back when it
//! answers. One log line per transition, never one per request.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use fred::prelude::{Client, ClientLike, EventInterface, Pool};
use fred::types::scripts::Script;

use super::{Decision, Limit};

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

/// How often Redis is pinged while it is down. With the pool's reconnect delay (500 ms) this
/// bounds how long after Redis is back the limits are shared again.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// fred's reconnect policy: `max_attempts` 0 retries for ever, every 500 ms.
const RECONNECT_DELAY_MS: u32 = 500;
/// Timed-out checks in a row that mark Redis down (a refused or lost connection does at once).
const TIMEOUTS_BEFORE_DOWN: u32 = 3;

/// Why a shared check was not made or did not answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum SharedError {
    #[error("Redis is down (shared limits resume when it answers)")]
    Down,
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("unexpected script reply {0:?}")]
    Reply(Vec<i64>),
}

/// What the connection is known to be, shared with the probe and fred's event handlers.
#[derive(Debug, Default)]
struct ConnectionState {
    /// Set by fred's error and unresponsive events, cleared by a reconnect (fred reports these
    /// before its client state changes).
    lost: AtomicBool,
    /// Our verdict: true from a failed or refused check until a probe's ping is answered.
    down: AtomicBool,
    /// Up → down and down → up changes.
    transitions: AtomicU64,
    /// Checks in a row that missed the command timeout. One slow reply under CPU load is no sign
    /// of an outage (that request is decided locally); several in a row are.
    consecutive_timeouts: AtomicU32,
}

impl ConnectionState {
    fn mark_down(&self, reason: &dyn std::fmt::Display) {
        if !self.down.swap(true, Ordering::AcqRel) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = %reason, "shared rate limits unavailable: each instance limits on its own until Redis answers");
        }
    }

    fn mark_up(&self) {
        self.lost.store(false, Ordering::Release);
        self.consecutive_timeouts.store(0, Ordering::Relaxed);
        if self.down.swap(false, Ordering::AcqRel) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            tracing::info!("shared rate limits restored: Redis answers again");
        }
    }
}

pub(super) struct Shared {
    pool: Pool,
    script: Script,
    key_prefix: String,
    timeout: Duration,
    state: Arc<ConnectionState>,
}

impl Shared {
    /// Builds the pool and starts connecting in the background; never waits for Redis. The first
    /// connection is retried like any lost one (`fail_fast = false`): with `fail_fast` a pool
    /// whose first attempt failed gave up for good, and limits stayed per instance until restart.
    /// Must be called inside a Tokio runtime (the probe is a task).
    pub(super) fn connect(url: &str, key_prefix: &str, timeout: Duration) -> Result<Self, fred::error::Error> {
        let pool = tria_cache::redis_pool(url, 2, timeout, RECONNECT_DELAY_MS)?;
        let state = Arc::new(ConnectionState::default());
        for client in pool.clients() {
            watch_connection(client, &state);
        }
        pool.connect();
        tokio::spawn(probe(Arc::downgrade(&state), pool.clone(), timeout));
        Ok(Self { pool, script: Script::from_lua(GCRA_LUA), key_prefix: key_prefix.to_owned(), timeout, state })
    }

    pub(super) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Whether checks go to Redis now: not marked down, no loss reported, every client connected.
    /// A pool that is not connected is marked down here, before any command waits on it.
    fn available(&self) -> bool {
        if self.state.down.load(Ordering::Acquire) {
            return false;
        }
        if self.state.lost.load(Ordering::Acquire) || !self.pool.clients().iter().all(Client::is_connected) {
            self.state.mark_down(&"connection to Redis lost");
            return false;
        }
        true
    }

    /// Whether the last word on Redis is that it answers (for `/metrics`).
    pub(super) fn is_up(&self) -> bool {
        self.health().is_up()
    }

    pub(super) fn health(&self) -> RedisHealth {
        RedisHealth(self.state.clone())
    }

    pub(super) fn transitions(&self) -> u64 {
        self.state.transitions.load(Ordering::Relaxed)
    }

    /// Waits up to `wait` for the connection and a `PING` answered; marks Redis up if so.
    pub(super) async fn wait_connected(&self, wait: Duration) -> bool {
        let ready = async {
            self.pool.wait_for_connect().await?;
            self.pool.next().ping::<String>(None).await.map(|_| ())
        };
        let answered = matches!(tokio::time::timeout(wait, ready).await, Ok(Ok(())));
        if answered {
            self.state.mark_up();
        }
        answered
    }

    pub(super) async fn check(&self, subject: &str, limit: Limit) -> Result<Decision, SharedError> {
        if !self.available() {
            return Err(SharedError::Down);
        }
        let result = self.gcra(subject, limit).await;
        match &result {
            Ok(_) => self.state.consecutive_timeouts.store(0, Ordering::Relaxed),
            Err(SharedError::Reply(_)) => {}
            Err(err @ SharedError::Timeout(_)) => {
                if self.state.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_BEFORE_DOWN {
                    self.state.mark_down(err);
                }
            }
            Err(err) => self.state.mark_down(err),
        }
        result
    }

    async fn gcra(&self, subject: &str, limit: Limit) -> Result<Decision, SharedError> {
        let key = format!("{}:rl:{subject}", self.key_prefix);
        let emission_us = u64::try_from(limit.emission().as_micros()).unwrap_or(u64::MAX).max(1);
        let client = self.pool.next();
        let call = self.script.evalsha_with_reload::<Vec<i64>, _, _>(
            client,
            vec![key],
            vec![emission_us.to_string(), limit.tolerated_burst().to_string()],
        );
        let reply = tokio::time::timeout(self.timeout, call).await.map_err(|_| SharedError::Timeout(self.timeout))??;
        match reply.as_slice() {
            [1, _, remaining] => Ok(Decision::Allowed { limit: limit.burst, remaining: u32::try_from(*remaining).unwrap_or(0) }),
            [0, wait_us, _] => {
                Ok(Decision::Limited { limit: limit.burst, retry_after: Duration::from_micros(u64::try_from(*wait_us).unwrap_or(0)) })
            }
            _ => Err(SharedError::Reply(reply)),
        }
    }
}

fn watch_connection(client: &Client, state: &Arc<ConnectionState>) {
    let on_error = state.clone();
    let on_unresponsive = state.clone();
    let on_reconnect = state.clone();
    client.on_error(move |_| {
        on_error.lost.store(true, Ordering::Release);
        async { Ok(()) }
    });
    client.on_unresponsive(move |_| {
        on_unresponsive.lost.store(true, Ordering::Release);
        async { Ok(()) }
    });
    // A reconnect only clears the reported loss; the probe's answered ping switches back.
    client.on_reconnect(move |_| {
        on_reconnect.lost.store(false, Ordering::Release);
        async { Ok(()) }
    });
}

/// While Redis is marked down: once fred has every connection back, a `PING` answered within the
/// check deadline switches the limits back to shared. Ends when the limiter is dropped.
async fn probe(state: Weak<ConnectionState>, pool: Pool, timeout: Duration) {
    let mut ticker = tokio::time::interval(PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(state) = state.upgrade() else { return };
        if !state.down.load(Ordering::Acquire) || !pool.clients().iter().all(Client::is_connected) {
            continue;
        }
        let ping = pool.clients().iter().map(|c| c.ping::<String>(None)).collect::<Vec<_>>();
        if matches!(tokio::time::timeout(timeout, futures::future::try_join_all(ping)).await, Ok(Ok(_))) {
            state.mark_up();
        }
    }
}

/// Whether the limiter's Redis connection is up, for the other users of its pool (the spend
/// budget), so they too decide locally at once while it is down instead of waiting on it.
#[derive(Clone, Debug)]
pub struct RedisHealth(Arc<ConnectionState>);

impl RedisHealth {
    pub fn is_up(&self) -> bool {
        !self.0.down.load(Ordering::Acquire) && !self.0.lost.load(Ordering::Acquire)
    }
}
