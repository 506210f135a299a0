//! How conversations end, judged by outcome: `resolved_verified` when a business result exists
//! (the order flow calls [`Agent::mark_resolved_verified`]) or the customer confirmed ("thanks,
//! that's all"); `handed_off` when a person took over (set by the hand-off); and, once a
//! conversation has been idle long enough, `resolved_assumed` when its last turn was answered
//! and nothing followed, `abandoned` when it was not.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tria_core::{ConversationId, IntentLabel, Resolution, TenantContext, TenantId};

use crate::context::Turn;
use crate::{Agent, AgentError};

/// Conversations settled per call at most (the timer calls again).
const SETTLE_BATCH: u64 = 500;
const CONFIRMATIONS: &[&str] = &[
    "thank",
    "thanks",
    "thx",
    "cheers",
    "that's all",
    "thats all",
    "that is all",
    "that's it",
    "that helps",
    "that helped",
    "all good",
    "all sorted",
    "got it",
    "perfect",
    "problem solved",
    "appreciate it",
];

/// A short message in which the customer says they are done or satisfied.
pub fn is_confirmation(message: &str) -> bool {
    let lower = message.trim().to_lowercase().replace('’', "'");
    let words = lower.split_whitespace().count();
    words > 0 && words <= 8 && !lower.contains('?') && CONFIRMATIONS.iter().any(|c| lower.contains(c))
}

/// Intents whose reply counts as an answer when nothing followed it.
fn answers(intent: Option<IntentLabel>) -> bool {
    matches!(
        intent,
        Some(
            IntentLabel::PolicyQuestion
                | IntentLabel::ProductInquiry
                | IntentLabel::OrderPlacement
                | IntentLabel::OrderStatus
                | IntentLabel::OrderChange
                | IntentLabel::Billing
                | IntentLabel::Greeting
        )
    )
}

/// The resolution of an idle conversation from its last turns (oldest first).
pub(crate) fn settle(turns: &[Turn]) -> Resolution {
    let Some(last) = turns.iter().rev().find(|t| t.role == tria_core::MessageRole::Assistant) else { return Resolution::Abandoned };
    // A question the assistant could not cite anything for, or a complaint left hanging, was
    // not resolved by being left alone.
    let cited = !last.sources.is_empty() || matches!(last.intent, Some(IntentLabel::Greeting));
    if answers(last.intent) && cited { Resolution::ResolvedAssumed } else { Resolution::Abandoned }
}

/// What [`Agent::settle_idle_conversations`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SettleReport {
    pub resolved_verified: usize,
    pub resolved_assumed: usize,
    pub abandoned: usize,
}

impl Agent {
    /// Records that a business result exists for the conversation (an order placed or changed,
    /// an invoice issued): its resolution becomes `resolved_verified`.
    pub async fn mark_resolved_verified(&self, tenant: &TenantContext, conversation: ConversationId) -> Result<(), AgentError> {
        self.store().conversations().set_resolution(tenant.id, conversation, Resolution::ResolvedVerified, false).await?;
        Ok(())
    }

    /// Closes every open conversation idle for longer than `idle` (as of `now`) with its
    /// resolution: a verified one stays verified, otherwise assumed or abandoned from its last
    /// turns. Handed-off conversations are left to people. Call it on a timer (the server does)
    /// or from tests with a `now` in the future.
    pub async fn settle_idle_conversations(&self, idle: Duration, now: DateTime<Utc>) -> Result<SettleReport, AgentError> {
        let idle = chrono::Duration::from_std(idle).map_err(|e| AgentError::Internal(format!("idle duration: {e}")))?;
        let conversations = self.store().conversations().idle_open(now - idle, SETTLE_BATCH).await?;
        let mut report = SettleReport::default();
        for row in conversations {
            let tenant = TenantId(row.tenant_id);
            let id = ConversationId(row.id);
            // Not while a turn or an operator is changing it (its last turns are read below).
            let _turn = match self.turns.acquire(tenant, id).await {
                Ok(turn) => turn,
                // A turn kept it past the bound: it is not idle after all.
                Err(tria_store::TurnLockError::Busy(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let resolution = match row.resolution.as_deref().and_then(Resolution::parse) {
                Some(Resolution::ResolvedVerified) => Resolution::ResolvedVerified,
                _ => {
                    let rows = self.store().conversations().recent_messages(tenant, id, 4).await?;
                    let turns: Vec<Turn> = rows.iter().filter_map(Turn::from_row).collect();
                    settle(&turns)
                }
            };
            if self.store().conversations().set_resolution(tenant, id, resolution, true).await? {
                match resolution {
                    Resolution::ResolvedVerified => report.resolved_verified += 1,
                    Resolution::ResolvedAssumed => report.resolved_assumed += 1,
                    _ => report.abandoned += 1,
                }
            }
        }
        if report != SettleReport::default() {
            tracing::info!(?report, "idle conversations settled");
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use tria_core::MessageRole;

    use super::*;

    #[test]
    fn confirmations_are_short_thanks_not_questions() {
        for yes in ["Thanks!", "great, that's all", "Perfect, thank you", "that helped, cheers"] {
            assert!(is_confirmation(yes), "{yes}");
        }
        for no in
            ["thanks, but how much is the oat milk?", "Where is my order", "", "no thanks I want a refund for the broken cups you sent me"]
        {
            assert!(!is_confirmation(no), "{no}");
        }
    }

    fn assistant(intent: IntentLabel, sources: &[&str]) -> Turn {
        Turn {
            role: MessageRole::Assistant,
            text: "…".into(),
            intent: Some(intent),
            confidence: Some(0.9),
            sentiment: None,
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn an_answered_question_is_assumed_resolved_an_unanswered_one_abandoned() {
        assert_eq!(settle(&[assistant(IntentLabel::PolicyQuestion, &["c1"])]), Resolution::ResolvedAssumed);
        assert_eq!(settle(&[assistant(IntentLabel::PolicyQuestion, &[])]), Resolution::Abandoned);
        assert_eq!(settle(&[assistant(IntentLabel::Complaint, &["c1"])]), Resolution::Abandoned);
        assert_eq!(settle(&[]), Resolution::Abandoned);
    }
}
