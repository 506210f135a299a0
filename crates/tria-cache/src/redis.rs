//! The shared backend: Redis through a `fred` connection pool. Every command fails fast and has
//! a deadline, so a dead or slow Redis costs a bounded wait and the fallback wrapper takes over.
//! A connection known to be down costs no wait at all: fred's connection events (error,
//! unresponsive, reconnect) and client state are watched, and commands are refused up front
//! while a connection is lost, so the first request after Redis dies already goes to memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike, Config, EventInterface, Expiration, KeysInterface, Options, Pool, ReconnectPolicy, TcpConfig};
use fred::types::Builder;
use fred::types::scan::Scanner;
use futures::StreamExt;

use crate::backend::glob_match;
use crate::{CacheBackend, CacheError, CacheHealth};

/// How many keys one `SCAN` step asks for and one `UNLINK` removes.
const SCAN_BATCH: u32 = 500;

/// Redis (centralized, cluster or sentinel, as the URL says), values as raw bytes.
pub struct RedisCache {
    pool: Pool,
    timeout: Duration,
    options: Options,
    /// Set by a connection error or an unresponsive connection, cleared by a (re)connect: fred
    /// reports these before its client state changes.
    lost: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

fn unavailable(err: impl std::fmt::Display) -> CacheError {
    CacheError::Unavailable(err.to_string())
}

/// A fred pool of `size` clients for `url` with Tria's connection settings, not yet connected:
/// the first connection is retried like any lost one (`fail_fast = false`, retries forever every
/// `reconnect_delay_ms`), each command is tried once within `command_timeout`, and a connection
/// attempt gives up after 500 ms. The cache and the shared rate limits both build theirs here.
pub fn redis_pool(url: &str, size: usize, command_timeout: Duration, reconnect_delay_ms: u32) -> Result<Pool, fred::error::Error> {
    let mut config = Config::from_url(url)?;
    config.fail_fast = false;
    Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_millis(500);
            c.internal_command_timeout = Duration::from_millis(500);
            c.max_command_attempts = 1;
            c.tcp = TcpConfig { nodelay: Some(true), ..TcpConfig::default() };
        })
        .with_performance_config(|p| p.default_command_timeout = command_timeout)
        .set_policy(ReconnectPolicy::new_constant(0, reconnect_delay_ms))
        .build_pool(size.max(1))
}

impl RedisCache {
    /// Builds the pool and starts connecting in the background; does not wait for Redis, so a
    /// process can start while Redis is down. `timeout` bounds every command.
    pub fn connect(url: &str, pool_size: usize, timeout: Duration) -> Result<Self, CacheError> {
        let pool = redis_pool(url, pool_size, timeout, 200).map_err(|e| CacheError::Config(e.to_string()))?;
        let lost = Arc::new(AtomicBool::new(false));
        for client in pool.clients() {
            watch_connection(client, &lost);
        }
        pool.connect();
        let options = Options { fail_fast: true, timeout: Some(timeout), max_attempts: Some(1), ..Options::default() };
        Ok(Self { pool, timeout, options, lost })
    }

    /// Whether every connection of the pool is up and none has reported a loss since.
    fn connected(&self) -> bool {
        !self.lost.load(Ordering::Acquire) && self.pool.clients().iter().all(|c| c.is_connected())
    }

    /// The next client, or an immediate error while the connection is down.
    fn client(&self) -> Result<fred::clients::WithOptions<Client>, CacheError> {
        if !self.connected() {
            return Err(CacheError::Unavailable("connection to Redis lost".into()));
        }
        Ok(self.pool.next().with_options(&self.options))
    }

    /// Waits up to `wait` for the first connection; `Err` if Redis did not answer in time.
    pub async fn wait_connected(&self, wait: Duration) -> Result<(), CacheError> {
        tokio::time::timeout(wait, self.pool.wait_for_connect()).await.map_err(|_| CacheError::Timeout(wait))?.map_err(unavailable)
    }

    /// Answers `PING` within the deadline. A reported loss does not stop the ping (only a
    /// connection fred knows to be down does), and a pong clears it: this is how a loss reported
    /// by an error that did not, in the end, cost the connection is forgotten.
    pub async fn ping(&self) -> Result<(), CacheError> {
        if !self.pool.clients().iter().all(|c| c.is_connected()) {
            return Err(CacheError::Unavailable("connection to Redis lost".into()));
        }
        let client = self.pool.next().with_options(&self.options);
        self.bounded(async { client.ping::<String>(None).await.map(|_| ()) }).await?;
        self.lost.store(false, Ordering::Release);
        Ok(())
    }

