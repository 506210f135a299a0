//! The orders stage: the order flow (`crate::orders`) answers order turns from live rows —
//! never cached — before the closing check, since "Confirm" or "yes" may be confirming an
//! order. Only a message the screen allowed reaches it.

use tria_core::CacheLevel;
use tria_guard::ScreenVerdict;

use super::{Step, Then, Turn, TurnResult};
use crate::handoff::HandoffReason;
use crate::message_facts::Facts;
use crate::persist::Outcome;
use crate::session::Session;
use crate::{Agent, AgentError};

impl Agent {
    pub(crate) async fn orders(&self, turn: &Turn<'_>, session: &Session, facts: &Facts) -> Result<Step<()>, AgentError> {
        if !matches!(facts.verdict, ScreenVerdict::Allow) {
            return Ok(Step::Next(()));
        }
        let req = &turn.req;
        // The order flow: `None` when the message is not about an order.
        let answered = self.route_order(turn.tenant, session, req.customer_external_id.as_deref(), &req.message).await?;
        let Some(answered) = answered else { return Ok(Step::Next(())) };
        let answer = answered.answer;
        let outcome = Outcome {
            reply: answer.reply,
            intent: answer.intent,
            confidence: answer.confidence,
            sources: answer.sources,
            cache: CacheLevel::None,
            usage: tria_core::ReplyUsage::default(),
            tokens: 0,
        };
        // A high-value order waits for a person's approval.
        let then = if answered.handoff.is_some() { Then::HandOff(HandoffReason::OrderApproval) } else { Then::Reply };
        Ok(Step::done(TurnResult { order: answered.order, ..TurnResult::early(outcome, then) }))
    }
}
