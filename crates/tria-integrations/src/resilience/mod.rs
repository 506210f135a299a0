//! Resilience layers that wrap a client from outside: a circuit breaker and retry with backoff.
//! Each is generic (no knowledge of Xero) and tested alone.

pub mod breaker;
pub mod retry;

pub use breaker::{BreakerConfig, BreakerOpen, BreakerSnapshot, BreakerState, CircuitBreaker, OwnedPermit, Permit};
pub use retry::{RetryDecision, RetryPolicy, Retryable, retry};
