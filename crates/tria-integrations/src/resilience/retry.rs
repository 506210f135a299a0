//! Retry with capped exponential backoff and jitter. The error decides whether another try can
//! help ([`Retryable`]): a validation error never can, a 429 says when (`Retry-After`).

use std::future::Future;
use std::time::Duration;

/// What an error says about trying again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Trying again cannot help (the request itself is wrong).
    Stop,
    /// A later try may succeed; wait the policy's backoff.
    Retry,
    /// The server said when to come back.
    RetryAfter(Duration),
}

/// Errors that know whether a retry may help.
pub trait Retryable {
    fn retry_decision(&self) -> RetryDecision;
}

/// How often and how patiently to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries in total, the first included (1 = no retry).
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub multiplier: f64,
    /// Share of each delay that is randomised (0.0 none, 1.0 "full jitter"), so many clients
    /// failing together do not come back together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, initial_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5), multiplier: 2.0, jitter: 0.5 }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The backoff before retry number `retry` (1 = the first retry), before jitter:
    /// `initial * multiplier^(retry-1)`, capped at `max_delay`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.initial_delay.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_delay).min(self.max_delay)
    }

    /// The backoff with jitter applied for a random draw `unit` in `0.0..1.0`: the delay is
    /// uniformly spread over `[backoff * (1 - jitter), backoff]`.
    pub fn delay_with(&self, retry: u32, unit: f64) -> Duration {
        let backoff = self.backoff(retry);
        let jitter = self.jitter.clamp(0.0, 1.0);
        backoff.mul_f64(1.0 - jitter * unit.clamp(0.0, 1.0))
    }

    /// The backoff with a fresh random jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, rand::random::<f64>())
    }
}

/// Runs `op` until it succeeds, the error says stop, or the attempts run out. `op` gets the
/// attempt number (1-based). A `Retry-After` longer than `max_delay` ends the retries: waiting
/// that long inside one call would hold its caller; the caller reschedules instead.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        let err = match op(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if attempt >= policy.max_attempts.max(1) {
            return Err(err);
        }
        let delay = match err.retry_decision() {
            RetryDecision::Stop => return Err(err),
            RetryDecision::Retry => policy.delay(attempt),
            RetryDecision::RetryAfter(after) if after <= policy.max_delay => after,
            RetryDecision::RetryAfter(_) => return Err(err),
        };
        tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug, PartialEq)]
    struct Fail(RetryDecision);
    impl Retryable for Fail {
        fn retry_decision(&self) -> RetryDecision {
            self.0
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.0,
        }
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = policy();
        let delays: Vec<u128> = (1..=6).map(|r| p.backoff(r).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_spreads_the_delay_below_the_backoff() {
        let p = RetryPolicy { jitter: 0.5, ..policy() };
        assert_eq!(p.delay_with(3, 0.0), Duration::from_millis(400));
        assert_eq!(p.delay_with(3, 1.0), Duration::from_millis(200));
        assert_eq!(p.delay_with(3, 0.5), Duration::from_millis(300));
        for _ in 0..100 {
            let d = p.delay(3);
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400), "{d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_with_backoff_until_success() {
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        let result = retry(&policy(), |attempt| {
            calls.set(attempt);
            async move { if attempt < 3 { Err(Fail(RetryDecision::Retry)) } else { Ok(attempt) } }
        })
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.get(), 3);
        // Virtual time: 100 ms + 200 ms of backoff.
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_stop_at_once_and_attempts_are_bounded() {
        let calls = Cell::new(0);
        let result: Result<(), Fail> = retry(&policy(), |a| {
            calls.set(a);
            async { Err(Fail(RetryDecision::Stop)) }
        })
        .await;
        assert_eq!(result, Err(Fail(RetryDecision::Stop)));
        assert_eq!(calls.get(), 1);

        let result: Result<(), Fail> = retry(&policy(), |a| {
            calls.set(a);
            async { Err(Fail(RetryDecision::Retry)) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 4, "max_attempts includes the first try");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_unless_longer_than_the_cap() {
        let started = tokio::time::Instant::now();
        let result = retry(&policy(), |attempt| async move {
            if attempt == 1 { Err(Fail(RetryDecision::RetryAfter(Duration::from_millis(700)))) } else { Ok(()) }
        })
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_millis(700));

        let calls = Cell::new(0);
        let result: Result<(), Fail> = retry(&policy(), |a| {
            calls.set(a);
            async { Err(Fail(RetryDecision::RetryAfter(Duration::from_secs(60)))) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 1, "a minute-long Retry-After is left to the caller's scheduler");
    }
}
