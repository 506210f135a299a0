//! The agent's typed error: what the caller did wrong versus what broke inside.

use tria_core::{ErrorCode, InputError};
use tria_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The request was wrong; the message is safe to show.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The database could not be reached; retrying later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The conversation's earlier turns (on this replica or another) kept this one waiting
    /// past the turn lock's bound; retrying shortly may work.
    #[error("{0}")]
    Busy(String),
    /// Something failed inside; details are for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AgentError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => AgentError::Input(InputError::new(ErrorCode::NotFound, format!("{what} not found"))),
            StoreError::Unavailable(e) => AgentError::Unavailable(e),
            other => AgentError::Internal(other.to_string()),
        }
    }
}

impl From<tria_store::TurnLockError> for AgentError {
    fn from(err: tria_store::TurnLockError) -> Self {
        match err {
            tria_store::TurnLockError::Busy(_) => AgentError::Busy(err.to_string()),
            tria_store::TurnLockError::Unavailable(e) => AgentError::Unavailable(e),
        }
    }
}

impl From<tria_rag::RagError> for AgentError {
    fn from(err: tria_rag::RagError) -> Self {
        match err {
            tria_rag::RagError::Store(e) => e.into(),
            other => AgentError::Internal(other.to_string()),
        }
    }
}
