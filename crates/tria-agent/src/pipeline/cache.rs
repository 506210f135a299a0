//! The cache stage: L1 → L2 before anything is computed; on a miss the intent stage, L3
//! (paraphrases of the same intent), then the reply stage (`Agent::respond`: `retrieve` →
//! `draft`, the responder or the LLM and its validation → `adapt_tone`) — once for identical
//! concurrent misses (`cached.rs`, `Agent::answer_through_cache`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;
use tria_core::{Answer, CacheLevel, ReplyUsage};

use super::Turn;
use super::intent::Question;
use crate::routing::Ask;
use crate::session::Session;
use crate::trace::Stage;
use crate::{Agent, AgentError};

/// The answer the hand-off check is given.
#[derive(Debug)]
pub(crate) struct Answered {
    pub(crate) answer: Arc<Answer>,
    /// The level that answered (`None`: computed now, or not an answer the cache keeps).
    pub(crate) cache: CacheLevel,
    /// What generating it in this request cost: zeros on a hit (and for the followers of a
    /// single-flight miss).
    pub(crate) usage: ReplyUsage,
    /// The whole stage, what a miss ran included.
    pub(crate) cache_total: Duration,
}

impl Agent {
    pub(crate) async fn through_cache(&self, turn: &Turn<'_>, session: &Session, question: &Question) -> Result<Answered, AgentError> {
        let tenant = turn.tenant;
        let message = question.text(turn);
        let cache_started = Instant::now();
        // A reply in another language than English is not shared through the cache: its key is
        // the message alone, and L3 matches across phrasings, so an English reply could be served
        // to a German question or the reverse. Without a context the cache is bypassed.
        let context = if session.language.is_english() { self.cache_context(tenant.id, session).await } else { None };
        let usage_slot = Mutex::new(ReplyUsage::default());
        let ask = Ask {
            message,
            history: &session.history.messages,
            conversation: Some(session.conversation),
            customer: session.customer,
            clock: &turn.clock,
            sink: turn.sink.as_ref(),
            language: session.language,
        };
        let classify = || turn.clock.time_async(Stage::Intent, self.intent(tenant.id, message, question.subject_intent));
        let generate = |c| {
            let slot = &usage_slot;
            async move {
                let generated = self.respond(tenant, ask, c).await?;
                if let Ok(mut usage) = slot.lock() {
                    usage.clone_from(&generated.usage);
                }
                Ok(generated)
            }
        };
        let (answer, cache) =
            self.answer_through_cache(tenant, message, context, classify, generate).instrument(Stage::Cache.span()).await?;
        let cache_total = cache_started.elapsed();
        if cache != CacheLevel::None {
            // The ledger: no model cost, and what the answer cost when a model wrote it saved.
            tria_llm::observe::note_cache_hit(answer.model.as_deref().unwrap_or("none"), answer.cost_micro_usd);
        }
        // Only a generation in this request fills the slot.
        let usage = usage_slot.into_inner().unwrap_or_default();
        Ok(Answered { answer, cache, usage, cache_total })
    }
}
