//! Serving the router on hyper (HTTP/1.1 and HTTP/2 on one port) with graceful shutdown:
//! on the shutdown signal the listener closes, in-flight requests finish, and connections
//! still open after the drain timeout are dropped.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// How long a client may take to send its request headers (slow-loris guard).
    pub header_read_timeout: Duration,
    /// How long in-flight requests get to finish after the shutdown signal.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { header_read_timeout: Duration::from_secs(10), drain_timeout: Duration::from_secs(10) }
    }
}

/// Serves until `shutdown` resolves, then drains. Returns once every connection is closed or
/// the drain timeout has passed.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>, opts: ServeOptions) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(opts.header_read_timeout).keep_alive(true);
    builder.http1().max_buf_size(64 * 1024);
    // HTTP/2: bounded streams per connection, header lists no larger than HTTP/1's buffer, and
    // caps on streams reset by the client before or by us after accepting (the "rapid reset"
    // flood, CVE-2023-44487) so one connection cannot keep the server busy for free.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(64 * 1024)
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(256))
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(err) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(opts.drain_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(timeout_ms = opts.drain_timeout.as_millis() as u64, "drain timeout passed; closing remaining connections");
    }
}
