//! The console's conversations: who the caller works for, one queue across exactly the
//! caller's tenants, one conversation with its hand-off summary and annotated transcript, and
//! take over / hand back / operator replies — each change made by the agent, under the
//! conversation's turn lock and with the records a hand-off makes. A conversation of another
//! tenant is "not found", never shown.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tria_agent::OperatorReply;
use tria_core::{ConversationId, ConversationStatus, MessageRole, TenantContext, TenantId};
use uuid::Uuid;

use crate::citations::{Citation, citation_labels, source_ids};
use crate::rows::{Conversation, Escalation, StoredMessage};
use crate::summary::{HandoffSummary, citation_text, reply_notes, sentiment, summarise};
use crate::{Console, ConsoleError};

/// Conversations listed in the queue at most.
const QUEUE_LIMIT: u64 = 100;
/// Characters of the latest message shown in the queue.
const PREVIEW_CHARS: usize = 120;

/// A tenant as the console names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantRef {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
}

impl From<&TenantContext> for TenantRef {
    fn from(t: &TenantContext) -> Self {
        Self { id: t.id, slug: t.slug.clone(), name: t.name.clone() }
    }
}

/// A conversation's header: who it belongs to and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationRow {
    pub id: Uuid,
    /// `None` only if the tenant is not among the caller's (never for a conversation shown).
    pub tenant: Option<TenantRef>,
    pub channel: String,
    pub status: String,
    pub resolution: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConversationRow {
    fn new(c: &Conversation, tenant: Option<&TenantContext>) -> Self {
        Self {
            id: c.id,
            tenant: tenant.map(TenantRef::from),
            channel: c.channel.clone(),
            status: c.status.clone(),
            resolution: c.resolution.clone(),
            started_at: c.started_at,
            updated_at: c.updated_at,
        }
    }
}

/// One conversation in the queue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueEntry {
    #[serde(flatten)]
    pub conversation: ConversationRow,
    /// The customer's latest classified intent.
    pub intent: Option<String>,
    pub sentiment: &'static str,
    /// Whether a person is, or was asked to be, involved.
    pub handoff: bool,
    pub messages: usize,
    pub preview: Option<String>,
}

/// One stored message of a transcript with what the operator needs beside it.
#[derive(Clone, Debug)]
pub struct TranscriptEntry {
    pub message: StoredMessage,
    pub citations: Vec<Citation>,
    /// Notes on a bot reply from what was stored with it (`summary::reply_notes`).
    pub notes: Vec<String>,
    /// The customer's rating of the reply (`up`/`down`).
    pub feedback: Option<String>,
}

/// An escalation of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EscalationRow {
    pub id: Uuid,
    pub reason: String,
    pub ticket_ref: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Escalation> for EscalationRow {
    fn from(e: &Escalation) -> Self {
        Self { id: e.id, reason: e.reason.clone(), ticket_ref: e.ticket_ref.clone(), status: e.status.clone(), created_at: e.created_at }
    }
}

/// What an operator reads about one conversation.
#[derive(Clone, Debug)]
pub struct ConversationView {
    pub conversation: ConversationRow,
    pub summary: HandoffSummary,
    pub transcript: Vec<TranscriptEntry>,
    pub escalations: Vec<EscalationRow>,
}

/// An operator's reply, stored.
pub type OperatorMessage = StoredMessage;

