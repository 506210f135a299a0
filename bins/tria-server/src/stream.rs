//! `POST /api/v1/chat/stream`: the chat request of `/api/chat`, answered as Server-Sent Events
//! (`meta`, `token`…, `done`, or `error`). The stream owns the request's work: a client that
//! disconnects drops it, which cancels the pipeline where it stands (LLM tokens are forwarded as
//! they arrive; see `tria_agent::stream` for the rule when a reply is replaced).

use std::convert::Infallible;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use tria_admission::GateSlot;
use tria_agent::ChatEvent;
use tria_core::ChatRequest;

use crate::ApiError;
use crate::auth::ChatAuth;
use crate::chat_admission::{AdmittedTurn, admit_turn};
use crate::json_body::JsonBody;
use crate::state::AppState;

pub(crate) async fn chat_stream(
    State(state): State<AppState>,
    caller: ChatAuth,
    slot: Option<Extension<GateSlot>>,
    JsonBody(request): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    // The turn begins before the first event: a request it refuses is a plain HTTP error.
    let AdmittedTurn { tenant, turn, scope } = admit_turn(&state, caller.into(), request).await?;
    // The pipeline runs in its own task and hands events over a channel; when the client
    // disconnects, the response body (and with it the receiver) is dropped, the task sees the
    // channel close and drops the pipeline, which cancels the upstream LLM request. The call
    // context and the client are task-locals, so the spawned task carries the scope.
    //
    // The task holds the request's gate slot and never waits for the client: a reply is
    // bounded (the model's token limit), so the channel is not, and the slot is freed when the
    // reply is complete even if the client reads slowly or not at all (the server's write
    // timeout closes such a connection, dropping what is still queued).
    let slot = slot.and_then(|Extension(slot)| slot.take());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ChatEvent>();
    let pipeline = async move {
        let _slot = slot;
        let events = state.agent().chat_stream_turn(&tenant, turn);
        futures::pin_mut!(events);
        loop {
            tokio::select! {
                () = tx.closed() => {
                    tracing::info!("stream client disconnected; chat cancelled");
                    return;
                }
                next = events.next() => match next {
                    Some(event) => {
                        if tx.send(crate::error::chat_event(event)).is_err() { return }
                    }
                    None => return,
                },
            }
        }
    };
    tokio::spawn(scope.run(pipeline));
    let events = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|event| (event, rx)) })
        .map(|event| Ok::<_, Infallible>(sse_event(&event)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

pub(crate) fn sse_event(event: &ChatEvent) -> Event {
    Event::default().event(event.name()).data(event.data().to_string())
}
