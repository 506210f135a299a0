//! Where a provider's 429 hold-off is kept when more than this process must honour it: a
//! provider that answered 429 with `Retry-After` is not called again by any replica until then.
//! The LLM guard (`tria-agent`) reads it before a call and writes it after a 429; an
//! implementation over Redis is `tria-admission`'s. Without one the hold-off is in-process.

use std::time::Duration;

use async_trait::async_trait;

/// Hold-offs shared by every replica, keyed by the guard's provider key (`openai/gpt-4o-mini`).
#[async_trait]
pub trait SharedHoldOff: Send + Sync {
    /// The time left of `key`'s hold-off; `None` when it is not held back.
    async fn held_for(&self, key: &str) -> Result<Option<Duration>, HoldOffError>;

    /// Holds `key` back for `duration` from now (a longer hold already in place stays).
    async fn hold(&self, key: &str, duration: Duration) -> Result<(), HoldOffError>;
}

/// The shared store could not be read or written; the caller keeps its in-process hold-off.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HoldOffError {
    #[error("hold-off store unavailable: {0}")]
    Unavailable(String),
    #[error("hold-off store did not answer in time")]
    Timeout,
}