impl Console<'_> {
    async fn tenants_by_id(&self, ids: &[TenantId]) -> Result<HashMap<TenantId, TenantContext>, ConsoleError> {
        Ok(self.store.tenants().list().await?.into_iter().filter(|t| ids.contains(&t.id)).map(|t| (t.id, t)).collect())
    }

    /// The caller's tenants, by slug.
    pub async fn tenants(&self, tenants: &[TenantId]) -> Result<Vec<TenantRef>, ConsoleError> {
        let by_id = self.tenants_by_id(tenants).await?;
        let mut list: Vec<TenantRef> = by_id.values().map(TenantRef::from).collect();
        list.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(list)
    }

    /// The caller's tenants, narrowed to `slug` when given; a slug the caller may not see is
    /// "no such tenant" (whether or not it exists).
    pub async fn scope(&self, tenants: &[TenantId], slug: Option<&str>) -> Result<Vec<TenantId>, ConsoleError> {
        let Some(slug) = slug else { return Ok(tenants.to_vec()) };
        match self.store.tenants().find_by_slug(slug).await? {
            Some(t) if tenants.contains(&t.id) => Ok(vec![t.id]),
            _ => Err(ConsoleError::NotFound("no such tenant")),
        }
    }

    /// The queue across the caller's tenants (narrowed to `slug` and `status` when given), most
    /// recently active first.
    pub async fn queue(
        &self,
        tenants: &[TenantId],
        slug: Option<&str>,
        status: Option<ConversationStatus>,
    ) -> Result<Vec<QueueEntry>, ConsoleError> {
        let tenants = self.scope(tenants, slug).await?;
        let console = self.store.console();
        let rows = console.conversations(&tenants, status, QUEUE_LIMIT).await?;
        let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
        let mut by_conversation: HashMap<Uuid, Vec<StoredMessage>> = HashMap::new();
        for m in console.messages_of(&tenants, &ids).await? {
            by_conversation.entry(m.conversation_id).or_default().push(m);
        }
        let escalated: HashSet<Uuid> = console.escalated_conversations(&tenants).await?.into_iter().collect();
        let names = self.tenants_by_id(&tenants).await?;
        Ok(rows
            .iter()
            .map(|c| {
                let messages = by_conversation.get(&c.id).map(Vec::as_slice).unwrap_or_default();
                let users = || messages.iter().filter(|m| m.role == MessageRole::User.as_str());
                let asked_for_person = users().any(|m| m.intent.as_deref() == Some("human_handoff"));
                QueueEntry {
                    conversation: ConversationRow::new(c, names.get(&TenantId(c.tenant_id))),
                    intent: users().rev().find_map(|m| m.intent.clone()),
                    sentiment: sentiment(messages).as_str(),
                    handoff: c.status == ConversationStatus::HandedOff.as_str() || escalated.contains(&c.id) || asked_for_person,
                    messages: messages.len(),
                    preview: messages.last().map(|m| m.content.chars().take(PREVIEW_CHARS).collect()),
                }
            })
            .collect())
    }

    /// The caller's conversation `id` and its tenant, or "conversation not found".
    async fn owned(&self, tenants: &[TenantId], id: &str) -> Result<(Conversation, TenantContext), ConsoleError> {
        let not_found = || ConsoleError::NotFound("conversation not found");
        let id: ConversationId = id.parse().map_err(|_| not_found())?;
        let row = self.store.console().conversation(tenants, id).await?.ok_or_else(not_found)?;
        let tenant = self.store.tenants().get(TenantId(row.tenant_id)).await?.ok_or_else(not_found)?;
        Ok((row, tenant))
    }

    /// One conversation: the hand-off summary, the transcript with each reply's citations,
    /// notes and feedback, and the escalations.
    pub async fn conversation(&self, tenants: &[TenantId], id: &str) -> Result<ConversationView, ConsoleError> {
        let (row, tenant) = self.owned(tenants, id).await?;
        let conversation_id = ConversationId(row.id);
        let console = self.store.console();
        let messages = self.store.conversations().messages(tenant.id, conversation_id).await?;
        let escalations = console.escalations(tenant.id, conversation_id).await?;
        let labels = citation_labels(self.store, tenant.id, &messages).await?;
        let mut feedback: HashMap<Uuid, String> = console
            .feedback_on(tenant.id, &messages.iter().map(|m| m.id).collect::<Vec<_>>())
            .await?
            .into_iter()
            .map(|f| (f.message_id, f.rating))
            .collect();
        let cited = |id: &str| labels.get(id).map(|label| citation_text(&label.title, &label.heading));
        let summary = summarise(&messages, &escalations, &row.status, &cited);
        let transcript = messages
            .into_iter()
            .map(|m| TranscriptEntry {
                citations: source_ids(&m).iter().map(|id| labels.get(id).cloned().unwrap_or_else(|| Citation::unlabelled(id))).collect(),
                notes: reply_notes(&m),
                feedback: feedback.remove(&m.id),
                message: m,
            })
            .collect();
        Ok(ConversationView {
            conversation: ConversationRow::new(&row, Some(&tenant)),
            summary,
            transcript,
            escalations: escalations.iter().map(EscalationRow::from).collect(),
        })
    }

    /// A person answers the caller's conversation `id` from now on (`handed_off`); the bot
    /// stops. A hand-off like the bot's own: an escalation is opened and the helpdesk told.
    pub async fn take_over(&self, tenants: &[TenantId], id: &str) -> Result<ConversationRow, ConsoleError> {
        let (row, tenant) = self.owned(tenants, id).await?;
        let updated = self.agent.take_over(&tenant, ConversationId(row.id)).await?;
        Ok(ConversationRow::new(&updated, Some(&tenant)))
    }

    /// The bot answers the caller's conversation `id` again (`open`).
    pub async fn hand_back(&self, tenants: &[TenantId], id: &str) -> Result<ConversationRow, ConsoleError> {
        let (row, tenant) = self.owned(tenants, id).await?;
        let updated = self.agent.hand_back(&tenant, ConversationId(row.id)).await?;
        Ok(ConversationRow::new(&updated, Some(&tenant)))
    }

    /// An operator's reply, stored with role `operator` (the customer's page picks it up from
    /// the session's events). Only in a taken-over conversation, so bot and person never answer
    /// at once.
    pub async fn operator_message(&self, tenants: &[TenantId], id: &str, content: &str) -> Result<OperatorMessage, ConsoleError> {
        let (row, tenant) = self.owned(tenants, id).await?;
        match self.agent.operator_message(&tenant, ConversationId(row.id), content).await? {
            OperatorReply::Stored(stored) => Ok(*stored),
            OperatorReply::BotAnswering => Err(ConsoleError::BotAnswering),
        }
    }
}
