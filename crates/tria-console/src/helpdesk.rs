//! People behind the bot: a hand-off opens a helpdesk ticket with the transcript and posts a
//! Slack notice (the agent's `HandoffNotifier`); a 🎫 reaction in Slack opens a ticket from a
//! message, a ✅ resolves the ticket made from that message (its escalation is the agent's to
//! resolve: `TicketResolved` names it). Every ticket is linked (`ticket_links`) to where it
//! came from. Which helpdesk and which Slack webhook a tenant's work goes to is a
//! [`HelpdeskDirectory`]'s answer (the server's reads each tenant's own settings and secrets);
//! [`Helpdesk::new`] sends every tenant's to the same ones.

use std::sync::Arc;

use tria_agent::{AgentError, HandoffEvent, HandoffNotifier, NotifyError};
use tria_core::{CustomerId, TenantContext};
use tria_integrations::slack::SlackWebhook;
use tria_integrations::ticketing::{NewTicket, Ticketing, TicketingError};
use tria_store::Store;
use tria_store::repo::NewTicketLink;

/// Where one tenant's hand-off work goes: its helpdesk (none: no tickets) and the Slack webhook
/// its notices are posted to (none: no notices).
#[derive(Clone, Default)]
pub struct HelpdeskTargets {
    pub ticketing: Option<Arc<dyn Ticketing>>,
    pub slack: Option<SlackWebhook>,
}

impl std::fmt::Debug for HelpdeskTargets {
    // The webhook URL is a credential: only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelpdeskTargets").field("ticketing", &self.ticketing.is_some()).field("slack", &self.slack.is_some()).finish()
    }
}

/// Picks the helpdesk and Slack webhook for a tenant. Must not fail: a tenant whose own
/// integration cannot be read gets the answer the implementation thinks safe (and logs why).
#[async_trait::async_trait]
pub trait HelpdeskDirectory: Send + Sync {
    async fn for_tenant(&self, tenant: &TenantContext) -> HelpdeskTargets;
}

/// The same targets for every tenant (the deployment's `[integrations.*]`).
#[async_trait::async_trait]
impl HelpdeskDirectory for HelpdeskTargets {
    async fn for_tenant(&self, _tenant: &TenantContext) -> HelpdeskTargets {
        self.clone()
    }
}

/// The helpdesk work of every tenant — tickets, Slack notices and the ticket links that tie them
/// to conversations and Slack messages — sent where the [`HelpdeskDirectory`] says.
pub struct Helpdesk {
    pub(crate) store: Store,
    directory: Arc<dyn HelpdeskDirectory>,
}

