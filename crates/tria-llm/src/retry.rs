//! When to try an LLM call again and how long to wait first.

use std::time::Duration;

use rand::Rng;

use crate::LlmError;

/// Exponential backoff with jitter for retryable failures (429, 5xx, timeouts, broken
/// connections), honouring the upstream's `Retry-After`.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles per retry.
    pub base_delay: Duration,
    /// Cap of the exponential backoff.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails with
    /// [`LlmError::RateLimited`] so the caller can fall back instead of hanging.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// The backoff before retry number `retry` (0-based): "equal jitter" — half the exponential
    /// delay fixed, half random, so synchronized clients spread out but never retry at once.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(2u32.saturating_pow(retry.min(16)));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if jitter_nanos == 0 { 0 } else { rand::rng().random_range(0..=jitter_nanos) };
        half + Duration::from_nanos(jitter)
    }

    /// How long to wait before retry number `retry` after `error`, or `None` to give up.
    /// `retry_after` is the upstream's hint (429 or 503), which wins over the backoff.
    pub(crate) fn delay_before(&self, retry: u32, error: &LlmError, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries || !error.is_retryable() {
            return None;
        }
        match retry_after {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(retry)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let policy =
            RetryPolicy { base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(700), ..RetryPolicy::default() };
        for _ in 0..50 {
            let first = policy.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = policy.backoff(2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let capped = policy.backoff(10);
            assert!(capped >= Duration::from_millis(350) && capped <= Duration::from_millis(700), "{capped:?}");
        }
    }

    #[test]
    fn retry_after_wins_unless_too_long_and_non_retryable_errors_stop() {
        let policy = RetryPolicy { max_retries: 2, max_retry_after: Duration::from_secs(5), ..RetryPolicy::default() };
        let limited = LlmError::RateLimited { retry_after: Some(Duration::from_secs(2)) };
        assert_eq!(policy.delay_before(0, &limited, Some(Duration::from_secs(2))), Some(Duration::from_secs(2)));
        assert_eq!(policy.delay_before(0, &limited, Some(Duration::from_secs(60))), None);
        assert_eq!(policy.delay_before(2, &LlmError::Timeout, None), None, "retries exhausted");
        assert!(policy.delay_before(1, &LlmError::Timeout, None).is_some());
        let bad_request = LlmError::Upstream { status: 400, message: String::new() };
        assert_eq!(policy.delay_before(0, &bad_request, None), None);
        assert_eq!(policy.delay_before(0, &LlmError::Malformed("x".into()), None), None);
    }
}
