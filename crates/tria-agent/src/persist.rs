//! The persist stage: both messages of an exchange with what the pipeline decided (intent,
//! confidence, sentiment, sources, tokens, cost, prompt version, latency, cache level), and
//! what it adds to the tenant's daily usage, written in one transaction.

use chrono::{DateTime, Utc};
use tria_core::{CacheLevel, IntentLabel, MessageRole, ReplyUsage, SourceRef};
use tria_intent::Tone;
use tria_store::repo::{Exchange, NewMessage, UsageDelta};

use crate::input::CleanRequest;
use crate::session::Session;

/// The reply chosen for a message, before it is stored.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) reply: String,
    pub(crate) intent: IntentLabel,
    pub(crate) confidence: f32,
    pub(crate) sources: Vec<SourceRef>,
    pub(crate) cache: CacheLevel,
    pub(crate) usage: ReplyUsage,
    /// LLM tokens the answer took when generated (what a cache hit saved).
    pub(crate) tokens: u32,
}

impl Outcome {
    /// A reply that is not an answer (a hand-off notice, a closing): no sources, no cost.
    pub(crate) fn fixed(reply: String, intent: IntentLabel) -> Self {
        Self { reply, intent, confidence: 1.0, sources: Vec::new(), cache: CacheLevel::None, usage: ReplyUsage::default(), tokens: 0 }
    }
}

pub(crate) fn exchange(
    session: &Session,
    req: &CleanRequest,
    outcome: &Outcome,
    tone: Tone,
    received_at: DateTime<Utc>,
    latency_ms: u64,
) -> Exchange {
    let mut user = NewMessage::new(MessageRole::User, req.message.clone());
    user.created_at = received_at;
    user.intent = Some((outcome.intent, outcome.confidence));
    user.sentiment = Some(tone.sentiment.as_str().to_owned());
    let mut assistant = NewMessage::new(MessageRole::Assistant, outcome.reply.clone());
    // Strictly after the question, so history reads back in order.
    assistant.created_at = Utc::now().max(received_at + chrono::Duration::microseconds(1));
    assistant.intent = Some((outcome.intent, outcome.confidence));
    assistant.sources = outcome.sources.iter().map(|s| s.id.clone()).collect();
    assistant.latency_ms = i64::try_from(latency_ms).unwrap_or(i64::MAX);
    assistant.cache_level = Some(outcome.cache);
    assistant.tokens_in = i64::from(outcome.usage.tokens_in);
    assistant.tokens_out = i64::from(outcome.usage.tokens_out);
    assistant.cost_usd = outcome.usage.cost_usd;
    assistant.prompt_version.clone_from(&outcome.usage.prompt_version);
    Exchange { conversation: session.conversation, opens_conversation: session.opens.clone(), user, assistant }
}

/// What the exchange adds to the tenant's day: one message, its LLM cost, and on a cache hit
/// the level and the tokens the hit did not spend.
pub(crate) fn usage_delta(outcome: &Outcome) -> UsageDelta {
    let hit = outcome.cache != CacheLevel::None;
    UsageDelta {
        messages: 1,
        tokens_in: i64::from(outcome.usage.tokens_in),
        tokens_out: i64::from(outcome.usage.tokens_out),
        cost_usd: outcome.usage.cost_usd,
        cache_level: Some(outcome.cache),
        tokens_saved: if hit { i64::from(outcome.tokens) } else { 0 },
    }
}
