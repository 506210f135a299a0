//! Serving the router on hyper (HTTP/1.1 and HTTP/2 on one port) with bounded connections and
//! graceful shutdown. Each connection is supervised ([`connection`]): closed when it sends no
//! request within the header-read timeout, sits idle past the idle timeout, or leaves a
//! response untaken past the write timeout; at the connection cap the oldest idle one makes
//! room. Sockets close with a lingering read and hyper's own bare errors go out as the API's
//! JSON errors ([`io`]). On the shutdown signal the listener stops (after taking the connections
//! already waiting in its backlog), every accepted connection gets to send and finish a request,
//! and connections still open after the drain timeout are dropped.

mod connection;
mod io;
mod service;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures::FutureExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub use connection::ConnectionStats;
use connection::{CloseReason, ConnectionLimits, Connections};
pub(crate) use service::ConnectionHandle;
use service::ConnectionService;

#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// How long a client may take to send its request headers (slow-loris guard), counted
    /// from accept for a connection's first request.
    pub header_read_timeout: Duration,
    /// How long in-flight requests get to finish after the shutdown signal.
    pub drain_timeout: Duration,
    /// How long a connection may sit with no request in flight before it is closed.
    pub idle_timeout: Duration,
    /// How long a response may wait for the client to take it (an HTTP/2 window held at zero,
    /// a socket not read) before the connection is closed.
    pub write_timeout: Duration,
    /// Open connections at most; at the cap the oldest idle one is closed to make room. 0: 80 %
    /// of the process's file-descriptor limit.
    pub max_connections: usize,
    /// HTTP/2 streams per connection at most.
    pub max_streams_per_connection: u32,
    /// Counters for `/metrics` (the state's, so the server's figures show there).
    pub stats: Arc<ConnectionStats>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 0,
            max_streams_per_connection: 100,
            stats: Arc::new(ConnectionStats::default()),
        }
    }
}

impl ServeOptions {
    fn connection_cap(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        match rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
            // Room left for the database pool, Redis, files and lingering sockets.
            Some(limit) => usize::try_from(limit / 10 * 8).unwrap_or(usize::MAX).max(64),
            None => 50_000,
        }
    }
}

/// Connections the kernel completes and queues for us to accept. The usual default (128, or
/// tokio's 1,024) overflows on a burst of connects while the accept loop is between two polls,
/// and a dropped SYN costs the client a one-second retransmission; the kernel caps it at
/// `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with a backlog of [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises the soft file-descriptor limit to the hard one (servers hold a descriptor per
/// connection; the default soft limit is often 1,024). Returns the limit in force.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(err) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!(error = %err, "could not raise the file-descriptor limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

fn http_builder(opts: &ServeOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(opts.header_read_timeout).keep_alive(true);
    builder.http1().max_buf_size(64 * 1024);
    // HTTP/2: bounded streams per connection, header lists no larger than HTTP/1's buffer, and
    // caps on streams reset by the client before or by us after accepting (the "rapid reset"
    // flood, CVE-2023-44487) so one connection cannot keep the server busy for free.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(opts.max_streams_per_connection)
        .max_header_list_size(64 * 1024)
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(256))
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

/// Serves until `shutdown` resolves, then drains. Returns once every connection is closed or
/// the drain timeout has passed.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>, opts: ServeOptions) {
    let builder = http_builder(&opts);
    let connections = Arc::new(Connections::new(opts.connection_cap(), opts.stats.clone()));
    let limits = ConnectionLimits {
        header_read_timeout: opts.header_read_timeout,
        idle_timeout: opts.idle_timeout,
        write_timeout: opts.write_timeout,
    };
    let linger = io::Linger { time: Duration::from_secs(2), bytes: 1 << 20, max_sockets: 1024 };
    // Every connection task holds a receiver: the shutdown signal goes out on it, and the
    // sender's `closed()` says when the last connection has finished.
    let (stopping, stop_signal) = watch::channel(false);
    let spawn = |stream: TcpStream, peer: std::net::SocketAddr| {
        let Some(connection) = connections.admit(peer) else {
            tracing::warn!(%peer, "connection refused: at the connection cap with none idle");
            return;
        };
        let _ = stream.set_nodelay(true);
        let io = io::ServerIo::new(stream, linger, opts.stats.clone());
        let service = ConnectionService { router: router.clone(), connection: connection.clone() };
        let conn = builder.serve_connection(TokioIo::new(io), service).into_owned();
        let connections = connections.clone();
        let stop_signal = stop_signal.clone();
        let grace = opts.header_read_timeout.min(opts.drain_timeout);
        tokio::spawn(async move {
            let registered = connections.register(connection);
            drive(conn, &registered.connection, limits, stop_signal, grace).await;
        });
    };
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => spawn(stream, peer),
                Err(err) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // Connections the kernel has completed but we have not accepted would be reset when the
    // listener closes: take them too, so each gets its request answered.
    while let Some(Ok((stream, peer))) = listener.accept().now_or_never() {
        spawn(stream, peer);
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stopping.send(true);
    drop(stop_signal);
    if tokio::time::timeout(opts.drain_timeout, stopping.closed()).await.is_err() {
        tracing::warn!(timeout_ms = opts.drain_timeout.as_millis() as u64, "drain timeout passed; closing remaining connections");
    }
}

type HyperConnection = auto::Connection<'static, TokioIo<io::ServerIo>, ConnectionService, TokioExecutor>;

/// Runs one connection to its end: until the client closes it, its supervisor closes it, or
/// shutdown closes it once its request (or its first one, if none has arrived yet) is answered.
async fn drive(
    conn: HyperConnection,
    connection: &connection::Connection,
    limits: ConnectionLimits,
    mut stop_signal: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut conn = pin!(conn);
    let stopping = async {
        let _ = stop_signal.wait_for(|stop| *stop).await;
    };
    tokio::select! {
        result = conn.as_mut() => return log_end(result),
        reason = connection.supervise(limits) => {
            tracing::debug!(peer = %connection.peer, ?reason, "closing connection");
            if reason == CloseReason::WriteStalled {
                // The client is not reading: dropping the connection drops its responses.
                return;
            }
        }
        () = stopping => {
            // Accepted but nothing read yet: its request may already be on the way.
            if !connection.has_requests() {
                tokio::select! {
                    result = conn.as_mut() => return log_end(result),
                    () = connection.first_request() => {}
                    () = tokio::time::sleep(grace) => {}
                }
            }
        }
    }
    conn.as_mut().graceful_shutdown();
    // In-flight requests finish; the server's drain timeout bounds the wait as a whole, and a
    // client that stops reading is still cut off by the write timeout.
    tokio::select! {
        result = conn.as_mut() => log_end(result),
        reason = connection.supervise(limits) => {
            tracing::debug!(peer = %connection.peer, ?reason, "closing connection while draining");
        }
    }
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}
