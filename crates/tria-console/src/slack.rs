//! Slack's reactions as hand-off work: in the Slack app's workspace (which works for one
//! tenant), 🎫 (`ticket`) on a message opens a helpdesk ticket from it and ✅
//! (`white_check_mark`) resolves the ticket made from it, and the escalation it was opened for
//! through the agent. The signature check and the Events API envelope are the server's.

use std::sync::Arc;

use serde_json::Value;
use tria_agent::Agent;

use crate::ConsoleError;
use crate::helpdesk::{Helpdesk, ReactionOutcome};

/// The Slack app's signing secret and the tenant its workspace works for.
pub struct SlackEvents {
    pub signing_secret: String,
    pub tenant_slug: String,
    pub helpdesk: Arc<Helpdesk>,
}

impl std::fmt::Debug for SlackEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackEvents").field("tenant_slug", &self.tenant_slug).finish_non_exhaustive()
    }
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
    /// Handles an `event_callback`'s `event`; returns what was done, for Slack's log. A failure
    /// of the helpdesk or of resolving the escalation is an error, so Slack retries the event.
    pub async fn on_event(&self, agent: &Agent, event: &Value) -> Result<String, ConsoleError> {
        let Some(reaction) = reaction_of(event)? else { return Ok("ignored".into()) };
        let Some(tenant) = self.helpdesk.store.tenants().find_by_slug(&self.tenant_slug).await? else {
            tracing::error!(tenant = %self.tenant_slug, "integrations.slack.tenant names no tenant");
            return Ok("no such tenant".into());
        };
        let (channel, ts) = (reaction.channel, reaction.ts);
        let outcome = match reaction.name {
            "ticket" => self.helpdesk.ticket_from_slack(&tenant, channel, ts, reaction.user).await,
            "white_check_mark" => self.helpdesk.resolve_from_slack(tenant.id, channel, ts).await,
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
