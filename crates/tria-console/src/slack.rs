//! Slack's reactions as hand-off work. One Slack app serves many tenants: an event goes to the
//! tenant whose settings name its workspace (`slack.team_id`) and, when several tenants share a
//! workspace, its channel (`slack.channel_id`); a workspace no tenant names goes to
//! `integrations.slack.tenant` when that is set (the one-tenant setup), else nowhere. In the
//! tenant's Slack, 🎫 (`ticket`) on a message opens a helpdesk ticket from it and ✅
//! (`white_check_mark`) resolves the ticket made from it, and the escalation it was opened for
//! through the agent. The signature check and the Events API envelope are the server's.

use std::sync::Arc;

use serde_json::Value;
use tria_agent::Agent;
use tria_core::TenantContext;

use crate::ConsoleError;
use crate::helpdesk::{Helpdesk, ReactionOutcome};

/// The Slack app's deployment settings and the helpdesk its events act on.
pub struct SlackEvents {
    /// The app's signing secret (`integrations.slack.signing_secret`); a tenant with its own
    /// `slack_signing_secret` is checked with that instead.
    pub signing_secret: Option<String>,
    /// Where events from a workspace no tenant names go (`integrations.slack.tenant`).
    pub tenant_slug: Option<String>,
    pub helpdesk: Arc<Helpdesk>,
}

impl std::fmt::Debug for SlackEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackEvents").field("tenant_slug", &self.tenant_slug).finish_non_exhaustive()
    }
}

/// The workspace (`team_id`) and channel an Events API envelope comes from: the envelope's
/// `team_id` (else `event.team`), the event's `item.channel` (reactions) or `channel`.
pub fn team_and_channel(envelope: &Value) -> (Option<&str>, Option<&str>) {
    let team = envelope.get("team_id").and_then(Value::as_str).or_else(|| envelope.pointer("/event/team").and_then(Value::as_str));
    let channel = envelope
        .pointer("/event/item/channel")
        .and_then(Value::as_str)
        .or_else(|| envelope.pointer("/event/channel").and_then(Value::as_str));
    (team.filter(|t| !t.is_empty()), channel.filter(|c| !c.is_empty()))
}

fn setting<'t>(tenant: &'t TenantContext, key: &str) -> Option<&'t str> {
    tenant.settings.get("slack").and_then(|s| s.get(key)).and_then(Value::as_str).filter(|v| !v.is_empty())
}

/// The tenant whose `slack.team_id` is `team`: the one whose `slack.channel_id` is `channel`
/// first, else the one that names no channel (a tenant naming another channel is not it).
pub fn tenant_for_team<'t>(tenants: &'t [TenantContext], team: &str, channel: Option<&str>) -> Option<&'t TenantContext> {
    let in_team = || tenants.iter().filter(|t| setting(t, "team_id") == Some(team));
    in_team()
        .find(|t| channel.is_some() && setting(t, "channel_id") == channel)
        .or_else(|| in_team().find(|t| setting(t, "channel_id").is_none()))
}

/// A reaction on a message, as the Events API's `event` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reaction<'e> {
    name: &'e str,
    channel: &'e str,
    ts: &'e str,
    user: &'e str,
}

/// The reaction `event` is, `None` for any other event; a reaction without its message is
/// malformed.
fn reaction_of(event: &Value) -> Result<Option<Reaction<'_>>, ConsoleError> {
    if event.get("type").and_then(Value::as_str) != Some("reaction_added")
        || event.pointer("/item/type").and_then(Value::as_str) != Some("message")
    {
        return Ok(None);
    }
    let channel = event.pointer("/item/channel").and_then(Value::as_str).unwrap_or_default();
    let ts = event.pointer("/item/ts").and_then(Value::as_str).unwrap_or_default();
    if channel.is_empty() || ts.is_empty() {
        return Err(ConsoleError::MalformedSlackEvent);
    }
    let user = event.get("user").and_then(Value::as_str).unwrap_or("someone");
    let name = event.get("reaction").and_then(Value::as_str).unwrap_or_default();
    Ok(Some(Reaction { name, channel, ts, user }))
}

