//! The widget's view of its session: the messages of a session after a given one (how operator
//! replies reach the customer's page), and thumbs up/down on replies. Which sessions a caller
//! may use is the agent's to decide (`tria_agent::Caller`); this module is the HTTP around it.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tria_console::{citation_labels, source_ids};
use tria_core::constraints::PROSE_PATTERN;
use tria_core::{ConversationId, ErrorCode};
use tria_store::records::StoredMessage;
use tria_store::repo::Rating;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use uuid::Uuid;

use crate::ApiError;
use crate::auth::ChatAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Longest feedback comment kept, in characters, trimmed; the document's `maxLength` is this.
const MAX_COMMENT_CHARS: usize = 2000;

/// What the agent needs to know about the caller to check what it may touch: a tenant key
/// or a publishable widget key (`tria_agent::Caller` holds the rules).
pub(crate) fn caller_of(caller: &ChatAuth) -> tria_agent::Caller {
    if caller.widget { tria_agent::Caller::WIDGET } else { tria_agent::Caller::TENANT }
}

/// A stored message as the widget and console show it.
/// The agent's view of it (`tria_agent::HistoryMessage`, what `/api/sessions/{id}/messages`
/// returns) plus the message's `id`, which the widget's `after=` and feedback need.
pub(crate) fn message_json(m: &StoredMessage) -> Value {
    json!(MessageJson { id: m.id, view: tria_agent::HistoryMessage::from(m) })
}

/// `message_json`'s shape: the `id` first, then the view's fields.
#[derive(Serialize)]
struct MessageJson {
    id: Uuid,
    #[serde(flatten)]
    view: tria_agent::HistoryMessage,
}

/// `after=<message id>` from a query string.
fn after_param(query: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    let Some(query) = query else { return Ok(None) };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("after=") {
            if value.is_empty() {
                return Ok(None);
            }
            return value.parse().map(Some).map_err(|_| ApiError::bad_request("`after` must be a message id (UUID)"));
        }
    }
    Ok(None)
}

/// `GET /api/v1/sessions/{id}/events?after=<message id>`: the session's status and its messages
/// after the given one (all without `after`). The widget polls it so operator replies reach
/// the customer's page; an unknown `after` returns every message.
pub(crate) async fn session_events(
    State(state): State<AppState>,
    caller: ChatAuth,
    PathParam(id): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let after = after_param(query.as_deref())?;
    let conversation = state.agent().session_for(&caller.tenant, caller_of(&caller), &id).await?;
    let messages = state.store().conversations().messages(caller.tenant.id, ConversationId(conversation.id)).await?;
    let start = after.and_then(|a| messages.iter().position(|m| m.id == a)).map_or(0, |i| i + 1);
    let messages = &messages[start..];
    let labels = citation_labels(state.store(), caller.tenant.id, messages).await?;
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut v = message_json(m);
            v["citations"] = json!(
                source_ids(m)
                    .iter()
                    .map(|id| labels.get(id).map_or_else(|| json!({ "id": id, "title": id, "heading": "" }), |c| json!(c)))
                    .collect::<Vec<_>>()
            );
            v
        })
        .collect();
    Ok(Json(json!({ "session_id": conversation.id, "status": conversation.status, "messages": messages })).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Feedback)]
pub(crate) struct FeedbackBody {
    #[schema(schema_with = rating_schema)]
    rating: String,
    #[serde(default)]
    #[schema(schema_with = comment_schema)]
    comment: Option<String>,
}

/// A feedback's rating: a [`Rating`].
fn rating_schema() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([Rating::Up, Rating::Down].map(Rating::as_str))).into()
}

/// A feedback's comment ([`MAX_COMMENT_CHARS`]; utoipa's `max_length` takes literals only).
fn comment_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX_COMMENT_CHARS))
        .pattern(Some(PROSE_PATTERN))
        .into()
}

/// `POST /api/v1/messages/{id}/feedback` `{"rating": "up"|"down", "comment"?}`: the customer's
/// verdict on one reply; a second verdict replaces the first.
pub(crate) async fn feedback(
    State(state): State<AppState>,
    caller: ChatAuth,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<FeedbackBody>,
) -> Result<Response, ApiError> {
    let message_id: Uuid = id.parse().map_err(|_| ApiError::not_found("message not found"))?;
    let rating = Rating::parse(&body.rating)
        .ok_or_else(|| ApiError::new(http::StatusCode::BAD_REQUEST, ErrorCode::InvalidField, "`rating` must be `up` or `down`"))?;
    let comment = body.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if let Some(comment) = comment {
        crate::text_input::multi_line("comment", comment)?;
    }
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ApiError::bad_request(format!("`comment` must be at most {MAX_COMMENT_CHARS} characters")));
    }
    let session = state.agent().record_feedback(&caller.tenant, caller_of(&caller), message_id, rating, comment).await?;
    Ok(Json(json!({ "message_id": message_id, "session_id": session, "rating": rating.as_str() })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_is_optional_and_must_be_a_uuid() {
        assert_eq!(after_param(None).expect("none"), None);
        assert_eq!(after_param(Some("x=1")).expect("other params"), None);
        let id = Uuid::new_v4();
        assert_eq!(after_param(Some(&format!("x=1&after={id}"))).expect("after"), Some(id));
        assert!(after_param(Some("after=nope")).is_err());
    }

    #[test]
    fn a_message_is_shown_as_it_always_was() {
        let m = StoredMessage {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            conversation_id: Uuid::new_v4(),
            role: "assistant".into(),
            content: "Returns are free within 30 days.".into(),
            intent: Some("policy_question".into()),
            confidence: Some(0.91),
            sources: json!(["chunk-1", "product:NW-OAT"]),
            tokens_in: 12,
            tokens_out: 7,
            latency_ms: 42,
            cache_level: Some("l1".into()),
            prompt_version: None,
            cost_usd: 0.0,
            sentiment: None,
            created_at: chrono::Utc::now(),
        };
        // The JSON built by hand before the view was shared with the history endpoint.
        let before = json!({
            "id": m.id,
            "role": m.role,
            "content": m.content,
            "intent": m.intent,
            "confidence": m.confidence,
            "sources": m.sources,
            "cache": m.cache_level,
            "latency_ms": m.latency_ms,
            "created_at": m.created_at,
        });
        assert_eq!(serde_json::to_string(&message_json(&m)).expect("json"), serde_json::to_string(&before).expect("json"));
    }
}
