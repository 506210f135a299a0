//! Console handlers: who am I, the queue, one conversation, take over / hand back, operator
//! replies. Every read goes through the caller's tenant set (`ConsoleAuth::tenants`), so a
//! conversation of another tenant is "not found", never shown; every change goes through the
//! agent, under the conversation's turn lock and with the records a hand-off makes.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tria_agent::OperatorReply;
use tria_core::{ConversationId, ConversationStatus, ErrorCode, MessageRole, TenantContext, TenantId};
use tria_store::entity::conversation;
use uuid::Uuid;

use super::summary::{citation_text, reply_notes, sentiment, summarise};
use super::{query_param, scope};
use crate::ApiError;
use crate::auth::ConsoleAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Conversations listed in the queue at most.
const QUEUE_LIMIT: u64 = 100;
/// Longest operator message accepted.
const MAX_OPERATOR_MESSAGE_CHARS: usize = 4000;

fn tenant_json(t: &TenantContext) -> Value {
    json!({ "id": t.id, "slug": t.slug, "name": t.name })
}

async fn tenants_by_id(state: &AppState, ids: &[TenantId]) -> Result<HashMap<TenantId, TenantContext>, ApiError> {
    Ok(state.store().tenants().list().await?.into_iter().filter(|t| ids.contains(&t.id)).map(|t| (t.id, t)).collect())
}

fn conversation_json(c: &conversation::Model, tenant: Option<&TenantContext>) -> Value {
    json!({
        "id": c.id,
        "tenant": tenant.map(tenant_json),
        "channel": c.channel,
        "status": c.status,
        "resolution": c.resolution,
        "started_at": c.started_at,
        "updated_at": c.updated_at,
    })
}

/// `GET /api/v1/console/me`: the caller's role and the tenants it works on.
pub(crate) async fn me(State(state): State<AppState>, caller: ConsoleAuth) -> Result<Response, ApiError> {
    let tenants = tenants_by_id(&state, &caller.tenants).await?;
    let mut list: Vec<&TenantContext> = tenants.values().collect();
    list.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(Json(json!({ "role": caller.role.as_str(), "tenants": list.into_iter().map(tenant_json).collect::<Vec<_>>() })).into_response())
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
    let tenants = scope(&state, &caller, query_param(query.as_deref(), "tenant")).await?;
    let console = state.store().console();
    let rows = console.conversations(&tenants, status, QUEUE_LIMIT).await?;
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let mut by_conversation: HashMap<Uuid, Vec<tria_store::entity::message::Model>> = HashMap::new();
    for m in console.messages_of(&tenants, &ids).await? {
        by_conversation.entry(m.conversation_id).or_default().push(m);
    }
    let escalated: HashSet<Uuid> = console.escalated_conversations(&tenants).await?.into_iter().collect();
    let names = tenants_by_id(&state, &tenants).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|c| {
            let messages = by_conversation.get(&c.id).map(Vec::as_slice).unwrap_or_default();
            let users = || messages.iter().filter(|m| m.role == MessageRole::User.as_str());
            let intent = users().rev().find_map(|m| m.intent.clone());
            let asked_for_person = users().any(|m| m.intent.as_deref() == Some("human_handoff"));
            let preview = messages.last().map(|m| m.content.chars().take(120).collect::<String>());
            let mut row = conversation_json(c, names.get(&TenantId(c.tenant_id)));
            row["intent"] = json!(intent);
            row["sentiment"] = json!(sentiment(messages).as_str());
            row["handoff"] = json!(c.status == ConversationStatus::HandedOff.as_str() || escalated.contains(&c.id) || asked_for_person);
            row["messages"] = json!(messages.len());
            row["preview"] = json!(preview);
            row
        })
        .collect();
    Ok(Json(json!({ "conversations": list })).into_response())
}

