//! `POST /integrations/slack/events`: the Slack Events API. The signature (`X-Slack-Signature`
//! v0 over the raw body, timestamps older than 5 minutes refused) is checked before anything
//! else — a bad one is 401 and nothing is done. `url_verification` is answered with its
//! challenge; an `event_callback`'s event goes to `tria_console::SlackEvents` (🎫 opens a
//! ticket from the message, ✅ resolves the ticket made from it). Other events are acknowledged.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};
pub use tria_console::SlackEvents;

use crate::ApiError;
use crate::state::AppState;

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
            let outcome = slack.on_event(state.agent(), &event["event"]).await?;
            Ok(Json(json!({ "ok": true, "outcome": outcome })).into_response())
        }
        _ => Ok(Json(json!({ "ok": true })).into_response()),
    }
}
