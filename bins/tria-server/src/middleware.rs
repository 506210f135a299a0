//! Cross-cutting request handling: request ids, the whole-request deadline, panics.

use std::any::Any;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use tracing::Instrument;
use tria_core::ErrorCode;

use crate::ApiError;
use crate::state::AppState;

pub(crate) const REQUEST_ID: &str = "x-request-id";

/// A caller-supplied id is kept when it is short and printable; otherwise a fresh one is made.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Gives every request an id (echoed in `x-request-id`), a tracing span carrying it, and the
/// configured deadline.
pub(crate) async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    // Handlers that record what they did (the audit log) read it back.
    req.extensions_mut().insert(crate::audit::RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        tenant = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    crate::telemetry::continue_trace(&span, req.headers());
    let deadline = state.settings().request_timeout;
    let mut response = async move {
        let started = std::time::Instant::now();
        let response = match tokio::time::timeout(deadline, next.run(req)).await {
            Ok(response) => response,
            Err(_) => {
                let mut err =
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Timeout, "the request took too long; retry shortly");
                err.retry_after = Some(1);
                err.into_response()
            }
        };
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::info!(latency_ms = started.elapsed().as_millis() as u64, "request finished");
        response
    }
    .instrument(span.clone())
    .await;
    // Tells the caller which trace to look for (only present when tracing export is on).
    crate::telemetry::inject_trace(&span, response.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// A panic in a handler becomes a 500 JSON error; the process keeps serving.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail =
        panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("unknown panic");
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}