/// The caller's conversation `id` and its tenant, or 404.
async fn owned(state: &AppState, caller: &ConsoleAuth, id: &str) -> Result<(conversation::Model, TenantContext), ApiError> {
    let not_found = || ApiError::not_found("conversation not found");
    let id: ConversationId = id.parse().map_err(|_| not_found())?;
    let row = state.store().console().conversation(&caller.tenants, id).await?.ok_or_else(not_found)?;
    let tenant = state.store().tenants().get(TenantId(row.tenant_id)).await?.ok_or_else(not_found)?;
    Ok((row, tenant))
}

/// `GET /api/v1/console/conversations/{id}`: the handoff summary, the transcript with each
/// reply's citations, notes and feedback, and the escalations.
pub(crate) async fn conversation(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (row, tenant) = owned(&state, &caller, &id).await?;
    let conversation_id = ConversationId(row.id);
    let console = state.store().console();
    let messages = state.store().conversations().messages(tenant.id, conversation_id).await?;
    let escalations = console.escalations(tenant.id, conversation_id).await?;
    let labels = crate::web::citation_labels(&state, tenant.id, &messages).await?;
    let feedback: HashMap<Uuid, String> = console
        .feedback_on(tenant.id, &messages.iter().map(|m| m.id).collect::<Vec<_>>())
        .await?
        .into_iter()
        .map(|f| (f.message_id, f.rating))
        .collect();
    let cited = |id: &str| -> Option<String> {
        let label = labels.get(id)?;
        let (title, heading) = (label["title"].as_str().unwrap_or(id), label["heading"].as_str().unwrap_or(""));
        Some(citation_text(title, heading))
    };
    let summary = summarise(&messages, &escalations, &row.status, &cited);
    let transcript: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut v = crate::web::message_json(m);
            v["citations"] = json!(
                crate::web::source_ids(m)
                    .iter()
                    .map(|id| labels.get(id).cloned().unwrap_or_else(|| json!({ "id": id, "title": id, "heading": "", "excerpt": "" })))
                    .collect::<Vec<_>>()
            );
            v["notes"] = json!(reply_notes(m));
            v["feedback"] = json!(feedback.get(&m.id));
            v
        })
        .collect();
    let escalations: Vec<Value> = escalations
        .iter()
        .map(|e| json!({ "id": e.id, "reason": e.reason, "ticket_ref": e.ticket_ref, "status": e.status, "created_at": e.created_at }))
        .collect();
    Ok(Json(json!({
        "conversation": conversation_json(&row, Some(&tenant)),
        "summary": summary,
        "messages": transcript,
        "escalations": escalations,
    }))
    .into_response())
}

fn changed(caller: &ConsoleAuth, tenant: &TenantContext, updated: &conversation::Model) -> Response {
    tracing::info!(key = %caller.key_id, tenant = %tenant.slug, conversation = %updated.id, status = %updated.status, "console changed who answers");
    Json(conversation_json(updated, Some(tenant))).into_response()
}

/// `POST .../take-over`: a person answers from now on (`handed_off`); the bot stops. A
/// hand-off like the bot's own: an escalation is opened and the helpdesk told.
pub(crate) async fn take_over(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (row, tenant) = owned(&state, &caller, &id).await?;
    let updated = state.agent().take_over(&tenant, ConversationId(row.id)).await?;
    Ok(changed(&caller, &tenant, &updated))
}

/// `POST .../hand-back`: the bot answers again (`open`).
pub(crate) async fn hand_back(
    State(state): State<AppState>,
    caller: ConsoleAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (row, tenant) = owned(&state, &caller, &id).await?;
    let updated = state.agent().hand_back(&tenant, ConversationId(row.id)).await?;
    Ok(changed(&caller, &tenant, &updated))
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
    let (row, tenant) = owned(&state, &caller, &id).await?;
    match state.agent().operator_message(&tenant, ConversationId(row.id), content).await? {
        OperatorReply::Stored(stored) => Ok((http::StatusCode::CREATED, Json(crate::web::message_json(&stored))).into_response()),
        OperatorReply::BotAnswering => Err(ApiError::new(
            http::StatusCode::CONFLICT,
            ErrorCode::InvalidField,
            "take the conversation over before replying (the bot is answering it)",
        )),
    }
}
