//! `POST /api/v1/chat/stream`: the chat request of `/api/chat`, answered as Server-Sent Events
//! (`meta`, `token`…, `done`, or `error`). The stream owns the request's work: a client that
//! disconnects drops it, which cancels the pipeline where it stands.

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
    let message = request.message.clone();
    let context = crate::admission::llm_context(&caller.tenant);
    let events = stream::once(async move {
        let result = tria_llm::with_call_context(context, state.agent().chat(&caller.tenant, request)).await;
        crate::web::after_widget_reply(&state, &caller, &result).await;
        result
    })
    .flat_map(move |result| stream::iter(ChatEvent::sequence(&message, result)))
    .map(|event| Ok::<_, Infallible>(sse_event(&event)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

pub(crate) fn sse_event(event: &ChatEvent) -> Event {
    Event::default().event(event.name()).data(event.data().to_string())
}
