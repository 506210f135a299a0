//! Invalidations every replica applies at once: what one replica drops from its in-process
//! state (L1 answers, the L3 index, a tenant's generation, verified API keys and tenants) is
//! published on a Redis pub/sub channel and dropped by the others as soon as they next look
//! (each consumer drains its [`Inbox`] before it reads, an atomic load when nothing came).
//!
//! Pub/sub delivers at most once, to whoever is subscribed at that moment: a message sent
//! while a replica's subscription is down is lost to it. So every (re)connection of the
//! subscriber, and a receiver that fell behind, count as [`Invalidation::Everything`]: a
//! replica that may have missed something forgets all it could have been told. Redis being
//! down means no messages at all; consumers keep their own short TTLs as the bound then.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::{ClientLike, Config, EventInterface, Pool, PubsubInterface, ReconnectPolicy};
use fred::types::Builder;
use serde::{Deserialize, Serialize};
use tria_core::TenantId;

use crate::CacheError;

/// What a replica must forget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invalidation {
    /// A tenant's cache generation went up: every cached value of it is retired.
    CacheTenant { tenant: TenantId },
    /// One level (`l1`…`l4`) of a tenant's cache was deleted.
    CacheLevel { tenant: TenantId, level: String },
    /// Cache entries matching a glob were deleted.
    CachePattern { pattern: String },
    /// An API key was revoked, or a tenant (its settings, tone, status) changed: forget every
    /// verified key and tenant.
    Auth,
    /// Messages may have been missed: forget everything any message could have named.
    Everything,
}

/// Pending invalidations more than this collapse into one [`Invalidation::Everything`].
const INBOX_LIMIT: usize = 256;

/// One consumer's queue of invalidations from other replicas.
#[derive(Debug, Default)]
pub struct Inbox {
    pending: Mutex<Vec<Invalidation>>,
    any: AtomicBool,
}

impl Inbox {
    fn push(&self, what: Invalidation) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= INBOX_LIMIT {
            pending.clear();
            pending.push(Invalidation::Everything);
        } else {
            pending.push(what);
        }
        drop(pending);
        self.any.store(true, Ordering::Release);
    }

    /// What arrived since the last call (usually nothing: one atomic load).
    pub fn take(&self) -> Vec<Invalidation> {
        if !self.any.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Counters for `/metrics` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BusStats {
    pub published: u64,
    pub publish_failures: u64,
    pub received: u64,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    publish_failures: AtomicU64,
    received: AtomicU64,
}

/// The envelope on the channel: the message and which replica sent it (its own are skipped).
#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: String,
    #[serde(flatten)]
    what: Invalidation,
}

/// Publishes this replica's invalidations and delivers the others' to its inboxes.
pub struct InvalidationBus {
    origin: String,
    channel: String,
    publisher: Pool,
    timeout: Duration,
    subscriber: SubscriberClient,
    inboxes: Arc<Mutex<Vec<Weak<Inbox>>>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for InvalidationBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidationBus").field("channel", &self.channel).field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl InvalidationBus {
    /// Connects (in the background: Redis may be down at start) a publisher and a subscriber
    /// to `url`, on the channel `{prefix}:invalidations`. Publishing waits at most `timeout`.
    /// Needs a Tokio runtime.
    pub fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Arc<Self>, CacheError> {
        let config_error = |e: fred::error::Error| CacheError::Config(e.to_string());
        let publisher = crate::redis::redis_pool(url, 1, timeout, 200).map_err(config_error)?;
        publisher.connect();
        let mut config = Config::from_url(url).map_err(config_error)?;
        config.fail_fast = false;
        let subscriber = Builder::from_config(config)
            .with_connection_config(|c| c.connection_timeout = Duration::from_millis(500))
            .set_policy(ReconnectPolicy::new_constant(0, 200))
            .build_subscriber_client()
            .map_err(config_error)?;
        let bus = Arc::new(Self {
            origin: format!("{:016x}", rand::random::<u64>()),
            channel: format!("{prefix}:invalidations"),
            publisher,
            timeout,
            subscriber,
            inboxes: Arc::default(),
            counters: Arc::default(),
        });
        bus.listen();
        Ok(bus)
    }

