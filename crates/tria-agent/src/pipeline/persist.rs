//! The persist stage, where every turn ends: the exchange (`crate::persist::exchange`) and the
//! tenant's usage for the day go to the group commit (`ExchangeWriter`), which returns once
//! they are committed; then what the turn asked for — a hand-off, a verified resolution.

use tria_core::{ChatReply, IntentVerdict, Resolution};
use tria_intent::Tone;
use tria_store::repo::MeteredExchange;

use super::{Then, Turn, TurnResult};
use crate::persist::{exchange, usage_delta};
use crate::session::Session;
use crate::trace::Stage;
use crate::{Agent, AgentError};

impl Agent {
    pub(crate) async fn persist(&self, turn: &Turn<'_>, session: &Session, tone: Tone, ended: TurnResult) -> Result<ChatReply, AgentError> {
        let tenant = turn.tenant;
        let handoff = ended.hands_off();
        let TurnResult { outcome, then, order, .. } = ended;
        let latency_ms = u64::try_from(turn.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let exchange = exchange(session, &turn.req, &outcome, tone, turn.received_at, latency_ms);
        let usage = usage_delta(&outcome);
        let message_id = exchange.assistant.id.to_string();
        // The turn's ledger rows name the conversation, the reply and its intent.
        tria_llm::observe::note_turn(Some(session.conversation.0), Some(outcome.intent.as_str()));
        tria_llm::observe::note_turn_message(exchange.assistant.id);
        let item = MeteredExchange { tenant: tenant.id, exchange, usage: Some(usage) };
        turn.clock.time_async(Stage::Persist, self.writer.record(item)).await?;
        let reply = ChatReply {
            reply: outcome.reply,
            session_id: session.conversation.to_string(),
            intent: IntentVerdict { label: outcome.intent, confidence: outcome.confidence },
            sources: outcome.sources,
            cache: outcome.cache,
            latency_ms,
            message_id: Some(message_id),
            usage: outcome.usage,
            handoff,
            order,
            language: Some(session.language.code().to_owned()),
        };
        match then {
            Then::Reply | Then::WithPerson => {}
            Then::HandOff(reason) => {
                let (conversation, customer) = (session.conversation, session.customer);
                Box::pin(self.hand_off(tenant, conversation, customer, reason, &session.turns, &turn.req.message)).await?;
            }
            Then::Resolve => {
                let conversations = self.store().conversations();
                Box::pin(conversations.set_resolution(tenant.id, session.conversation, Resolution::ResolvedVerified, false)).await?;
            }
        }
        Ok(reply)
    }
}