    async fn bounded<T>(&self, op: impl Future<Output = Result<T, fred::error::Error>>) -> Result<T, CacheError> {
        tokio::time::timeout(self.timeout, op).await.map_err(|_| CacheError::Timeout(self.timeout))?.map_err(unavailable)
    }

    /// Walks `SCAN MATCH pattern` over every primary. With `unlink`, each page is removed with
    /// `UNLINK` as it arrives (never `KEYS`); otherwise up to `limit` keys are collected.
    /// `SCAN MATCH pattern`, collecting up to `limit` keys or unlinking them; with a `scope`,
    /// only the keys that also match it (a second glob, checked here: `SCAN` takes one).
    async fn scan(&self, pattern: &str, scope: Option<&str>, limit: usize, unlink: bool) -> Result<(Vec<String>, u64), CacheError> {
        if !self.connected() {
            return Err(CacheError::Unavailable("connection to Redis lost".into()));
        }
        let client = self.pool.next();
        let clustered = client.is_clustered();
        let mut stream = if clustered {
            client.scan_cluster(pattern, Some(SCAN_BATCH), None).boxed()
        } else {
            client.scan(pattern, Some(SCAN_BATCH), None).boxed()
        };
        // A whole scan takes longer than one command; each page still has a deadline.
        let page_deadline = self.timeout * 20;
        let (mut collected, mut removed) = (Vec::new(), 0u64);
        loop {
            let next = tokio::time::timeout(page_deadline, stream.next()).await.map_err(|_| CacheError::Timeout(page_deadline))?;
            let Some(result) = next else { break };
            let mut result = result.map_err(unavailable)?;
            let keys: Vec<String> = result
                .take_results()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|k| k.into_string())
                .filter(|k| scope.is_none_or(|scope| glob_match(scope, k)))
                .collect();
            if unlink {
                if !keys.is_empty() {
                    // Keys of one page may sit on different cluster slots: one command each there.
                    if clustered {
                        for key in keys {
                            removed += self.bounded(self.client()?.unlink::<u64, _>(key)).await?;
                        }
                    } else {
                        removed += self.bounded(self.client()?.unlink::<u64, _>(keys)).await?;
                    }
                }
            } else {
                let room = limit.saturating_sub(collected.len());
                collected.extend(keys.into_iter().take(room));
                if collected.len() >= limit {
                    result.cancel();
                    break;
                }
            }
            result.next();
        }
        Ok((collected, removed))
    }
}

#[async_trait]
impl CacheBackend for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.bounded(self.client()?.get::<Option<Vec<u8>>, _>(key)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.bounded(self.client()?.set::<(), _, _>(key, value, Some(Expiration::PX(millis)), None, false)).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.bounded(self.client()?.unlink::<u64, _>(key)).await.map(|_| ())
    }

    async fn delete_matching(&self, pattern: &str) -> Result<u64, CacheError> {
        Ok(self.scan(pattern, None, 0, true).await?.1)
    }

    async fn delete_matching_within(&self, scope: &str, pattern: &str) -> Result<u64, CacheError> {
        Ok(self.scan(pattern, Some(scope), 0, true).await?.1)
    }

    async fn keys_matching(&self, pattern: &str, limit: usize) -> Result<Vec<String>, CacheError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(self.scan(pattern, None, limit, false).await?.0)
    }

    async fn incr(&self, key: &str) -> Result<u64, CacheError> {
        self.bounded(self.client()?.incr::<u64, _>(key)).await
    }

    fn name(&self) -> &'static str {
        "redis"
    }

    async fn health(&self) -> CacheHealth {
        match self.ping().await {
            Ok(()) => CacheHealth::Ok,
            Err(e) => CacheHealth::Down(e.to_string()),
        }
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn is_available(&self) -> bool {
        self.connected()
    }
}

/// Keeps `lost` in step with one client's connection events.
fn watch_connection(client: &Client, lost: &Arc<AtomicBool>) {
    let on_error = lost.clone();
    let on_unresponsive = lost.clone();
    let on_reconnect = lost.clone();
    client.on_error(move |_| {
        on_error.store(true, Ordering::Release);
        async { Ok(()) }
    });
    client.on_unresponsive(move |_| {
        on_unresponsive.store(true, Ordering::Release);
        async { Ok(()) }
    });
    client.on_reconnect(move |_| {
        on_reconnect.store(false, Ordering::Release);
        async { Ok(()) }
    });
}