    /// A queue that receives the other replicas' invalidations from now on.
    pub fn subscribe(&self) -> Arc<Inbox> {
        let inbox = Arc::new(Inbox::default());
        let mut inboxes = self.inboxes.lock().unwrap_or_else(PoisonError::into_inner);
        inboxes.retain(|i| i.strong_count() > 0);
        inboxes.push(Arc::downgrade(&inbox));
        inbox
    }

    /// Tells the other replicas (this one has already applied it). Waits at most the timeout;
    /// an undelivered message leaves them to their TTLs, so failure is logged, not returned.
    pub async fn publish(&self, what: Invalidation) {
        let payload = match serde_json::to_string(&Envelope { origin: self.origin.clone(), what }) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::warn!(error = %e, "invalidation not encoded");
                return;
            }
        };
        let sent = tokio::time::timeout(self.timeout, self.publisher.next().publish::<i64, _, _>(&self.channel, payload)).await;
        match sent {
            Ok(Ok(_)) => {
                self.counters.published.fetch_add(1, Ordering::Relaxed);
            }
            outcome => {
                self.counters.publish_failures.fetch_add(1, Ordering::Relaxed);
                let error = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {} ms", self.timeout.as_millis()),
                };
                tracing::warn!(%error, channel = %self.channel, "invalidation not published; other replicas fall back to their TTLs");
            }
        }
    }

    pub fn stats(&self) -> BusStats {
        BusStats {
            published: self.counters.published.load(Ordering::Relaxed),
            publish_failures: self.counters.publish_failures.load(Ordering::Relaxed),
            received: self.counters.received.load(Ordering::Relaxed),
        }
    }

    /// Connects the subscriber, keeps it subscribed across reconnections, and delivers.
    fn listen(&self) {
        let subscriber = self.subscriber.clone();
        let (channel, origin) = (self.channel.clone(), self.origin.clone());
        let (inboxes, counters) = (self.inboxes.clone(), self.counters.clone());
        let deliver = move |what: Invalidation| {
            for inbox in inboxes.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade) {
                inbox.push(what.clone());
            }
        };
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        subscriber.connect();
        // Resubscribes after every reconnection (the first subscription is below).
        let _managed = subscriber.manage_subscriptions();
        tokio::spawn(async move {
            loop {
                if subscriber.wait_for_connect().await.is_ok() && subscriber.subscribe(channel.as_str()).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                tokio::select! {
                    message = messages.recv() => match message {
                        Ok(message) => {
                            let Some(text) = message.value.as_str() else { continue };
                            match serde_json::from_str::<Envelope>(&text) {
                                Ok(envelope) if envelope.origin == origin => {}
                                Ok(envelope) => {
                                    counters.received.fetch_add(1, Ordering::Relaxed);
                                    deliver(envelope.what);
                                }
                                Err(e) => tracing::warn!(error = %e, "unreadable invalidation ignored"),
                            }
                        }
                        // Fell behind: some messages are gone.
                        Err(RecvError::Lagged(_)) => deliver(Invalidation::Everything),
                        Err(RecvError::Closed) => break,
                    },
                    reconnected = reconnects.recv() => match reconnected {
                        // While the connection was down, messages were not delivered to us.
                        Ok(_) | Err(RecvError::Lagged(_)) => deliver(Invalidation::Everything),
                        Err(RecvError::Closed) => break,
                    },
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_hands_over_what_arrived_once_and_collapses_a_flood() {
        let inbox = Inbox::default();
        assert!(inbox.take().is_empty());
        inbox.push(Invalidation::Auth);
        assert_eq!(inbox.take(), [Invalidation::Auth]);
        assert!(inbox.take().is_empty());
        for _ in 0..(INBOX_LIMIT + 10) {
            inbox.push(Invalidation::CachePattern { pattern: "*".into() });
        }
        let taken = inbox.take();
        assert!(taken.len() <= INBOX_LIMIT && taken[0] == Invalidation::Everything, "{}", taken.len());
    }

    #[test]
    fn the_wire_form_names_the_kind_and_the_sender() {
        let tenant = TenantId::new_random();
        let text = serde_json::to_string(&Envelope { origin: "a1".into(), what: Invalidation::CacheTenant { tenant } }).expect("json");
        assert_eq!(text, format!(r#"{{"origin":"a1","kind":"cache_tenant","tenant":"{tenant}"}}"#));
        let back: Envelope = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.what, Invalidation::CacheTenant { tenant });
    }
}
