//! The chat routes' load-shedding middleware: the HTTP side of `tria_admission::shed`. The
//! caller is authenticated from the headers before the body is read, so a request without a
//! valid key costs no body buffer and no slot; the gate ([`tria_admission::ShedGate`]) decides
//! the open-chat limits and the slot within the tenant's (and widget key's) share, and this
//! module turns its refusals into 429/503 and keeps the places for as long as the reply is sent.

use std::sync::atomic::Ordering;

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tria_admission::{GateSlot, ShedReason};

use crate::ApiError;
use crate::auth::ChatAuth;
use crate::serve::ConnectionHandle;
use crate::state::AppState;

/// Middleware on the chat routes. In order: the caller's key (and the tenant's rate) from the
/// headers, so an unauthenticated request is refused before its body is read; the open-chat
/// limits of the connection and the key; the body (size-limited, within `body_read_timeout`,
/// so a client holding its body back never holds a slot); then a slot within the tenant's (and
/// widget key's) share. A JSON reply is complete when it is returned and frees the slot then;
/// a stream's handler takes the slot into the task producing it ([`GateSlot`]). The open-chat
/// places ride along with the response body until it has been sent, or until the server's
/// write timeout closes a connection whose client stopped reading.
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let caller = match ChatAuth::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let limits = &state.settings().limits;
    let on_connection = match parts.extensions.get::<ConnectionHandle>() {
        Some(handle) => match handle.0.try_open_chat(limits.max_chats_per_connection) {
            Some(place) => Some(place),
            None => {
                state.connection_stats().chat_streams_refused.fetch_add(1, Ordering::Relaxed);
                return too_many_open(format!(
                    "at most {} chat requests may be open at once on one connection",
                    limits.max_chats_per_connection
                ));
            }
        },
        None => None,
    };
    let Some(on_key) = state.shed_gate().open_chat_for_key(caller.key_id) else {
        state.connection_stats().chat_streams_refused.fetch_add(1, Ordering::Relaxed);
        return too_many_open(format!("at most {} chat requests may be open at once through one API key", limits.max_chats_per_key));
    };
    let (tenant, widget_key) = (caller.tenant.id, caller.widget.then_some(caller.key_id));
    parts.extensions.insert(caller);
    let settings = state.settings();
    // Boxed: the read's future is only needed until the body is in, not for the whole request.
    let req =
        match Box::pin(crate::json_body::buffered(Request::from_parts(parts, body), settings.body_limit_bytes, settings.body_read_timeout))
            .await
        {
            Ok(req) => req,
            Err(err) => return err.into_response(),
        };
    let slot = match state.shed_gate().acquire_for(tenant, widget_key).await {
        Ok(slot) => GateSlot::new(slot),
        Err(reason) => {
            tracing::debug!(?reason, "request shed");
            let message = match reason {
                ShedReason::ShareFull => "this tenant is using its share of the service's capacity; retry shortly",
                ShedReason::QueueFull | ShedReason::QueueTimeout => "the service is at capacity; retry shortly",
            };
            return ApiError::overloaded(message, 1).into_response();
        }
    };
    let mut req = req;
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    // Returned: unless a stream's handler took it, the work the slot was for is done.
    drop(slot.take());
    // A body of known length (every JSON reply) is complete: kept as it is, it goes out with a
    // Content-Length, not chunked.
    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let places = (on_connection, on_key);
    let body = body.into_data_stream().map(move |chunk| {
        let _open = &places;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// 429 for a caller with too many chat requests open at once.
fn too_many_open(message: String) -> Response {
    ApiError::rate_limited(message, 1).into_response()
}
