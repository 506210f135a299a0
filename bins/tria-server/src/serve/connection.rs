//! What the server knows about each open connection, and the rules it closes them by: a
//! connection that never sends a request is closed after the header-read timeout, one that
//! sits idle between requests after the idle timeout, one whose client stops reading a response
//! after the write timeout, and when the open connections reach the cap the oldest idle one
//! makes room for a new one. A client holds only what these bounds let it hold.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Counters for `/metrics`, shared by every connection the server accepts.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    pub open: AtomicUsize,
    pub accepted: AtomicU64,
    /// Refused at accept: the cap was reached and no idle connection could make room.
    pub refused: AtomicU64,
    /// Closed to make room for a new connection (the oldest idle one).
    pub evicted: AtomicU64,
    /// Closed because no request arrived within the header-read timeout after accept.
    pub header_timeouts: AtomicU64,
    /// Closed after the idle timeout with no request in flight.
    pub idle_timeouts: AtomicU64,
    /// Closed because the client stopped taking a response for the write timeout.
    pub write_timeouts: AtomicU64,
    /// Chat requests refused because the connection or the key had too many open at once.
    pub chat_streams_refused: AtomicU64,
    /// Sockets closed with a lingering read (the client was still sending when we were done).
    pub lingering: AtomicUsize,
}

/// The bounds a connection is held to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

/// Why the server closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// No request within the header-read timeout after accept.
    NoRequest,
    /// No request in flight for the idle timeout.
    Idle,
    /// The client has not taken a response for the write timeout.
    WriteStalled,
    /// Made room for a new connection.
    Evicted,
}

#[derive(Debug)]
struct State {
    /// Requests whose response has not been completely handed over yet.
    in_flight: usize,
    requests: u64,
    last_active: Instant,
    /// Response bodies waiting for the client to take their next frame, by body id, since when.
    waiting_on_client: HashMap<u64, Instant>,
    next_body: u64,
    /// Chat requests open on this connection (their response not yet complete).
    chats: usize,
}

/// One accepted connection.
#[derive(Debug)]
pub(crate) struct Connection {
    id: u64,
    pub peer: SocketAddr,
    accepted: Instant,
    state: Mutex<State>,
    /// Wakes the supervisor when a request starts (its deadline may move).
    changed: Notify,
    /// Asks the connection to close (eviction).
    close: Notify,
    stats: Arc<ConnectionStats>,
}

impl Connection {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock; if something did, the counts are still
        // the best information there is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request has been read and handed to the service.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        let body = {
            let mut state = self.state();
            state.in_flight += 1;
            state.requests += 1;
            state.last_active = Instant::now();
            state.next_body += 1;
            state.next_body
        };
        self.changed.notify_waiters();
        RequestGuard { connection: self.clone(), body, ended: false }
    }

    /// A chat request may open when fewer than `max` are open on this connection.
    pub(crate) fn try_open_chat(self: &Arc<Self>, max: usize) -> Option<ChatOnConnection> {
        let mut state = self.state();
        if state.chats >= max {
            return None;
        }
        state.chats += 1;
        Some(ChatOnConnection(self.clone()))
    }

    fn is_idle(&self) -> bool {
        self.state().in_flight == 0
    }

    fn last_active(&self) -> Instant {
        self.state().last_active
    }

    /// When the connection next needs looking at, and what closes it then if nothing changed.
    fn next_deadline(&self, limits: &ConnectionLimits, now: Instant) -> (Instant, Option<CloseReason>) {
        let state = self.state();
        if state.in_flight == 0 {
            return if state.requests == 0 {
                (self.accepted + limits.header_read_timeout, Some(CloseReason::NoRequest))
            } else {
                (state.last_active + limits.idle_timeout, Some(CloseReason::Idle))
            };
        }
        match state.waiting_on_client.values().min() {
            Some(since) => (*since + limits.write_timeout, Some(CloseReason::WriteStalled)),
            // Requests in flight, none waiting on the client: look again later.
            None => (now + limits.write_timeout, None),
        }
    }

    /// Waits until the connection must close under `limits`, or is asked to close.
    pub(crate) async fn supervise(&self, limits: ConnectionLimits) -> CloseReason {
        loop {
            // Registered before the state is read, so a request starting in between wakes it.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let (deadline, reason) = self.next_deadline(&limits, now);
            if deadline <= now
                && let Some(reason) = reason
            {
                let counter = match reason {
                    CloseReason::NoRequest => &self.stats.header_timeouts,
                    CloseReason::Idle => &self.stats.idle_timeouts,
                    CloseReason::WriteStalled => &self.stats.write_timeouts,
                    CloseReason::Evicted => &self.stats.evicted,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return reason;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline.max(now + Duration::from_millis(1)).into()) => {}
                () = changed => {}
                () = self.close.notified() => return CloseReason::Evicted,
            }
        }
    }

    /// Whether the connection has ever delivered a request (graceful shutdown waits a moment
    /// for the first request of a connection that has not).
    pub(crate) fn has_requests(&self) -> bool {
        self.state().requests > 0
    }

    /// Resolves once a request has arrived (or at once if one has).
    pub(crate) async fn first_request(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.has_requests() {
                return;
            }
            changed.await;
        }
    }
}

