//! Console handlers: who am I, the queue, one conversation, take over / hand back, operator
//! replies. Each extracts the caller's tenant set (`ConsoleAuth::tenants`) and the request's
//! values, asks `tria_console::Console`, and encodes the answer.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tria_console::{ConversationRow, TranscriptEntry};
use tria_core::{ConversationStatus, ErrorCode};

use super::{console, json_of, query_param};
use crate::ApiError;
use crate::auth::ConsoleAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Longest operator message accepted.
const MAX_OPERATOR_MESSAGE_CHARS: usize = 4000;

/// `GET /api/v1/console/me`: the caller's role and the tenants it works on.
pub(crate) async fn me(State(state): State<AppState>, caller: ConsoleAuth) -> Result<Response, ApiError> {
    let tenants = console(&state).tenants(&caller.tenants).await?;
    Ok(Json(json!({ "role": caller.role.as_str(), "tenants": tenants })).into_response())
}

/// `GET /api/v1/console/conversations?status=&tenant=`: the queue across the caller's tenants,
/// most recently active first, each with its client, status, latest intent, the customer's
/// sentiment and whether a person is (or was asked to be) involved.
pub(crate) async fn conversations(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let status = match query_param(query.as_deref(), "status") {
        Some(s) => Some(ConversationStatus::parse(s).ok_or_else(|| {
            ApiError::new(http::StatusCode::BAD_REQUEST, ErrorCode::InvalidField, "`status` must be open, handed_off or closed")
        })?),
        None => None,
    };
    let queue = console(&state).queue(&caller.tenants, query_param(query.as_deref(), "tenant"), status).await?;
    Ok(Json(json!({ "conversations": queue })).into_response())
}

/// A transcript line: the stored message as the widget shows it, with the console's additions.
fn transcript_json(entry: &TranscriptEntry) -> Value {
    let mut v = crate::web::message_json(&entry.message);
    v["citations"] = json!(entry.citations);
    v["notes"] = json!(entry.notes);
    v["feedback"] = json!(entry.feedback);
    v
}

/// `GET /api/v1/console/conversations/{id}`: the handoff summary, the transcript with each
/// reply's citations, notes and feedback, and the escalations.
pub(crate) async fn conversation(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let view = console(&state).conversation(&caller.tenants, &id).await?;
    Ok(Json(json!({
        "conversation": view.conversation,
        "summary": view.summary,
        "messages": view.transcript.iter().map(transcript_json).collect::<Vec<_>>(),
        "escalations": view.escalations,
    }))
    .into_response())
}

fn changed(caller: &ConsoleAuth, updated: &ConversationRow) -> Response {
    let tenant = updated.tenant.as_ref().map_or("", |t| t.slug.as_str());
    tracing::info!(key = %caller.key_id, tenant = %tenant, conversation = %updated.id, status = %updated.status, "console changed who answers");
    json_of(updated)
}

/// `POST .../take-over`: a person answers from now on (`handed_off`); the bot stops. A
/// hand-off like the bot's own: an escalation is opened and the helpdesk told.
pub(crate) async fn take_over(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    rid: crate::audit::RequestId,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let updated = console(&state).take_over(&caller.tenants, &id).await?;
    crate::audit::record(
        &state,
        crate::audit::Actor { key_id: caller.key_id, role: caller.role },
        &rid,
        updated.tenant.as_ref().map(|t| (t.id, t.slug.as_str())),
        "conversation.taken_over",
        format!("conversation:{}", updated.id),
        json!({ "status": updated.status }),
    )
    .await;
    Ok(changed(&caller, &updated))
}

/// `POST .../hand-back`: the bot answers again (`open`).
pub(crate) async fn hand_back(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    rid: crate::audit::RequestId,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let updated = console(&state).hand_back(&caller.tenants, &id).await?;
    crate::audit::record(
        &state,
        crate::audit::Actor { key_id: caller.key_id, role: caller.role },
        &rid,
        updated.tenant.as_ref().map(|t| (t.id, t.slug.as_str())),
        "conversation.handed_back",
        format!("conversation:{}", updated.id),
        json!({ "status": updated.status }),
    )
    .await;
    Ok(changed(&caller, &updated))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperatorMessage {
    content: String,
}

/// `POST .../messages` `{"content"}`: an operator's reply, stored with role `operator`; the
/// customer's page picks it up from the session's events. Only in a taken-over conversation
/// (409 otherwise), so bot and person never answer at once.
pub(crate) async fn post_message(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<OperatorMessage>,
) -> Result<Response, ApiError> {
    let content = body.content.trim();
    if content.is_empty() {
        return Err(ApiError::bad_request("`content` must not be empty"));
    }
    crate::text_input::multi_line("content", content)?;
    if content.chars().count() > MAX_OPERATOR_MESSAGE_CHARS {
        return Err(ApiError::bad_request(format!("`content` must be at most {MAX_OPERATOR_MESSAGE_CHARS} characters")));
    }
    let stored = console(&state).operator_message(&caller.tenants, &id, content).await?;
    Ok((http::StatusCode::CREATED, Json(crate::web::message_json(&stored))).into_response())
}
