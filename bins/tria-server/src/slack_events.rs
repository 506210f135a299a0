//! `POST /integrations/slack/events`: the Slack Events API for one Slack app serving many
//! tenants. An event is for the tenant whose settings name its workspace (`slack.team_id`) and,
//! when several share one, its channel (`slack.channel_id`) — see
//! [`tria_console::slack::tenant_for_team`]. Its signature (`X-Slack-Signature` v0 over the raw
//! body, timestamps older than 5 minutes refused) is checked with that tenant's own
//! `slack_signing_secret` when it has one, else the app's (`integrations.slack.signing_secret`);
//! a bad one is 401 and nothing is done. `url_verification` (no workspace in it) passes with the
//! app's secret or a Slack-configured tenant's own. A signed event from a workspace no tenant
//! names is acknowledged (200, so Slack does not retry it), logged and counted. An
//! `event_callback`'s event goes to `tria_console::SlackEvents` (🎫 opens a ticket from the
//! message, ✅ resolves the ticket made from it). Other events are acknowledged.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};
pub use tria_console::SlackEvents;
use tria_core::TenantContext;

use crate::ApiError;
use crate::state::AppState;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The signed request's parts.
struct Signed<'r> {
    timestamp: &'r str,
    signature: &'r str,
    body: &'r [u8],
    now: i64,
}

impl Signed<'_> {
    fn verify(&self, secret: &str) -> Result<(), tria_integrations::slack::SlackAuthError> {
        tria_integrations::slack::verify(secret, self.timestamp, self.body, self.signature, self.now)
    }
}

fn refused(why: impl std::fmt::Display) -> ApiError {
    tracing::warn!(reason = %why, "Slack event refused");
    ApiError::unauthorized(format!("Slack signature check failed: {why}"))
}

/// The tenant's own signing secret, else the app's.
async fn secret_for(state: &AppState, slack: &SlackEvents, tenant: Option<&TenantContext>) -> Result<Option<String>, ApiError> {
    if let (Some(tenant), Some(own)) = (tenant, state.tenant_integrations())
        && let Some(secret) = own.slack_signing_secret(tenant.id).await?
    {
        return Ok(Some(secret.expose().to_owned()));
    }
    Ok(slack.signing_secret.clone())
}

/// `url_verification` carries no workspace: the app's secret, else a Slack-configured tenant's.
async fn verify_any(state: &AppState, slack: &SlackEvents, signed: &Signed<'_>) -> Result<(), ApiError> {
    let mut last = None;
    if let Some(secret) = &slack.signing_secret {
        match signed.verify(secret) {
            Ok(()) => return Ok(()),
            Err(why) => last = Some(why),
        }
    }
    if let Some(own) = state.tenant_integrations() {
        for tenant in state.store().tenants().list().await? {
            if slack_team(&tenant).is_none() {
                continue;
            }
            if let Some(secret) = own.slack_signing_secret(tenant.id).await? {
                match signed.verify(secret.expose()) {
                    Ok(()) => return Ok(()),
                    Err(why) => last = Some(why),
                }
            }
        }
    }
    Err(match last {
        Some(why) => refused(why),
        None => refused("no signing secret is configured"),
    })
}

fn slack_team(tenant: &TenantContext) -> Option<&str> {
    crate::tenant_integrations::plan::setting(&tenant.settings, "slack", "team_id")
}

pub(crate) async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let Some(slack) = state.slack_events() else {
        return Err(ApiError::not_found("Slack events are not configured"));
    };
    let signed = Signed {
        timestamp: header(&headers, "x-slack-request-timestamp"),
        signature: header(&headers, "x-slack-signature"),
        body: &body,
        now: chrono::Utc::now().timestamp(),
    };
    // Read to find whose secret signs it; nothing is acted on before the check passes.
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        let secret = slack.signing_secret.as_deref().ok_or_else(|| refused("no signing secret is configured"))?;
        signed.verify(secret).map_err(refused)?;
        return Err(ApiError::bad_request("body is not JSON"));
    };
    if envelope.get("type").and_then(Value::as_str) == Some("url_verification") {
        verify_any(&state, slack, &signed).await?;
        return Ok(Json(json!({ "challenge": envelope.get("challenge").cloned().unwrap_or(Value::Null) })).into_response());
    }
    let (team, channel) = tria_console::slack::team_and_channel(&envelope);
    let tenant = slack.tenant_for(team, channel).await?;
    let secret = secret_for(&state, slack, tenant.as_ref()).await?.ok_or_else(|| refused("no signing secret is configured"))?;
    signed.verify(&secret).map_err(refused)?;
    let Some(tenant) = tenant else {
        if let Some(own) = state.tenant_integrations() {
            own.slack_event_unrouted();
        }
        tracing::warn!(
            team = team.unwrap_or("-"),
            channel = channel.unwrap_or("-"),
            "Slack event from a workspace no tenant names (settings.slack.team_id); ignored"
        );
        return Ok(Json(json!({ "ok": true, "outcome": "ignored: no tenant for this workspace" })).into_response());
    };
    match envelope.get("type").and_then(Value::as_str) {
        Some("event_callback") => {
            let outcome = slack.on_event(state.agent(), &tenant, &envelope["event"]).await?;
            Ok(Json(json!({ "ok": true, "outcome": outcome })).into_response())
        }
        _ => Ok(Json(json!({ "ok": true })).into_response()),
    }
}
