//! Every change to a conversation that is not a customer's turn: an operator takes it over,
//! writes in it, hands it back; a customer rates a reply; an escalation is resolved. Each takes
//! the same per-session lock as a customer's turn (`Agent::turns`), so an operator's message
//! never lands inside an exchange being answered and a take-over never races the bot's reply,
//! and each writes the same records as the pipeline (a take-over is a hand-off: escalation row,
//! notifier), whoever calls it.

use tria_core::{ConversationId, ConversationStatus, CustomerId, ErrorCode, InputError, MessageRole, TenantContext, TenantId};
use tria_store::records::{Conversation, StoredMessage};
use tria_store::repo::{ESCALATION_OPEN, Rating};
use uuid::Uuid;

use crate::context::MAX_LOADED_MESSAGES;
use crate::handoff::{Handoff, HandoffReason};
use crate::session::{Caller, session_not_found};
use crate::{Agent, AgentError};

/// What became of an operator's message.
#[derive(Clone, Debug)]
pub enum OperatorReply {
    /// Stored (role `operator`); the customer's page picks it up from the session's events.
    Stored(Box<StoredMessage>),
    /// Not stored: the bot is answering the conversation (take it over first), so bot and
    /// person never answer at once.
    BotAnswering,
}

impl Agent {
    /// An operator answers the conversation from now on: a hand-off like the bot's own
    /// (status and resolution `handed_off`, an open escalation with reason `taken_over`, the
    /// notifier told). While an escalation is still open (the customer asked for a person, or
    /// it was handed back before anyone resolved it) no second one is opened and nobody is told
    /// twice.
    pub async fn take_over(&self, tenant: &TenantContext, id: ConversationId) -> Result<Conversation, AgentError> {
        let _turn = self.turns.acquire(tenant.id, id).await?;
        let conversations = self.store().conversations();
        let row = conversations.get(tenant.id, id).await?.ok_or_else(session_not_found)?;
        if conversations.escalations(tenant.id, id).await?.iter().any(|e| e.status == ESCALATION_OPEN) {
            conversations.hand_off(tenant.id, id, HandoffReason::TakenOver.as_str()).await?;
            return conversations.get(tenant.id, id).await?.ok_or_else(session_not_found);
        }
        let recent = conversations.recent_messages(tenant.id, id, MAX_LOADED_MESSAGES).await?;
        let last_message =
            recent.iter().rev().find(|m| m.role == MessageRole::User.as_str()).map(|m| m.content.clone()).unwrap_or_default();
        let transcript = recent.into_iter().map(|m| (m.role, m.content)).collect();
        let handoff = Handoff {
            conversation: id,
            customer: row.customer_id.map(CustomerId),
            reason: HandoffReason::TakenOver,
            last_message,
            transcript,
        };
        self.record_hand_off(tenant, handoff).await?;
        conversations.get(tenant.id, id).await?.ok_or_else(session_not_found)
    }

    /// The bot answers the conversation again (`open`).
    pub async fn hand_back(&self, tenant: &TenantContext, id: ConversationId) -> Result<Conversation, AgentError> {
        let _turn = self.turns.acquire(tenant.id, id).await?;
        let row = self.store().console().set_status(tenant.id, id, ConversationStatus::Open).await?;
        tracing::info!(tenant = %tenant.slug, conversation = %id, "conversation handed back to the bot");
        Ok(row)
    }

    /// Stores an operator's message in a conversation a person has; checked under the session's
    /// lock, so it waits for a customer's turn in progress and lands after its reply.
    pub async fn operator_message(&self, tenant: &TenantContext, id: ConversationId, content: &str) -> Result<OperatorReply, AgentError> {
        let _turn = self.turns.acquire(tenant.id, id).await?;
        let row = self.store().conversations().get(tenant.id, id).await?.ok_or_else(session_not_found)?;
        if row.status != ConversationStatus::HandedOff.as_str() {
            return Ok(OperatorReply::BotAnswering);
        }
        Ok(OperatorReply::Stored(Box::new(self.store().console().add_operator_message(tenant.id, id, content).await?)))
    }

    /// Records (or replaces) the customer's verdict on one reply and returns its conversation.
    /// A widget may rate replies in its own sessions only; anything else is "not found". Not
    /// under the session's lock: a verdict names a stored reply and changes no history or
    /// status, so it need not wait for a turn in progress.
    pub async fn record_feedback(
        &self,
        tenant: &TenantContext,
        caller: Caller,
        message: Uuid,
        rating: Rating,
        comment: Option<&str>,
    ) -> Result<ConversationId, AgentError> {
        if caller.is_widget() {
            match self.store().console().reply_conversation(tenant.id, message).await? {
                Some(row) if caller.may_use(&row) => {}
                _ => return Err(InputError::new(ErrorCode::NotFound, "message not found").into()),
            }
        }
        Ok(self.store().console().record_feedback(tenant.id, message, rating, comment).await?)
    }

    /// A person resolved the escalation (e.g. ✅ on its Slack notice); `false` when the tenant
    /// has no such escalation.
    pub async fn resolve_escalation(&self, tenant: TenantId, escalation: Uuid) -> Result<bool, AgentError> {
        Ok(self.store().insights().resolve_escalation(tenant, escalation).await?)
    }
}
