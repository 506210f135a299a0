//! Hand-off to a person: when it triggers (the customer asks for one, or is repeatedly
//! frustrated or repeatedly not understood, or an operator takes the conversation over from the
//! console — `conversation.rs`), what it does (conversation `handed_off`, an open
//! `escalations` row, the [`HandoffNotifier`] told so a ticket can be opened) and what the bot
//! says from then on: that a person has the conversation, with the hours they answer in. While
//! a conversation is handed off the bot does not answer; messages are still stored.

use std::sync::Arc;

use tria_core::{ConversationId, CustomerId, IntentLabel, MessageRole, TenantContext};
use tria_intent::Sentiment;
use uuid::Uuid;

use crate::context::{Turn, negative_turns, trailing_low_confidence};
use crate::{Agent, AgentBuilder, AgentError};

/// Intent confidence below which a turn counts as "not understood".
pub const LOW_CONFIDENCE: f32 = 0.35;
/// Negative-sentiment customer turns (the current one included) that trigger a hand-off.
pub const FRUSTRATED_TURNS: usize = 2;
/// Not-understood customer turns in a row (the current one included) that trigger a hand-off.
pub const CONFUSED_TURNS: usize = 3;

/// Why a conversation went to a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked for a person.
    Requested,
    /// Repeated negative sentiment.
    Frustration,
    /// The assistant repeatedly could not tell what the customer wanted.
    LowConfidence,
    /// An order above the tenant's approval threshold needs a person's approval.
    OrderApproval,
    /// An operator took the conversation over from the console.
    TakenOver,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Requested => "requested",
            HandoffReason::Frustration => "frustration",
            HandoffReason::LowConfidence => "low_confidence",
            HandoffReason::OrderApproval => "order_approval",
            HandoffReason::TakenOver => "taken_over",
        }
    }
}

/// What a notifier is told about a new hand-off.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct HandoffEvent {
    pub escalation_id: Uuid,
    pub conversation: ConversationId,
    pub customer: Option<CustomerId>,
    pub reason: HandoffReason,
    /// The message that triggered it.
    pub last_message: String,
    /// The conversation so far (role, text), oldest first, the triggering message last.
    pub transcript: Vec<(String, String)>,
}

/// A notifier failed; the hand-off itself stands (the escalation row is the record of truth).
#[derive(Debug, thiserror::Error)]
#[error("hand-off notification failed: {0}")]
pub struct NotifyError(pub String);

/// Tells people about a hand-off (a helpdesk ticket, a chat channel). Returns the ticket
/// reference when one was opened; it is stored on the escalation.
#[async_trait::async_trait]
pub trait HandoffNotifier: Send + Sync {
    async fn notify(&self, tenant: &TenantContext, escalation: &HandoffEvent) -> Result<Option<String>, NotifyError>;
}

/// The default: nobody is notified; the escalation row is there for the operator console.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNotifier;

#[async_trait::async_trait]
impl HandoffNotifier for NoNotifier {
    async fn notify(&self, _tenant: &TenantContext, _escalation: &HandoffEvent) -> Result<Option<String>, NotifyError> {
        Ok(None)
    }
}

impl AgentBuilder {
    /// Who is told when a conversation goes to a person (e.g. Gorgias + Slack).
    pub fn handoff_notifier(mut self, notifier: Arc<dyn HandoffNotifier>) -> Self {
        self.notifier = notifier;
        self
    }
}

/// Whether this turn hands the conversation off, given the earlier turns (`history`, oldest
/// first, without the current message).
pub(crate) fn trigger(history: &[Turn], intent: IntentLabel, confidence: f32, sentiment: Sentiment) -> Option<HandoffReason> {
    if intent == IntentLabel::HumanHandoff {
        return Some(HandoffReason::Requested);
    }
    let negative_now = usize::from(sentiment == Sentiment::Negative);
    if negative_now == 1 && negative_turns(history) + negative_now >= FRUSTRATED_TURNS {
        return Some(HandoffReason::Frustration);
    }
    let confused_now = confidence < LOW_CONFIDENCE;
    if confused_now && trailing_low_confidence(history, LOW_CONFIDENCE) + 1 >= CONFUSED_TURNS {
        return Some(HandoffReason::LowConfidence);
    }
    None
}

fn setting<'a>(tenant: &'a TenantContext, key: &str) -> Option<&'a str> {
    tenant.settings.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty())
}

/// A hand-off about to be recorded: what [`HandoffEvent`] carries but the escalation's id.
pub(crate) struct Handoff {
    pub(crate) conversation: ConversationId,
    pub(crate) customer: Option<CustomerId>,
    pub(crate) reason: HandoffReason,
    pub(crate) last_message: String,
    pub(crate) transcript: Vec<(String, String)>,
}

impl Agent {
    /// When people answer, from the tenant's policies: the `support_hours` setting, else the
    /// sentence of the tenant's policy text that states its hours.
    pub(crate) async fn support_hours(&self, tenant: &TenantContext) -> Option<String> {
        if let Some(hours) = setting(tenant, "support_hours") {
            return Some(hours.to_owned());
        }
        let index = self.indexes.get(tenant.id).await.ok()?;
        let hits = index.hybrid_search("customer support opening hours", None, 3);
        hits.iter()
            .flat_map(|h| h.chunk.text.split_inclusive(['.', '\n']).map(str::trim).collect::<Vec<_>>())
            .find(|s| s.to_lowercase().contains("hours") && s.chars().any(|c| c.is_ascii_digit()))
            .map(|s| s.trim_end_matches('.').to_owned())
    }

