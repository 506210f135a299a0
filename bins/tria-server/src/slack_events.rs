//! `POST /integrations/slack/events`: the Slack Events API. The signature (`X-Slack-Signature`
//! v0 over the raw body, timestamps older than 5 minutes refused) is checked before anything
//! else — a bad one is 401 and nothing is done. `url_verification` is answered with its
//! challenge; `reaction_added` with 🎫 (`ticket`) opens a ticket from the message, with ✅
//! (`white_check_mark`) resolves the ticket made from it. Other events are acknowledged.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};

use crate::ApiError;
use crate::helpdesk::{Helpdesk, ReactionOutcome};
use crate::state::AppState;

/// The Slack app's signing secret and the tenant its workspace works for.
pub struct SlackEvents {
    pub signing_secret: String,
    pub tenant_slug: String,
    pub helpdesk: Arc<Helpdesk>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

pub(crate) async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let Some(slack) = state.slack_events() else {
        return Err(ApiError::not_found("Slack events are not configured"));
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(why) = tria_integrations::slack::verify(
        &slack.signing_secret,
        header(&headers, "x-slack-request-timestamp"),
        &body,
        header(&headers, "x-slack-signature"),
        now,
    ) {
        tracing::warn!(reason = %why, "Slack event refused");
        return Err(ApiError::unauthorized(format!("Slack signature check failed: {why}")));
    }
    let event: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("body is not JSON"))?;
    match event.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            Ok(Json(json!({ "challenge": event.get("challenge").cloned().unwrap_or(Value::Null) })).into_response())
        }
        Some("event_callback") => {
            let outcome = reaction(&state, slack, &event["event"]).await?;
            Ok(Json(json!({ "ok": true, "outcome": outcome })).into_response())
        }
        _ => Ok(Json(json!({ "ok": true })).into_response()),
    }
}

async fn reaction(state: &AppState, slack: &SlackEvents, event: &Value) -> Result<String, ApiError> {
    if event.get("type").and_then(Value::as_str) != Some("reaction_added")
        || event.pointer("/item/type").and_then(Value::as_str) != Some("message")
    {
        return Ok("ignored".into());
    }
    let channel = event.pointer("/item/channel").and_then(Value::as_str).unwrap_or_default();
    let ts = event.pointer("/item/ts").and_then(Value::as_str).unwrap_or_default();
    let user = event.get("user").and_then(Value::as_str).unwrap_or("someone");
    if channel.is_empty() || ts.is_empty() {
        return Err(ApiError::bad_request("reaction_added without item.channel and item.ts"));
    }
    let Some(tenant) = state.store().tenants().find_by_slug(&slack.tenant_slug).await? else {
        tracing::error!(tenant = %slack.tenant_slug, "integrations.slack.tenant names no tenant");
        return Ok("no such tenant".into());
    };
    let result = match event.get("reaction").and_then(Value::as_str) {
        Some("ticket") => slack.helpdesk.ticket_from_slack(&tenant, channel, ts, user).await,
        Some("white_check_mark") => slack.helpdesk.resolve_from_slack(tenant.id, channel, ts).await,
        _ => return Ok("ignored".into()),
    };
    match result {
        Ok(ReactionOutcome::TicketCreated(id)) => Ok(format!("ticket {id} created")),
        Ok(ReactionOutcome::TicketResolved(id, escalation)) => {
            if let Some(escalation) = escalation
                && let Err(err) = state.agent().resolve_escalation(tenant.id, escalation).await
            {
                tracing::warn!(error = %err, "Slack reaction could not be handled");
                return Err(ApiError::unavailable("the helpdesk could not be reached; Slack will retry"));
            }
            Ok(format!("ticket {id} resolved"))
        }
        Ok(ReactionOutcome::Nothing(why)) => Ok(why.to_owned()),
        Err(err) => {
            tracing::warn!(error = %err, "Slack reaction could not be handled");
            Err(ApiError::unavailable("the helpdesk could not be reached; Slack will retry"))
        }
    }
}
