//! The operations listener: health and metrics on a second address, served by a
//! single-threaded runtime on an OS thread of its own. Under a flood on the main port the
//! main runtime's task queue holds thousands of connections; a probe that queued behind them
//! would time out and get a healthy instance restarted. Here a probe waits only for the OS to
//! schedule this thread (milliseconds), whatever the main port is doing.

use std::time::Duration;

use axum::Router;
use axum::routing::get;

use crate::serve::{ServeOptions, serve};
use crate::state::AppState;
use crate::{health, metrics, middleware};

/// Health and metrics only (the same handlers as the main port), with request ids.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .fallback(|| async { crate::ApiError::not_found("the operations port serves /health, /health/live, /health/ready and /metrics") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::request_context))
        .with_state(state)
}

/// A running operations listener; dropping it (or [`OpsServer::stop`]) shuts it down.
#[derive(Debug)]
pub struct OpsServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OpsServer {
    /// Serves [`ops_router`] on `listener` from a new thread named `tria-ops`.
    pub fn spawn(listener: std::net::TcpListener, state: AppState) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("tria-ops".into()).spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let opts = ServeOptions {
                    header_read_timeout: Duration::from_secs(5),
                    drain_timeout: Duration::from_secs(1),
                    ..Default::default()
                };
                serve(
                    listener,
                    ops_router(state),
                    async move {
                        let _ = stopped.await;
                    },
                    opts,
                )
                .await;
            });
        })?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops serving and waits for the thread to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for OpsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
