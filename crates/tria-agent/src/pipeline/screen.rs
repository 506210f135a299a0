//! The screen stage: the lexical safety verdict and the tone, read off the text alone (and
//! remembered, `message_facts.rs`); a refused message is answered with a fixed refusal in
//! place of the cache stage. (The learned layer needs the embedding, so it runs on a cache
//! miss, in `Agent::respond`.)

use std::sync::Arc;
use std::time::Instant;

use tria_core::{Answer, CacheLevel, IntentLabel, ReplyUsage};
use tria_guard::{Refusal, refusal_message};

use super::Turn;
use super::cache::Answered;
use crate::Agent;
use crate::message_facts::Facts;

impl Agent {
    pub(crate) fn screen_message(&self, message: &str) -> Facts {
        self.facts.of(message)
    }
}

/// The answer to a prompt-injection or abuse attempt: a fixed refusal, never cached, never
/// shown to a model. It still meets the hand-off check, as any answer does.
pub(crate) fn refusal(turn: &Turn<'_>, refusal: &Refusal) -> Answered {
    let started = Instant::now();
    let tenant = turn.tenant;
    tracing::warn!(tenant = %tenant.slug, rule = %refusal.rule, category = ?refusal.category, "input refused by the safety screen");
    let reply = refusal_message(refusal.category, &tenant.name);
    let answer = Arc::new(Answer::new(reply, IntentLabel::OutOfScope, 1.0));
    Answered { answer, cache: CacheLevel::None, usage: ReplyUsage::default(), cache_total: started.elapsed() }
}