/// Why a Slack reaction could not be handled (Slack retries the event).
#[derive(Debug, thiserror::Error)]
pub enum ReactionError {
    /// Reading or writing the ticket link failed.
    #[error(transparent)]
    Store(#[from] tria_store::StoreError),
    /// The helpdesk did not open or close the ticket.
    #[error(transparent)]
    Ticketing(#[from] TicketingError),
    /// The ticket closed, but the agent did not resolve its escalation.
    #[error(transparent)]
    Escalation(#[from] AgentError),
}

/// What a Slack reaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReactionOutcome {
    TicketCreated(String),
    /// The ticket closed, and the escalation it was opened for, if any, for the caller to
    /// resolve through the agent.
    TicketResolved(String, Option<uuid::Uuid>),
    /// Already done (Slack retries events), nothing linked, or no helpdesk configured.
    Nothing(&'static str),
}

impl Helpdesk {
    /// Every tenant's tickets to `ticketing` and notices to `slack`.
    pub fn new(store: Store, ticketing: Option<Arc<dyn Ticketing>>, slack: Option<SlackWebhook>) -> Self {
        Self::with_directory(store, Arc::new(HelpdeskTargets { ticketing, slack }))
    }

    /// Each tenant's tickets and notices to where `directory` says.
    pub fn with_directory(store: Store, directory: Arc<dyn HelpdeskDirectory>) -> Self {
        Self { store, directory }
    }

    /// Where `tenant`'s hand-off work goes now.
    pub async fn targets(&self, tenant: &TenantContext) -> HelpdeskTargets {
        self.directory.for_tenant(tenant).await
    }

    async fn notify_slack(slack: Option<&SlackWebhook>, tenant: &TenantContext, text: &str) {
        if let Some(slack) = slack
            && let Err(err) = slack.notify(text).await
        {
            // Best effort: the escalation and the ticket are the durable records.
            tracing::warn!(tenant = %tenant.slug, error = %err, "Slack notice failed");
        }
    }

    /// 🎫 on a Slack message: a ticket made from it (once per message).
    pub async fn ticket_from_slack(
        &self,
        tenant: &TenantContext,
        channel: &str,
        ts: &str,
        user: &str,
    ) -> Result<ReactionOutcome, ReactionError> {
        let Some(ticketing) = self.targets(tenant).await.ticketing else {
            return Ok(ReactionOutcome::Nothing("no helpdesk configured"));
        };
        let links = self.store.ticket_links();
        if let Some(link) = links.find_by_slack_message(tenant.id, channel, ts).await?
            && link.status == "open"
        {
            return Ok(ReactionOutcome::Nothing("a ticket already exists for this message"));
        }
        let support_email = tenant.settings.get("support_email").and_then(|v| v.as_str()).unwrap_or("support@tria.invalid").to_owned();
        let new = NewTicket {
            subject: format!("Flagged in Slack ({channel})"),
            customer_email: support_email,
            customer_name: tenant.name.clone(),
            transcript: vec![("slack".into(), format!("Slack message {ts} in channel {channel} was flagged with :ticket: by <@{user}>."))],
            tags: vec!["slack".into(), "tria".into()],
        };
        let ticket = ticketing.create_ticket(&new).await?;
        links
            .create(
                tenant.id,
                NewTicketLink {
                    ticket_ref: ticket.id.clone(),
                    source: "slack".into(),
                    slack_channel: Some(channel.to_owned()),
                    slack_ts: Some(ts.to_owned()),
                    ..NewTicketLink::default()
                },
            )
            .await?;
        Ok(ReactionOutcome::TicketCreated(ticket.id))
    }

    /// ✅ on a Slack message: the ticket made from it is closed, with its escalation.
    pub async fn resolve_from_slack(&self, tenant: &TenantContext, channel: &str, ts: &str) -> Result<ReactionOutcome, ReactionError> {
        let links = self.store.ticket_links();
        let Some(link) = links.find_by_slack_message(tenant.id, channel, ts).await? else {
            return Ok(ReactionOutcome::Nothing("no ticket was made from this message"));
        };
        if link.status != "open" {
            return Ok(ReactionOutcome::Nothing("already resolved"));
        }
        if let Some(ticketing) = self.targets(tenant).await.ticketing {
            ticketing.close_ticket(&link.ticket_ref).await?;
        }
        links.close(tenant.id, link.id).await?;
        Ok(ReactionOutcome::TicketResolved(link.ticket_ref, link.escalation_id))
    }
}

#[async_trait::async_trait]
impl HandoffNotifier for Helpdesk {
    async fn notify(&self, tenant: &TenantContext, escalation: &HandoffEvent) -> Result<Option<String>, NotifyError> {
        let targets = self.targets(tenant).await;
        let mut ticket_ref = None;
        if let Some(ticketing) = &targets.ticketing {
            let customer = match escalation.customer {
                Some(CustomerId(id)) => {
                    self.store.customers().get(tenant.id, CustomerId(id)).await.map_err(|e| NotifyError(e.to_string()))?
                }
                None => None,
            };
            let (email, name) = match &customer {
                Some(c) if !c.email.is_empty() => (c.email.clone(), c.name.clone()),
                // Gorgias needs a customer; one without an email is filed under the tenant's address.
                _ => (
                    tenant.settings.get("support_email").and_then(|v| v.as_str()).unwrap_or("support@tria.invalid").to_owned(),
                    customer.as_ref().map(|c| c.external_id.clone()).unwrap_or_else(|| "Chat customer".into()),
                ),
            };
            let new = NewTicket {
                subject: format!("Chat handed to a person ({})", escalation.reason.as_str()),
                customer_email: email,
                customer_name: name,
                transcript: escalation.transcript.clone(),
                tags: vec!["tria".into(), "handoff".into(), escalation.reason.as_str().to_owned()],
            };
            let ticket = ticketing.create_ticket(&new).await.map_err(|e| NotifyError(e.to_string()))?;
            self.store
                .ticket_links()
                .create(
                    tenant.id,
                    NewTicketLink {
                        ticket_ref: ticket.id.clone(),
                        source: "handoff".into(),
                        conversation: Some(escalation.conversation),
                        customer: escalation.customer,
                        escalation: Some(escalation.escalation_id),
                        ..NewTicketLink::default()
                    },
                )
                .await
                .map_err(|e| NotifyError(e.to_string()))?;
            ticket_ref = Some(ticket.id);
        }
        let ticket = ticket_ref.as_deref().map(|t| format!(", ticket #{t}")).unwrap_or_default();
        Self::notify_slack(
            targets.slack.as_ref(),
            tenant,
            &format!(
                ":raising_hand: {}: a conversation needs a person ({}){ticket}. Last message: \"{}\"",
                tenant.name,
                escalation.reason.as_str(),
                escalation.last_message.chars().take(200).collect::<String>()
            ),
        )
        .await;
        Ok(ticket_ref)
    }
}
