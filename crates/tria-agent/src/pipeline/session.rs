//! The session stage: the session's turn lock (taken when the turn begins, `begin.rs`), the
//! conversation (`Agent::load_session`: a new one, or the caller's, read once when the turn
//! began) and, first exit, a conversation a person already has — the message is stored, the
//! bot says so and answers nothing.

use tria_core::{IntentLabel, TenantId};
use tria_store::TurnGuard;
use tria_store::records::Conversation;

use super::{Step, Then, Turn, TurnResult};
use crate::input::CleanRequest;
use crate::persist::Outcome;
use crate::session::{Caller, Session};
use crate::trace::{ChatDebug, Stage};
use crate::{Agent, AgentError};

/// What `?debug=true` reports of the session: the history sent with the prompt.
pub(crate) fn debug_of(session: &Session) -> ChatDebug {
    ChatDebug { history_messages: session.history.messages.len(), history_tokens: session.history.tokens, ..ChatDebug::default() }
}

impl Agent {
    /// One turn at a time on a session, held until its exchange is stored (customer turns,
    /// operators' take-overs and messages take the same lock, `conversation.rs`). A message
    /// that opens a conversation has nothing to wait for. Waiting past the lock's bound is
    /// [`AgentError::Busy`].
    pub(crate) async fn lock_session(&self, tenant: TenantId, req: &CleanRequest) -> Result<Option<TurnGuard>, AgentError> {
        match req.session {
            Some(id) => Ok(Some(self.turns.acquire(tenant, id).await?)),
            None => Ok(None),
        }
    }

    /// The conversation [`Agent::begin_turn`] read under the lock, with its recent turns (or
    /// the one this message opens).
    pub(crate) async fn session(&self, turn: &Turn<'_>, caller: Caller, row: Option<Conversation>) -> Result<Session, AgentError> {
        turn.clock.time_async(Stage::Session, self.load_session(turn.tenant, &turn.req, caller, row)).await
    }

    /// A person has this conversation: store the message, say so, answer nothing.
    pub(crate) async fn with_person(&self, turn: &Turn<'_>, session: &Session) -> Step<()> {
        if !session.handed_off {
            return Step::Next(());
        }
        let reply = Box::pin(self.handed_off_reply(turn.tenant)).await;
        Step::done(TurnResult::early(Outcome::fixed(reply, IntentLabel::HumanHandoff), Then::WithPerson))
    }
}
