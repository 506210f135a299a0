//! `POST /api/v1/chat/stream`: the chat request of `/api/chat`, answered as Server-Sent Events
//! (`meta`, `token`…, `done`, or `error`). The stream owns the request's work: a client that
//! disconnects drops it, which cancels the pipeline where it stands (LLM tokens are forwarded as
//! they arrive; see `tria_agent::stream` for the rule when a reply is replaced).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use tria_agent::ChatEvent;
use tria_core::ChatRequest;

use crate::ApiError;
use crate::auth::ChatAuth;
use crate::json_body::JsonBody;
use crate::state::AppState;

pub(crate) async fn chat_stream(
    State(state): State<AppState>,
    caller: ChatAuth,
    JsonBody(request): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    state.agent().check_request(&caller.tenant, &request).await?;
    crate::web::admit_widget_request(&state, &caller, &request).await?;
    crate::admission::admit(&state, &caller.tenant, request.customer_id.as_deref()).await?;
    let context = crate::admission::llm_context(&caller.tenant);
    // The pipeline runs in its own task and hands events over a small channel; when the client
    // disconnects, the response body (and with it the receiver) is dropped, the task sees the
    // channel close and drops the pipeline, which cancels the upstream LLM request. The LLM call
    // context is task-local, so the spawned task carries it explicitly.
    let (tx, rx) = tokio::sync::mpsc::channel::<ChatEvent>(32);
    tokio::spawn(tria_llm::with_call_context(context, async move {
        let events = state.agent().chat_stream(&caller.tenant, request);
        futures::pin_mut!(events);
        // The session is named in `meta` and stored by the time `done` is sent.
        let mut session = None;
        loop {
            tokio::select! {
                () = tx.closed() => {
                    tracing::info!("stream client disconnected; chat cancelled");
                    return;
                }
                next = events.next() => match next {
                    Some(event) => {
                        match &event {
                            ChatEvent::Meta { session_id, .. } => session = Some(session_id.clone()),
                            ChatEvent::Done { .. } => {
                                if let Some(id) = &session {
                                    crate::web::after_widget_session(&state, &caller, id).await;
                                }
                            }
                            _ => {}
                        }
                        if tx.send(event).await.is_err() { return }
                    }
                    None => return,
                },
            }
        }
    }));
    let events = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|event| (event, rx)) })
        .map(|event| Ok::<_, Infallible>(sse_event(&event)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

pub(crate) fn sse_event(event: &ChatEvent) -> Event {
    Event::default().event(event.name()).data(event.data().to_string())
}