impl SlackEvents {
    /// The tenant an event from `team` (in `channel`) is for: see [`tenant_for_team`], then
    /// `integrations.slack.tenant` for a workspace no tenant names (or an envelope without one).
    pub async fn tenant_for(&self, team: Option<&str>, channel: Option<&str>) -> Result<Option<TenantContext>, ConsoleError> {
        let store = &self.helpdesk.store;
        if let Some(team) = team {
            let tenants = store.tenants().list().await?;
            if let Some(tenant) = tenant_for_team(&tenants, team, channel) {
                return Ok(Some(tenant.clone()));
            }
            // A workspace some tenant names, but not this channel: not the default tenant's.
            if tenants.iter().any(|t| setting(t, "team_id") == Some(team)) {
                return Ok(None);
            }
        }
        let Some(slug) = &self.tenant_slug else { return Ok(None) };
        let tenant = store.tenants().find_by_slug(slug).await?;
        if tenant.is_none() {
            tracing::error!(tenant = %slug, "integrations.slack.tenant names no tenant");
        }
        Ok(tenant)
    }

    /// Handles an `event_callback`'s `event` for `tenant`; returns what was done, for Slack's
    /// log. A failure of the helpdesk or of resolving the escalation is an error, so Slack
    /// retries the event.
    pub async fn on_event(&self, agent: &Agent, tenant: &TenantContext, event: &Value) -> Result<String, ConsoleError> {
        let Some(reaction) = reaction_of(event)? else { return Ok("ignored".into()) };
        let (channel, ts) = (reaction.channel, reaction.ts);
        let outcome = match reaction.name {
            "ticket" => self.helpdesk.ticket_from_slack(tenant, channel, ts, reaction.user).await,
            "white_check_mark" => self.helpdesk.resolve_from_slack(tenant, channel, ts).await,
            _ => return Ok("ignored".into()),
        };
        let done = match outcome {
            Ok(ReactionOutcome::TicketCreated(id)) => Ok(format!("ticket {id} created")),
            Ok(ReactionOutcome::TicketResolved(id, escalation)) => match escalation {
                Some(escalation) => {
                    agent.resolve_escalation(tenant.id, escalation).await.map(|_| format!("ticket {id} resolved")).map_err(Into::into)
                }
                None => Ok(format!("ticket {id} resolved")),
            },
            Ok(ReactionOutcome::Nothing(why)) => Ok(why.to_owned()),
            Err(err) => Err(err),
        };
        done.map_err(|err| {
            tracing::warn!(error = %err, "Slack reaction could not be handled");
            ConsoleError::Reaction(err)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tenant(slug: &str, slack: Value) -> TenantContext {
        TenantContext {
            id: tria_core::TenantId::new_random(),
            slug: slug.into(),
            name: slug.into(),
            tone: tria_core::ToneProfile::default(),
            settings: json!({ "slack": slack }),
        }
    }

    #[test]
    fn events_go_to_the_tenant_naming_their_workspace_and_channel() {
        let tenants = [
            tenant("a", json!({ "team_id": "T1" })),
            tenant("b", json!({ "team_id": "T1", "channel_id": "C2" })),
            tenant("c", json!({ "team_id": "T3", "channel_id": "C3" })),
            tenant("d", json!(null)),
        ];
        let slug = |team, channel| tenant_for_team(&tenants, team, channel).map(|t| t.slug.as_str());
        assert_eq!(slug("T1", Some("C2")), Some("b"), "the channel's tenant before the workspace's");
        assert_eq!(slug("T1", Some("C9")), Some("a"));
        assert_eq!(slug("T1", None), Some("a"));
        assert_eq!(slug("T3", Some("C3")), Some("c"));
        assert_eq!(slug("T3", Some("C4")), None, "c works only in its channel");
        assert_eq!(slug("T9", Some("C2")), None);
        let envelope = json!({ "team_id": "T1", "event": { "type": "reaction_added", "item": { "channel": "C2" } } });
        assert_eq!(team_and_channel(&envelope), (Some("T1"), Some("C2")));
        assert_eq!(team_and_channel(&json!({ "event": { "team": "T5", "channel": "C5" } })), (Some("T5"), Some("C5")));
        assert_eq!(team_and_channel(&json!({ "type": "url_verification" })), (None, None));
    }

    #[test]
    fn only_reactions_on_messages_are_handled_and_they_must_name_the_message() {
        let on = |item: Value| json!({ "type": "reaction_added", "reaction": "ticket", "user": "U1", "item": item });
        let event = on(json!({ "type": "message", "channel": "C1", "ts": "1.2" }));
        assert_eq!(reaction_of(&event).expect("valid"), Some(Reaction { name: "ticket", channel: "C1", ts: "1.2", user: "U1" }));
        assert_eq!(reaction_of(&on(json!({ "type": "file", "channel": "C1", "ts": "1.2" }))).expect("valid"), None);
        assert_eq!(reaction_of(&json!({ "type": "message", "text": "hi" })).expect("valid"), None);
        assert!(matches!(reaction_of(&on(json!({ "type": "message", "channel": "C1" }))), Err(ConsoleError::MalformedSlackEvent)));
    }
}
