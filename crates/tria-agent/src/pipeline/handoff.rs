//! The hand-off check: whether this answer hands the conversation to a person (asked for, or
//! the customer repeatedly frustrated or not understood: `handoff::trigger`). If so the reply
//! is the hand-off notice, and the persist stage hands the conversation off once it is stored.

use tria_intent::Tone;

use super::cache::Answered;
use super::{Then, Turn, TurnResult};
use crate::Agent;
use crate::handoff::trigger;
use crate::persist::Outcome;
use crate::session::Session;

impl Agent {
    pub(crate) async fn hand_off_check(&self, turn: &Turn<'_>, session: &Session, tone: Tone, answered: Answered) -> TurnResult {
        let Answered { answer, cache, usage, cache_total } = answered;
        let handoff = trigger(&session.turns, answer.intent, answer.confidence, tone.sentiment);
        let (reply, sources) = match handoff {
            Some(reason) => (Box::pin(self.handoff_reply(turn.tenant, reason)).await, Vec::new()),
            None => (answer.reply.clone(), answer.sources.clone()),
        };
        let outcome = Outcome { reply, intent: answer.intent, confidence: answer.confidence, sources, cache, usage, tokens: answer.tokens };
        TurnResult { outcome, then: handoff.map_or(Then::Reply, Then::HandOff), order: None, cache_total }
    }
}
