//! Load shedding in front of the chat pipeline: at most `max_in_flight` requests run, at most
//! `max_queue` wait (each no longer than `queue_timeout`), and everything beyond is answered
//! 503 + `Retry-After` at once. Queueing without bound is what made the seed service fall over:
//! latency grows until every client times out and the work done is all wasted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiError;
use crate::state::AppState;

/// Why a request was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShedReason {
    QueueFull,
    QueueTimeout,
}

/// The concurrency gate. Cheap to share; counts what it sheds.
#[derive(Debug)]
pub struct ShedGate {
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    max_queue: usize,
    queue_timeout: Duration,
    waiting: AtomicUsize,
    shed: AtomicU64,
}

/// Decrements the waiting count however the wait ends (including cancellation).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ShedGate {
    pub fn new(max_in_flight: usize, max_queue: usize, queue_timeout: Duration) -> Self {
        let max_in_flight = max_in_flight.max(1);
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            max_queue,
            queue_timeout,
            waiting: AtomicUsize::new(0),
            shed: AtomicU64::new(0),
        }
    }

    /// A slot, waiting in the bounded queue if none is free.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, ShedReason> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.shed.fetch_add(1, Ordering::Relaxed);
            return Err(ShedReason::QueueFull);
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treat it like a timeout all the same.
            Ok(Err(_)) | Err(_) => {
                self.shed.fetch_add(1, Ordering::Relaxed);
                Err(ShedReason::QueueTimeout)
            }
        }
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
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
}

/// Middleware on the chat routes: reads the request body first (size-limited, within
/// `body_read_timeout`, so a client holding its body back never holds a slot), then holds a
/// slot for the rest of the request — including a streamed response body, whose pipeline runs
/// while the body is sent, so the slot rides along with the body and is freed when the body
/// ends or the client goes away.
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let settings = state.settings();
    // Boxed: the read's future is only needed until the body is in, not for the whole request.
    let req = match Box::pin(crate::json_body::buffered(req, settings.body_limit_bytes, settings.body_read_timeout)).await {
        Ok(req) => req,
        Err(err) => return err.into_response(),
    };
    match state.shed_gate().acquire().await {
        Ok(permit) => {
            let response = next.run(req).await;
            // A body of known length (every JSON reply) is complete: the work it held the slot
            // for is done. Kept as it is, it goes out with a Content-Length, not chunked.
            if response.body().size_hint().exact().is_some() {
                drop(permit);
                return response;
            }
            let (parts, body) = response.into_parts();
            let body = body.into_data_stream().map(move |chunk| {
                let _slot = &permit;
                chunk
            });
            Response::from_parts(parts, Body::from_stream(body))
        }
        Err(reason) => {
            tracing::debug!(?reason, "request shed");
            ApiError::overloaded("the service is at capacity; retry shortly", 1).into_response()
        }
    }
}
