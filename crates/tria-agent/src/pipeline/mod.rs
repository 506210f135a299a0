//! The chat pipeline, one function per stage, in the order a message meets them:
//!
//! begin → screen → session → (a person has it) → orders → ("thanks, that's all") → cache → intent →
//! retrieval → respond → validate → tone → hand-off → persist
//!
//! A stage takes what the ones before it produced and returns what the next needs, or
//! [`Step::Done`] with the [`TurnResult`] when it has answered the message itself (a person has
//! the conversation, the order flow, a closing). Every turn ends in the persist stage, which
//! stores the exchange and then does what the result asks (a hand-off, a resolution).
//!
//! Intent, retrieval, respond, validate and tone run inside the cache stage, on a miss only:
//! `cache.rs` hands the answer cache the intent stage (`intent.rs`) and the reply stage
//! (`Agent::respond`, `routing.rs`), which sends a question the tenant's data answers through
//! `retrieve` (`retrieval.rs` → `Retrieved`), `draft` (`respond.rs` → `Drafted`: the responder
//! or the LLM with its validation — a rejected LLM reply is regenerated and a streamed one is
//! checked a sentence at a time, so validation sits inside generation) and `adapt_tone`
//! (`tone.rs` → the answer). The stage names that are timed and traced are `trace::Stage`;
//! `begin.rs` is where every turn starts (validation, the turn lock, the conversation read once);
//! `Agent::chat_stream_turn` runs the same stages with a sink for the streamed reply, and
//! `Agent::warm_cache` the cache, intent and reply stages.

mod begin;
mod cache;
mod closing;
mod handoff;
mod intent;
mod orders;
mod persist;
mod respond;
mod retrieval;
mod screen;
mod session;
mod tone;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::Instrument;
use tria_core::{ChatReply, ChatRequest, OrderSummary, TenantContext};
use tria_guard::ScreenVerdict;

use crate::handoff::HandoffReason;
use crate::input::CleanRequest;
use crate::persist::Outcome;
use crate::session::Caller;
use crate::stream::StreamSink;
use crate::trace::{ChatDebug, StageClock};
use crate::{Agent, AgentError};

pub use begin::BegunTurn;
pub(crate) use respond::Drafted;
pub(crate) use tone::adapt_tone;

/// What a stage passes on: the next stage's input, or the end of the turn it decided.
pub(crate) enum Step<T> {
    Next(T),
    /// Boxed: a result is large, and most turns go on.
    Done(Box<TurnResult>),
}

impl<T> Step<T> {
    pub(crate) fn done(ended: TurnResult) -> Self {
        Step::Done(Box::new(ended))
    }
}

/// The value of a [`Step::Next`]; a [`Step::Done`] breaks out of the labelled block with its result.
macro_rules! next_or_break {
    ($block:lifetime, $step:expr) => {
        match $step {
            Step::Next(next) => next,
            Step::Done(ended) => break $block * ended,
        }
    };
}

/// What every stage of one turn reads: the request, when the turn began, its stage clock, and
/// where a streamed reply goes.
pub(crate) struct Turn<'a> {
    pub(crate) tenant: &'a TenantContext,
    pub(crate) req: CleanRequest,
    /// When the turn began (its session's lock held): the customer's message is stored with
    /// this time, so history reads question, answer, question.
    pub(crate) received_at: DateTime<Utc>,
    /// When the request arrived, for the reply's latency.
    pub(crate) started: Instant,
    pub(crate) clock: StageClock,
    pub(crate) sink: Option<StreamSink>,
}

/// How a turn ends: the reply to store and send, and what follows once it is stored.
#[derive(Debug)]
pub(crate) struct TurnResult {
    pub(crate) outcome: Outcome,
    pub(crate) then: Then,
    /// The order the reply is about (from the order flow).
    pub(crate) order: Option<OrderSummary>,
    /// The whole cache stage, the stages a miss ran included (see `StageClock::timings`);
    /// zero when the turn ended before it.
    pub(crate) cache_total: Duration,
}

impl TurnResult {
    /// A turn answered before the cache stage.
    pub(crate) fn early(outcome: Outcome, then: Then) -> Self {
        Self { outcome, then, order: None, cache_total: Duration::ZERO }
    }

    /// The reply tells the customer a person has (or now takes) the conversation.
    pub(crate) fn hands_off(&self) -> bool {
        matches!(self.then, Then::WithPerson | Then::HandOff(_))
    }

    /// Why the conversation goes to a person, for `?debug=true`.
    pub(crate) fn handoff_reason(&self) -> Option<&'static str> {
        match self.then {
            Then::HandOff(reason) => Some(reason.as_str()),
            _ => None,
        }
    }
}

/// What the persist stage does once the exchange is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Nothing more: the reply is all.
    Reply,
    /// Nothing more, but the reply says a person already has the conversation.
    WithPerson,
    /// The conversation goes to a person (`Agent::hand_off`).
    HandOff(HandoffReason),
    /// The customer said they are done: the conversation is resolved, verified.
    Resolve,
}

impl Agent {
    /// One customer message through the stages; with a `sink`, an LLM reply is streamed into
    /// it as it is generated.
    #[tracing::instrument(name = "chat", skip_all, fields(tenant = %tenant.slug))]
    pub(crate) async fn chat_inner(
        &self,
        tenant: &TenantContext,
        request: ChatRequest,
        caller: Caller,
        sink: Option<StreamSink>,
    ) -> Result<(ChatReply, ChatDebug), AgentError> {
        let begun = self.begin_turn(tenant, request, caller).await?;
        self.answer(tenant, begun, sink).await
    }

    /// Answers a turn [`Agent::begin_turn`] began (the request validated, the session's lock
    /// held, the conversation read and found to be the caller's), and stores the exchange.
    pub async fn answer_turn(&self, tenant: &TenantContext, begun: BegunTurn) -> Result<(ChatReply, ChatDebug), AgentError> {
        self.answer(tenant, begun, None).instrument(tracing::info_span!("chat", tenant = %tenant.slug)).await
    }

    /// The stages after the turn began.
    pub(crate) async fn answer(
        &self,
        tenant: &TenantContext,
        begun: BegunTurn,
        sink: Option<StreamSink>,
    ) -> Result<(ChatReply, ChatDebug), AgentError> {
        let BegunTurn { req, caller, conversation, lock: _session_lock, received_at, started, clock, .. } = begun;
        let turn = Turn { tenant, received_at, started, clock, sink, req };
        let facts = self.screen_message(&turn.req.message);
        let session = self.session(&turn, caller, conversation).await?;
        let mut debug = session::debug_of(&session);
        let ended = 'answered: {
            next_or_break!('answered, self.with_person(&turn, &session).await);
            next_or_break!('answered, self.orders(&turn, &session, &facts).await?);
            next_or_break!('answered, closing::closing(&turn, &session));
            let question = intent::follow_up(&turn, &session);
            debug.resolved_message.clone_from(&question.resolved);
            let answered = match &facts.verdict {
                ScreenVerdict::Refuse(refusal) => screen::refusal(&turn, refusal),
                ScreenVerdict::Allow => self.through_cache(&turn, &session, &question).await?,
            };
            let ended = self.hand_off_check(&turn, &session, facts.tone, answered).await;
            debug.handoff_reason = ended.handoff_reason();
            ended
        };
        let cache_total = ended.cache_total;
        let reply = self.persist(&turn, &session, facts.tone, ended).await?;
        debug.timings_ms = turn.clock.timings(cache_total);
        Ok((reply, debug))
    }
}
