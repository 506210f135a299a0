//! One error type for every LLM backend, split by what a caller can do about it.

use std::time::Duration;

/// Why an LLM call produced no completion. The HTTP client has already retried what was worth
/// retrying when it returns one of these.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// No answer (or, while streaming, no next chunk) within the configured timeout.
    #[error("the LLM did not answer in time")]
    Timeout,
    /// HTTP 429. `retry_after` is what the upstream asked for, when it said.
    #[error("the LLM rate-limited the request")]
    RateLimited { retry_after: Option<Duration> },
    /// Any other non-success status; `message` is the upstream's error text, shortened.
    #[error("the LLM answered HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    /// A response that does not follow the chat-completions protocol (bad JSON, bad SSE).
    #[error("the LLM's answer could not be read: {0}")]
    Malformed(String),
    /// Could not connect, or the connection broke (including mid-stream).
    #[error("the connection to the LLM failed: {0}")]
    Connection(String),
    /// Not sent: the provider's circuit breaker is open after recent failures (a layer around
    /// the client refuses at once, so the caller falls back instead of waiting).
    #[error("the LLM provider's circuit is open; retry in {retry_in:?}")]
    CircuitOpen { retry_in: Duration },
    /// The client was shut down ([`crate::OpenAiClient::close`]) while the call waited.
    #[error("the LLM call was cancelled")]
    Cancelled,
}

impl LlmError {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Timeout | LlmError::RateLimited { .. } | LlmError::Connection(_) => true,
            LlmError::Upstream { status, .. } => *status >= 500 || *status == 408,
            LlmError::Malformed(_) | LlmError::Cancelled | LlmError::CircuitOpen { .. } => false,
        }
    }

    /// A stable snake_case name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Timeout => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Upstream { .. } => "upstream",
            LlmError::Malformed(_) => "malformed",
            LlmError::Connection(_) => "connection",
            LlmError::Cancelled => "cancelled",
            LlmError::CircuitOpen { .. } => "circuit_open",
        }
    }
}
