//! The start of a turn, before anything is spent on it: the request validated (once), the
//! session's turn lock taken, and the conversation read (once) under that lock and found to be
//! the caller's. A streaming encoder begins the turn before its first event, so whatever can be
//! refused is a plain HTTP error, then hands the [`BegunTurn`] to the pipeline, which neither
//! validates nor reads the conversation row again.

use std::time::Instant;

use chrono::{DateTime, Utc};
use tria_core::{ChatRequest, ConversationId, TenantContext};
use tria_store::TurnGuard;
use tria_store::records::Conversation;

use crate::input::{CleanRequest, validate};
use crate::session::{Caller, session_not_found};
use crate::trace::{Stage, StageClock};
use crate::{Agent, AgentError};

/// A customer's message whose turn has begun: validated, its session's turn lock held, and
/// the conversation it continues read under that lock and found to be the caller's. Only
/// [`Agent::begin_turn`] makes one, so holding one is the proof that these checks ran.
///
/// Why one read under the lock is enough: what the check relies on cannot change while the
/// lock is held. A conversation's tenant and channel are written once, when it is opened; its
/// customer is written once too (`identify_customer` only fills an empty one) and only by a
/// turn, which takes the same lock; its status changes only under the lock (turns, take-over,
/// hand-back, `conversation.rs`). So nothing another turn does can undo what was checked
/// before this turn is answered and stored. Dropping it (a refused admission, a client that
/// went away) releases the lock.
#[derive(Debug)]
pub struct BegunTurn {
    pub(crate) req: CleanRequest,
    pub(crate) caller: Caller,
    /// The conversation `req.session` names (`None`: the message opens one).
    pub(crate) conversation: Option<Conversation>,
    /// The message as the client sent it, for the usage a stream reports.
    message_as_sent: String,
    /// Held until the exchange is stored: the next message on this session reads it.
    pub(crate) lock: Option<TurnGuard>,
    /// When the turn began (its session's lock held): the customer's message is stored with
    /// this time, so history reads question, answer, question.
    pub(crate) received_at: DateTime<Utc>,
    /// When the agent got the request, for the reply's latency.
    pub(crate) started: Instant,
    /// The stage timings so far (the session read).
    pub(crate) clock: StageClock,
}

impl BegunTurn {
    /// The message as the client sent it (before trimming).
    pub fn message_as_sent(&self) -> &str {
        &self.message_as_sent
    }
}

impl Agent {
    /// Begins a customer's turn ([`BegunTurn`]): an invalid request is refused (400), a session
    /// that is not the tenant's is "not found" (404), a widget naming a customer is forbidden
    /// (403) and one naming a session it did not open is "not found" (404), in that order —
    /// the order the streaming endpoint has always refused them in. Answer it with
    /// [`Agent::answer_turn`] or [`Agent::chat_stream_turn`].
    pub async fn begin_turn(&self, tenant: &TenantContext, request: ChatRequest, caller: Caller) -> Result<BegunTurn, AgentError> {
        let started = Instant::now();
        let req = validate(&request, self.limits)?;
        let lock = Box::pin(self.lock_session(tenant.id, &req)).await?;
        let received_at = Utc::now();
        let clock = StageClock::default();
        // Boxed: store futures are kilobytes, and every turn awaits this one.
        let read = Box::pin(self.caller_conversation(tenant, &req, &request, caller));
        let conversation = clock.time_async(Stage::Session, read).await?;
        Ok(BegunTurn { req, caller, conversation, message_as_sent: request.message, lock, received_at, started, clock })
    }

    /// The conversation the request continues, read once, if it is the caller's.
    async fn caller_conversation(
        &self,
        tenant: &TenantContext,
        req: &CleanRequest,
        request: &ChatRequest,
        caller: Caller,
    ) -> Result<Option<Conversation>, AgentError> {
        let row = match req.session {
            Some(id) => Some(self.store().conversations().get(tenant.id, id).await?.ok_or_else(session_not_found)?),
            None => None,
        };
        caller.check_customer_claim(req.customer_external_id.as_deref())?;
        if caller.is_widget() {
            // A widget's session id is taken as sent ([`Agent::session_for`]): an empty or
            // padded one names no session of its own.
            if request.session_id.as_deref().is_some_and(|raw| raw.parse::<ConversationId>().is_err()) {
                return Err(session_not_found());
            }
            if row.as_ref().is_some_and(|row| !caller.may_use(row)) {
                return Err(session_not_found());
            }
        }
        Ok(row)
    }
}