    pub(crate) fn hours_phrase(hours: Option<&str>) -> String {
        match hours {
            Some(h) => format!("Our team answers {h}"),
            None => "Our team answers during business hours".to_owned(),
        }
    }

    /// The reply when a conversation has just been handed off.
    pub(crate) async fn handoff_reply(&self, tenant: &TenantContext, reason: HandoffReason) -> String {
        let hours = self.support_hours(tenant).await;
        let opening = match reason {
            HandoffReason::Requested => "I've passed this conversation to a member of our team, and a person will answer you here.",
            HandoffReason::Frustration => {
                "I'm sorry this has been frustrating. I've passed this conversation to a member of our team, and a person will answer you here."
            }
            HandoffReason::LowConfidence => {
                "I'm sorry I couldn't help with that. I've passed this conversation to a member of our team, and a person will answer you here."
            }
            HandoffReason::OrderApproval => {
                "I've passed your order to a member of our team for approval, and a person will answer you here."
            }
            HandoffReason::TakenOver => "A member of our team has taken over this conversation and will answer you here.",
        };
        format!("{opening} {}.", Self::hours_phrase(hours.as_deref()))
    }

    /// The reply to a message in a conversation a person already has.
    pub(crate) async fn handed_off_reply(&self, tenant: &TenantContext) -> String {
        let hours = self.support_hours(tenant).await;
        format!(
            "A member of our team has this conversation and will reply here; your message has been passed on. {}.",
            Self::hours_phrase(hours.as_deref())
        )
    }

    /// Marks the conversation handed off, opens its escalation and tells the notifier (a
    /// notifier failure is logged; the escalation stays open for the console either way).
    pub(crate) async fn hand_off(
        &self,
        tenant: &TenantContext,
        conversation: ConversationId,
        customer: Option<CustomerId>,
        reason: HandoffReason,
        history: &[Turn],
        message: &str,
    ) -> Result<Uuid, AgentError> {
        let mut transcript: Vec<(String, String)> = history.iter().map(|t| (t.role.as_str().to_owned(), t.text.clone())).collect();
        transcript.push((MessageRole::User.as_str().to_owned(), message.to_owned()));
        let handoff = Handoff { conversation, customer, reason, last_message: message.to_owned(), transcript };
        self.record_hand_off(tenant, handoff).await
    }

    /// The records of a hand-off, however it came about: status and resolution `handed_off`
    /// and an open escalation in one transaction, then the notifier. The caller holds the
    /// conversation's turn lock.
    pub(crate) async fn record_hand_off(&self, tenant: &TenantContext, handoff: Handoff) -> Result<Uuid, AgentError> {
        let Handoff { conversation, customer, reason, last_message, transcript } = handoff;
        let escalation = self.store().conversations().hand_off(tenant.id, conversation, reason.as_str()).await?;
        let event = HandoffEvent { escalation_id: escalation.id, conversation, customer, reason, last_message, transcript };
        tracing::info!(tenant = %tenant.slug, %conversation, reason = reason.as_str(), "conversation handed off");
        match self.notifier.notify(tenant, &event).await {
            Ok(Some(ticket)) => self.store().conversations().set_escalation_ticket(tenant.id, escalation.id, &ticket).await?,
            Ok(None) => {}
            Err(e) => tracing::warn!(tenant = %tenant.slug, %conversation, error = %e, "hand-off notifier failed; escalation stays open"),
        }
        Ok(escalation.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(sentiment: Sentiment, confidence: f32) -> Turn {
        Turn {
            role: MessageRole::User,
            text: "x".into(),
            intent: Some(IntentLabel::PolicyQuestion),
            confidence: Some(confidence),
            sentiment: Some(sentiment),
            sources: Vec::new(),
        }
    }

    #[test]
    fn asking_for_a_person_always_hands_off() {
        assert_eq!(trigger(&[], IntentLabel::HumanHandoff, 0.9, Sentiment::Neutral), Some(HandoffReason::Requested));
    }

    #[test]
    fn a_second_negative_turn_hands_off_a_first_does_not() {
        assert_eq!(trigger(&[], IntentLabel::Complaint, 0.9, Sentiment::Negative), None);
        let history = [user(Sentiment::Negative, 0.9)];
        assert_eq!(trigger(&history, IntentLabel::Complaint, 0.9, Sentiment::Negative), Some(HandoffReason::Frustration));
        // A calm message after an angry one does not.
        assert_eq!(trigger(&history, IntentLabel::PolicyQuestion, 0.9, Sentiment::Neutral), None);
    }

    #[test]
    fn repeated_low_confidence_hands_off() {
        let history = [user(Sentiment::Neutral, 0.2), user(Sentiment::Neutral, 0.1)];
        assert_eq!(trigger(&history, IntentLabel::PolicyQuestion, 0.2, Sentiment::Neutral), Some(HandoffReason::LowConfidence));
        assert_eq!(trigger(&history, IntentLabel::PolicyQuestion, 0.9, Sentiment::Neutral), None);
        let interrupted = [user(Sentiment::Neutral, 0.2), user(Sentiment::Neutral, 0.9)];
        assert_eq!(trigger(&interrupted, IntentLabel::PolicyQuestion, 0.2, Sentiment::Neutral), None);
    }
}