/// Held while a request is in flight; moves into its response body and is dropped when the
/// body has been handed over completely (or dropped).
#[derive(Debug)]
pub(crate) struct RequestGuard {
    connection: Arc<Connection>,
    body: u64,
    ended: bool,
}

impl RequestGuard {
    /// The response body has a frame ready (or is not yet polled): from now the client is the
    /// one we wait on.
    pub(crate) fn waiting_on_client(&self) {
        self.connection.state().waiting_on_client.insert(self.body, Instant::now());
    }

    /// The server side is producing the body's next frame.
    pub(crate) fn polled(&self) {
        let mut state = self.connection.state();
        if !state.waiting_on_client.is_empty() {
            state.waiting_on_client.remove(&self.body);
        }
    }

    pub(crate) fn end(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let mut state = self.connection.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.waiting_on_client.remove(&self.body);
        state.last_active = Instant::now();
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.end();
    }
}

/// One open chat request on a connection; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct ChatOnConnection(Arc<Connection>);

impl Drop for ChatOnConnection {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.chats = state.chats.saturating_sub(1);
    }
}

/// Every open connection, to enforce the cap.
#[derive(Debug)]
pub(crate) struct Connections {
    max: usize,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    stats: Arc<ConnectionStats>,
}

/// Takes a connection out of the set when its task ends.
#[derive(Debug)]
pub(crate) struct Registered<'a> {
    connections: &'a Connections,
    pub connection: Arc<Connection>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.connections.forget(self.connection.id);
    }
}

impl Connections {
    pub(crate) fn new(max: usize, stats: Arc<ConnectionStats>) -> Self {
        Self { max: max.max(1), open: Mutex::new(HashMap::new()), next_id: AtomicU64::new(0), stats }
    }

    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection from `peer`. At the cap, the connection idle the longest is
    /// asked to close to make room; with none idle the new one is refused (`None`).
    pub(crate) fn admit(&self, peer: SocketAddr) -> Option<Arc<Connection>> {
        let mut open = self.open();
        if open.len() >= self.max {
            let oldest_idle = open.values().filter(|c| c.is_idle()).min_by_key(|c| c.last_active()).map(|c| c.id);
            match oldest_idle.and_then(|id| open.remove(&id)) {
                Some(evicted) => {
                    self.stats.open.fetch_sub(1, Ordering::Relaxed);
                    self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                    evicted.close.notify_one();
                }
                None => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let now = Instant::now();
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            peer,
            accepted: now,
            state: Mutex::new(State {
                in_flight: 0,
                requests: 0,
                last_active: now,
                waiting_on_client: HashMap::new(),
                next_body: 0,
                chats: 0,
            }),
            changed: Notify::new(),
            close: Notify::new(),
            stats: self.stats.clone(),
        });
        open.insert(connection.id, connection.clone());
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        Some(connection)
    }

    pub(crate) fn register(&self, connection: Arc<Connection>) -> Registered<'_> {
        Registered { connections: self, connection }
    }

    fn forget(&self, id: u64) {
        if self.open().remove(&id).is_some() {
            self.stats.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().expect("addr")
    }

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_are_kept() {
        let stats = Arc::new(ConnectionStats::default());
        let connections = Connections::new(2, stats.clone());
        let first = connections.admit(peer()).expect("room");
        let second = connections.admit(peer()).expect("room");
        let _busy = first.request_started();
        // `second` is idle, `first` is busy: the newcomer evicts `second`.
        let third = connections.admit(peer()).expect("room made");
        assert_eq!(stats.evicted.load(Ordering::Relaxed), 1);
        assert_eq!(stats.open.load(Ordering::Relaxed), 2);
        let _busy_too = third.request_started();
        // Both open connections busy: no room.
        assert!(connections.admit(peer()).is_none());
        assert_eq!(stats.refused.load(Ordering::Relaxed), 1);
        drop(second);
    }

    #[test]
    fn deadlines_follow_what_the_connection_is_doing() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(3),
        };
        let connections = Connections::new(10, Arc::new(ConnectionStats::default()));
        let c = connections.admit(peer()).expect("room");
        let now = Instant::now();
        assert_eq!(c.next_deadline(&limits, now).1, Some(CloseReason::NoRequest));
        let mut request = c.request_started();
        assert_eq!(c.next_deadline(&limits, now).1, None, "a request being worked on is not a stall");
        request.waiting_on_client();
        assert_eq!(c.next_deadline(&limits, now).1, Some(CloseReason::WriteStalled));
        request.polled();
        assert_eq!(c.next_deadline(&limits, now).1, None);
        request.end();
        assert_eq!(c.next_deadline(&limits, now).1, Some(CloseReason::Idle));
    }

    #[test]
    fn chats_per_connection_are_bounded_and_freed() {
        let connections = Connections::new(10, Arc::new(ConnectionStats::default()));
        let c = connections.admit(peer()).expect("room");
        let a = c.try_open_chat(2).expect("first");
        let _b = c.try_open_chat(2).expect("second");
        assert!(c.try_open_chat(2).is_none());
        drop(a);
        assert!(c.try_open_chat(2).is_some());
    }
}
