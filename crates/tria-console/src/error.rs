//! The console's one error type: what the caller asked for that does not exist or cannot be
//! used, and what failed underneath. The server maps it to HTTP once (`tria-server`'s `error.rs`).

use tria_agent::AgentError;
use tria_store::StoreError;

use crate::helpdesk::ReactionError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not there, or not the caller's: the two are never told apart, so an operator cannot
    /// learn what another tenant has.
    #[error("{0}")]
    NotFound(&'static str),
    /// A value the caller gave that the console cannot use (the message says which and why).
    #[error("{0}")]
    Invalid(String),
    /// An operator replied to a conversation the bot is answering: take it over first.
    #[error("take the conversation over before replying (the bot is answering it)")]
    BotAnswering,
    /// A Slack event without the message it reacts to.
    #[error("reaction_added without item.channel and item.ts")]
    MalformedSlackEvent,
    /// A Slack reaction's ticket work failed; Slack retries the event.
    #[error("the Slack reaction could not be handled: {0}")]
    Reaction(#[from] ReactionError),
    /// The agent refused or failed a change to a conversation.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A read failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
