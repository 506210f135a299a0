//! `POST /v1/chat/completions`: the OpenAI Chat Completions API in front of the pipeline, so
//! OpenAI SDKs and tools can talk to Tria. The tenant key is the bearer token; the last `user`
//! message is the customer's message (Tria keeps the conversation itself: pass
//! `metadata.session_id` — returned in `tria.session_id` and the `x-tria-session-id` header — to
//! continue one); `user` or `metadata.customer_id` names the customer; `model` is echoed back
//! (any value names the tenant's assistant).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::stream::{self, StreamExt};
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tria_admission::{GateSlot, Slot};
use tria_agent::{ChatEvent, Usage};
use tria_core::json_object::Object;
use tria_core::{ChatRequest, ErrorCode, TenantContext};

use crate::ApiError;
use crate::auth::TenantAuth;
use crate::chat_admission::{AdmittedChat, AdmittedTurn, ChatCaller, admit_chat, admit_turn};
use crate::json_body::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    /// Objects only: the derived impl would also read `["user", "hi"]` as a message by field
    /// order, which OpenAI's API refuses.
    messages: Vec<Object<CompletionMessage>>,
    #[serde(default)]
    stream: bool,
    #[serde(default, deserialize_with = "object")]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default, deserialize_with = "object")]
    metadata: Option<Metadata>,
}

/// A nested object (or null). Serde would also fill a struct from a JSON array (`[null, null]`),
/// which the API documents as invalid.
fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Object<T>>::deserialize(deserializer)?.map(|o| o.0))
}

#[derive(Debug, Deserialize)]
struct CompletionMessage {
    role: String,
    /// A string, or an array of content parts of which the `text` ones are read.
    #[serde(default)]
    content: Value,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    customer_id: Option<String>,
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            parts.iter().filter(|p| p["type"] == "text").filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

impl CompletionRequest {
    fn into_chat(self, tenant: &TenantContext) -> Result<(ChatRequest, String, bool, bool), ApiError> {
        if let Some(m) = self.messages.iter().map(|m| &m.0).find(|m| !ROLES.contains(&m.role.as_str())) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidField,
                format!("message role must be one of {}, not {:?}", ROLES.join(", "), m.role.chars().take(40).collect::<String>()),
            ));
        }
        let message =
            self.messages.iter().rev().map(|m| &m.0).find(|m| m.role == "user").map(|m| text_of(&m.content)).ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MissingField, "`messages` must contain a `user` message")
            })?;
        let metadata = self.metadata.unwrap_or_default();
        let model = self.model.filter(|m| !m.trim().is_empty()).unwrap_or_else(|| format!("tria-{}", tenant.slug));
        let include_usage = self.stream_options.is_some_and(|o| o.include_usage);
        let request = ChatRequest { message, session_id: metadata.session_id, customer_id: metadata.customer_id.or(self.user) };
        Ok((request, model, self.stream, include_usage))
    }
}

/// The roles a Chat Completions message may have.
const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    slot: Option<Extension<GateSlot>>,
    JsonBody(body): JsonBody<CompletionRequest>,
) -> Result<Response, ApiError> {
    let (request, model, streaming, include_usage) = body.into_chat(&tenant)?;
    if streaming {
        // The turn begins before the first chunk: a request it refuses is a plain HTTP error.
        let admitted = admit_turn(&state, ChatCaller::tenant(tenant), request).await?;
        let slot = slot.and_then(|Extension(slot)| slot.take());
        return Ok(stream_completion(state, admitted, model, include_usage, slot));
    }
    let AdmittedChat { tenant, request, caller, scope } = admit_chat(&state, ChatCaller::tenant(tenant), request).await?;
    let message = request.message.clone();
    let (reply, _) = scope.run(Box::pin(state.agent().chat_traced_on(&tenant, request, caller))).await?;
    let usage = Usage::of(&message, &reply.reply);
    let session = reply.session_id.clone();
    let body = json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": reply.reply },
            "finish_reason": "stop",
            "logprobs": null,
        }],
        "usage": usage,
        "tria": { "session_id": reply.session_id, "intent": reply.intent, "sources": reply.sources, "cache": reply.cache, "latency_ms": reply.latency_ms },
    });
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&session) {
        response.headers_mut().insert("x-tria-session-id", value);
    }
    Ok(response)
}

/// The envelope shared by every chunk of one streamed completion.
struct Chunks {
    id: String,
    created: i64,
    model: String,
}

impl Chunks {
    fn choice(&self, delta: Value, finish: Option<&str>, tria: Option<Value>) -> Event {
        let mut c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
        });
        if let Some(tria) = tria {
            c["tria"] = tria;
        }
        Event::default().data(c.to_string())
    }

    /// OpenAI's final usage chunk (with `stream_options.include_usage`) carries no choices.
    fn usage(&self, usage: &Usage) -> Event {
        let c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [], "usage": usage,
        });
        Event::default().data(c.to_string())
    }
}

/// `chat.completion.chunk` events, then `data: [DONE]`, as OpenAI streams them.
/// The reply is made in a task of its own that holds the gate slot, so the slot is freed when
/// the reply is complete, whether or not the client reads it; the body waits for the result.
fn stream_completion(state: AppState, admitted: AdmittedTurn, model: String, include_usage: bool, slot: Option<Slot>) -> Response {
    let chunks = Chunks { id: completion_id(), created: now(), model };
    let AdmittedTurn { tenant, turn, scope } = admitted;
    let message = turn.message_as_sent().to_owned();
    let (mut done, result) = tokio::sync::oneshot::channel();
    let reply = tokio::spawn(scope.run(async move {
        let _slot = slot;
        let mut chat = Box::pin(state.agent().answer_turn(&tenant, turn));
        // A client that disconnects drops the receiver: stop working on its reply.
        let result = tokio::select! {
            result = &mut chat => result.map(|(reply, _)| reply),
            () = done.closed() => return,
        };
        let _ = done.send(result);
    }));
    // Dropping the body (the client went away) aborts the task with it.
    let abort = AbortOnDrop(reply.abort_handle());
    let events = stream::once(async move {
        let _abort = abort;
        // The task only ends without sending when it panicked.
        result.await.unwrap_or_else(|_| Err(tria_agent::AgentError::Internal("the reply task ended without a reply".into())))
    })
    .flat_map(move |result| {
        let mut out = Vec::new();
        let events = match result {
            Ok(reply) => ChatEvent::sequence(&message, reply),
            Err(err) => vec![ApiError::from(err).into_chat_event()],
        };
        for event in events {
            match event {
                ChatEvent::Meta { session_id, intent, cache } => out.push(chunks.choice(
                    json!({ "role": "assistant", "content": "" }),
                    None,
                    Some(json!({ "session_id": session_id, "intent": intent, "cache": cache })),
                )),
                ChatEvent::Token { delta } => out.push(chunks.choice(json!({ "content": delta }), None, None)),
                // `sequence` streams a finished reply, which never needs replacing.
                ChatEvent::Replace { reply } => out.push(chunks.choice(json!({ "content": reply }), None, None)),
                ChatEvent::Done { usage, sources, .. } => {
                    out.push(chunks.choice(json!({}), Some("stop"), Some(json!({ "sources": sources }))));
                    if include_usage {
                        out.push(chunks.usage(&usage));
                    }
                }
                ChatEvent::Error { code, message } => {
                    out.push(Event::default().data(json!({ "error": { "code": code, "message": message, "type": code } }).to_string()));
                }
            }
        }
        out.push(Event::default().data("[DONE]"));
        stream::iter(out)
    })
    .map(Ok::<_, Infallible>);
    Sse::new(events).into_response()
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
