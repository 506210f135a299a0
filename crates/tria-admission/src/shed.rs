//! Load shedding in front of the chat pipeline: at most `max_in_flight` requests run, at most
//! `max_queue` wait (each no longer than `queue_timeout`), and everything beyond is answered
//! 503 + `Retry-After` at once. Queueing without bound is what made the seed service fall over:
//! latency grows until every client times out and the work done is all wasted.
//!
//! One tenant may hold at most its share of the slots and of the queue (`limits.tenant_share`),
//! and one publishable widget key a smaller share (`limits.widget_key_share`): the widget key
//! is public, and whoever holds it must not be able to take the gate from every other tenant.
//! The server's middleware (`tria-server`'s `shed::gate`) authenticates the caller from the
//! headers before the body is read, so a request without a valid key costs no body buffer and
//! no slot; this module is the counting and deciding behind it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tria_core::TenantId;
use uuid::Uuid;

use crate::limits::LimitSettings;

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShedReason {
    QueueFull,
    QueueTimeout,
    /// The tenant (or the widget key) already holds its share of the gate.
    ShareFull,
}

/// Who a share of the gate belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Owner {
    Tenant(TenantId),
    WidgetKey(Uuid),
}

/// One owner's part of the gate: slots and queue places of its own.
#[derive(Debug)]
struct Share {
    slots: Arc<Semaphore>,
    cap: usize,
    waiting: AtomicUsize,
}

/// Owners remembered at most before unused shares are dropped (they are remade on demand).
const MAX_SHARES: usize = 10_000;

/// The concurrency gate. Cheap to share; counts what it sheds.
#[derive(Debug)]
pub struct ShedGate {
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    max_queue: usize,
    queue_timeout: Duration,
    waiting: AtomicUsize,
    shed: AtomicU64,
    shed_share: AtomicU64,
    tenant_share: f64,
    widget_key_share: f64,
    shares: Mutex<HashMap<Owner, Arc<Share>>>,
    /// Open chat requests per API key, bounded by `max_chats_per_key`.
    chats_per_key: Arc<Mutex<HashMap<Uuid, usize>>>,
    max_chats_per_key: usize,
}

/// Decrements a waiting count however the wait ends (including cancellation).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A place in the gate: the slot itself and the owner's share(s) of it. Dropping it frees all.
#[derive(Debug)]
pub struct Slot {
    _global: OwnedSemaphorePermit,
    _tenant: OwnedSemaphorePermit,
    _widget_key: Option<OwnedSemaphorePermit>,
}

/// One open chat request through an API key; dropping it frees the place.
#[derive(Debug)]
pub struct ChatOnKey {
    key: Uuid,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for ChatOnKey {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A permit from `slots`, waiting until `deadline` among at most `queue_places` waiters
/// (counted in `waiting`); `QueueFull` when there is no place to wait, `QueueTimeout` when the
/// deadline passes first.
async fn bounded_wait(
    slots: &Arc<Semaphore>,
    waiting: &AtomicUsize,
    queue_places: usize,
    deadline: Instant,
) -> Result<OwnedSemaphorePermit, ShedReason> {
    if let Ok(permit) = slots.clone().try_acquire_owned() {
        return Ok(permit);
    }
    if waiting.fetch_add(1, Ordering::SeqCst) >= queue_places {
        waiting.fetch_sub(1, Ordering::SeqCst);
        return Err(ShedReason::QueueFull);
    }
    let _waiting = Waiting(waiting);
    match tokio::time::timeout_at(deadline, slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        // The semaphore is never closed; treat it like a timeout all the same.
        Ok(Err(_)) | Err(_) => Err(ShedReason::QueueTimeout),
    }
}

impl ShedGate {
    /// A gate without shares: any one caller may take every slot (tests, benches).
    pub fn new(max_in_flight: usize, max_queue: usize, queue_timeout: Duration) -> Self {
        let limits =
            LimitSettings { max_in_flight, max_queue, queue_timeout, tenant_share: 1.0, widget_key_share: 1.0, ..LimitSettings::default() };
        Self::from_limits(&limits)
    }

    /// The gate the limit settings describe, shares included.
    pub fn from_limits(limits: &LimitSettings) -> Self {
        let max_in_flight = limits.max_in_flight.max(1);
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            max_queue: limits.max_queue,
            queue_timeout: limits.queue_timeout,
            waiting: AtomicUsize::new(0),
            shed: AtomicU64::new(0),
            shed_share: AtomicU64::new(0),
            tenant_share: limits.tenant_share.clamp(f64::MIN_POSITIVE, 1.0),
            widget_key_share: limits.widget_key_share.clamp(f64::MIN_POSITIVE, 1.0),
            shares: Mutex::new(HashMap::new()),
            chats_per_key: Arc::new(Mutex::new(HashMap::new())),
            max_chats_per_key: limits.max_chats_per_key.max(1),
        }
    }

    /// A slot, waiting in the bounded queue if none is free (no share applies).
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, ShedReason> {
        self.acquire_global(Instant::now() + self.queue_timeout).await
    }

    /// A slot for `tenant` (through the publishable widget key `widget_key`, if so), within the
    /// tenant's share and the key's, waiting in the bounded queue if none is free.
    pub async fn acquire_for(&self, tenant: TenantId, widget_key: Option<Uuid>) -> Result<Slot, ShedReason> {
        let deadline = Instant::now() + self.queue_timeout;
        let tenant_share = self.share(Owner::Tenant(tenant));
        let tenant_permit = self.acquire_share(&tenant_share, deadline).await?;
        let widget_key_permit = match widget_key {
            Some(key) => Some(self.acquire_share(&self.share(Owner::WidgetKey(key)), deadline).await?),
            None => None,
        };
        let global = self.acquire_global(deadline).await?;
        Ok(Slot { _global: global, _tenant: tenant_permit, _widget_key: widget_key_permit })
    }

    fn share(&self, owner: Owner) -> Arc<Share> {
        let mut shares = self.shares.lock().unwrap_or_else(PoisonError::into_inner);
        if shares.len() >= MAX_SHARES && !shares.contains_key(&owner) {
            shares.retain(|_, s| s.slots.available_permits() < s.cap || s.waiting.load(Ordering::SeqCst) > 0);
        }
        let fraction = match owner {
            Owner::Tenant(_) => self.tenant_share,
            Owner::WidgetKey(_) => self.widget_key_share,
        };
        shares
            .entry(owner)
            .or_insert_with(|| {
                let cap = ((self.max_in_flight as f64 * fraction).ceil() as usize).clamp(1, self.max_in_flight);
                Arc::new(Share { slots: Arc::new(Semaphore::new(cap)), cap, waiting: AtomicUsize::new(0) })
            })
            .clone()
    }

    async fn acquire_share(&self, share: &Share, deadline: Instant) -> Result<OwnedSemaphorePermit, ShedReason> {
        let fraction = (share.cap as f64 / self.max_in_flight as f64).min(1.0);
        let queue_places = (self.max_queue as f64 * fraction).ceil() as usize;
        let permit = bounded_wait(&share.slots, &share.waiting, queue_places, deadline).await;
        if permit.is_err() {
            self.shed.fetch_add(1, Ordering::Relaxed);
            self.shed_share.fetch_add(1, Ordering::Relaxed);
        }
        permit.map_err(|_| ShedReason::ShareFull)
    }

    async fn acquire_global(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, ShedReason> {
        let permit = bounded_wait(&self.slots, &self.waiting, self.max_queue, deadline).await;
        if permit.is_err() {
            self.shed.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }

    /// A place for one more open chat request through `key`, if it has fewer than the maximum.
    pub fn open_chat_for_key(&self, key: Uuid) -> Option<ChatOnKey> {
        let mut open = self.chats_per_key.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max_chats_per_key {
            return None;
        }
        *count += 1;
        Some(ChatOnKey { key, open: self.chats_per_key.clone() })
    }

    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.slots.available_permits()
    }
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
    pub fn shed_total(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }
    /// Shed because the tenant or widget key held its share (part of [`Self::shed_total`]).
    pub fn shed_share_total(&self) -> u64 {
        self.shed_share.load(Ordering::Relaxed)
    }
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
}

/// The request's place in the gate, in its extensions: a handler whose reply is produced after
/// it returns (a stream) takes the slot into the task that produces the reply, so the slot is
/// freed when the reply is complete — not when the client has read it.
#[derive(Clone, Debug)]
pub struct GateSlot(Arc<Mutex<Option<Slot>>>);

impl GateSlot {
    pub fn new(slot: Slot) -> Self {
        Self(Arc::new(Mutex::new(Some(slot))))
    }

    /// The slot, to be held until the reply is complete. `None` when already taken.
    pub fn take(&self) -> Option<Slot> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
