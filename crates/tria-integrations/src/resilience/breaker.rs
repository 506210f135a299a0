//! A circuit breaker: closed → open when recent calls fail too often (a failure rate over a
//! count-based sliding window with a minimum of calls, or a run of consecutive failures) → after a
//! cool-down, half-open with a limited number of probe calls → closed again when enough probes
//! succeed, or open again on the first probe failure.
//!
//! The breaker never calls anything itself: a caller asks for a [`Permit`], makes its call and
//! records the outcome on the permit. That keeps it independent of any client and makes it
//! testable with a [`ManualClock`](crate::clock::ManualClock).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::{IntegrationProbe, IntegrationState, IntegrationStatus};

/// When a breaker trips and how it recovers.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    /// How many of the most recent calls the failure rate is computed over.
    pub window: u32,
    /// No trip on the failure rate until the window holds at least this many calls.
    pub minimum_calls: u32,
    /// Trip when failures / calls in the window reaches this (0.0..=1.0).
    pub failure_rate: f64,
    /// Trip after this many failures in a row, whatever the rate (0 disables).
    pub consecutive_failures: u32,
    /// How long the breaker stays open before letting probes through.
    pub cool_down: Duration,
    /// How many probe calls may be in flight at once while half-open.
    pub half_open_probes: u32,
    /// Successful probes needed to close again.
    pub half_open_successes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: 20,
            minimum_calls: 10,
            failure_rate: 0.5,
            consecutive_failures: 5,
            cool_down: Duration::from_secs(30),
            half_open_probes: 1,
            half_open_successes: 1,
        }
    }
}

/// The breaker's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The value of a `tria_breaker_state` gauge: 0 closed, 1 half-open, 2 open.
    pub fn as_gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

/// Everything a metrics exporter or `/admin/integrations` wants to show; read without blocking.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakerSnapshot {
    pub name: String,
    pub state: BreakerState,
    pub calls_in_window: u32,
    pub failures_in_window: u32,
    pub failure_rate: f64,
    pub consecutive_failures: u32,
    /// How many times it has opened since start.
    pub opened_total: u64,
    /// Calls refused because it was open (or half-open with every probe slot taken).
    pub rejected_total: u64,
    /// Time left before probes are let through, while open.
    pub retry_in_ms: Option<u64>,
}

/// The breaker refused the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit open; retry in {retry_in:?}")]
pub struct BreakerOpen {
    /// When it makes sense to ask again.
    pub retry_in: Duration,
}

#[derive(Debug)]
enum Position {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Inner {
    position: Position,
    /// Outcomes of recent calls while closed, newest last; `true` = failure.
    window: VecDeque<bool>,
    failures_in_window: u32,
    consecutive_failures: u32,
    /// Bumped on every transition so late outcomes of calls admitted earlier are ignored.
    generation: u64,
}

/// A circuit breaker for one integration. Share it as `Arc<CircuitBreaker>`.
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    opened_total: AtomicU64,
    rejected_total: AtomicU64,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker").field("name", &self.name).field("config", &self.config).finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Self::with_clock(name, config, Arc::new(SystemClock))
    }

    pub fn with_clock(name: impl Into<String>, config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            name: name.into(),
            config,
            clock,
            inner: Mutex::new(Inner {
                position: Position::Closed,
                window: VecDeque::new(),
                failures_in_window: 0,
                consecutive_failures: 0,
                generation: 0,
            }),
            opened_total: AtomicU64::new(0),
            rejected_total: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The critical sections never panic halfway through an update, so a poisoned lock still
        // holds consistent state.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks to make one call. Closed: always granted. Open: refused until the cool-down is over,
    /// then the breaker turns half-open. Half-open: granted while a probe slot is free.
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerOpen> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Position::Open { until } = inner.position {
            if now < until {
                drop(inner);
                self.rejected_total.fetch_add(1, Ordering::Relaxed);
                return Err(BreakerOpen { retry_in: until - now });
            }
            inner.position = Position::HalfOpen { in_flight: 0, successes: 0 };
            inner.generation += 1;
        }
        let generation = inner.generation;
        match &mut inner.position {
            Position::Closed => Ok(Permit { breaker: self, generation, probe: false, settled: false }),
            Position::HalfOpen { in_flight, .. } if *in_flight < self.config.half_open_probes.max(1) => {
                *in_flight += 1;
                Ok(Permit { breaker: self, generation, probe: true, settled: false })
            }
            _ => {
                drop(inner);
                self.rejected_total.fetch_add(1, Ordering::Relaxed);
                // A probe is under way; its answer comes within one call's time.
                Err(BreakerOpen { retry_in: self.config.cool_down.min(Duration::from_secs(1)) })
            }
        }
    }

    /// [`CircuitBreaker::try_acquire`] for a call that outlives a borrow of the breaker (a
    /// stream handed to a caller, a spawned task): the permit holds the breaker itself.
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedPermit, BreakerOpen> {
        let mut permit = self.try_acquire()?;
        permit.settled = true;
        Ok(OwnedPermit { breaker: Arc::clone(self), generation: permit.generation, probe: permit.probe, settled: false })
    }

    /// The position right now (an open breaker whose cool-down is over reads as half-open).
    pub fn state(&self) -> BreakerState {
        self.snapshot().state
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let now = self.clock.now();
        let inner = self.lock();
        let (state, retry_in_ms) = match inner.position {
            Position::Closed => (BreakerState::Closed, None),
            Position::Open { until } if now < until => {
                (BreakerState::Open, Some(u64::try_from((until - now).as_millis()).unwrap_or(u64::MAX)))
            }
            Position::Open { .. } | Position::HalfOpen { .. } => (BreakerState::HalfOpen, None),
        };
        let calls = u32::try_from(inner.window.len()).unwrap_or(u32::MAX);
        BreakerSnapshot {
            name: self.name.clone(),
            state,
            calls_in_window: calls,
            failures_in_window: inner.failures_in_window,
            failure_rate: if calls == 0 { 0.0 } else { f64::from(inner.failures_in_window) / f64::from(calls) },
            consecutive_failures: inner.consecutive_failures,
            opened_total: self.opened_total.load(Ordering::Relaxed),
            rejected_total: self.rejected_total.load(Ordering::Relaxed),
            retry_in_ms,
        }
    }

    fn settle(&self, generation: u64, probe: bool, outcome: Option<bool>) {
        let now = self.clock.now();
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.generation != generation {
            return;
        }
        match (&mut inner.position, outcome) {
            (Position::Closed, Some(failed)) => {
                inner.window.push_back(failed);
                if failed {
                    inner.failures_in_window += 1;
                    inner.consecutive_failures += 1;
                } else {
                    inner.consecutive_failures = 0;
                }
                while inner.window.len() > self.config.window.max(1) as usize {
                    if inner.window.pop_front() == Some(true) {
                        inner.failures_in_window -= 1;
                    }
                }
                if failed && self.should_trip(inner) {
                    self.open(inner, now);
                }
            }
            (Position::HalfOpen { in_flight, successes }, outcome) if probe => {
                *in_flight = in_flight.saturating_sub(1);
                match outcome {
                    Some(true) => self.open(inner, now),
                    Some(false) => {
                        *successes += 1;
                        if *successes >= self.config.half_open_successes.max(1) {
                            inner.position = Position::Closed;
                            inner.generation += 1;
                            inner.window.clear();
                            inner.failures_in_window = 0;
                            inner.consecutive_failures = 0;
                        }
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    fn should_trip(&self, inner: &Inner) -> bool {
        let config = &self.config;
        if config.consecutive_failures > 0 && inner.consecutive_failures >= config.consecutive_failures {
            return true;
        }
        let calls = u32::try_from(inner.window.len()).unwrap_or(u32::MAX);
        calls >= config.minimum_calls.max(1) && f64::from(inner.failures_in_window) / f64::from(calls) >= config.failure_rate
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        inner.position = Position::Open { until: now + self.config.cool_down };
        inner.generation += 1;
        self.opened_total.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(breaker = %self.name, "circuit opened");
    }
}

impl IntegrationProbe for CircuitBreaker {
    fn status(&self) -> IntegrationStatus {
        let snap = self.snapshot();
        let (state, detail) = match snap.state {
            BreakerState::Closed => (IntegrationState::Ok, "circuit closed".to_owned()),
            BreakerState::HalfOpen => (IntegrationState::Degraded, "circuit half-open: probing".to_owned()),
            BreakerState::Open => {
                (IntegrationState::Degraded, format!("circuit open: calls held back for {} ms", snap.retry_in_ms.unwrap_or(0)))
            }
        };
        IntegrationStatus { name: self.name.clone(), state, detail }
    }
}

/// Leave to make one call. Record the outcome with [`Permit::success`] or [`Permit::failure`];
/// dropping it unrecorded (e.g. the call was cancelled, or failed for a reason that says nothing
/// about the remote side) frees its probe slot without counting.
#[must_use = "record the call's outcome on the permit"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    probe: bool,
    settled: bool,
}

impl std::fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("breaker", &self.breaker.name).field("probe", &self.probe).finish()
    }
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.settle(self.generation, self.probe, Some(false));
    }

    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.settle(self.generation, self.probe, Some(true));
    }

    /// Records `failed` (true = the remote side failed).
    pub fn record(self, failed: bool) {
        if failed { self.failure() } else { self.success() }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.generation, self.probe, None);
        }
    }
}

/// [`Permit`] holding its breaker: the same rules (record an outcome, or drop it unrecorded).
#[must_use = "record the call's outcome on the permit"]
pub struct OwnedPermit {
    breaker: Arc<CircuitBreaker>,
    generation: u64,
    probe: bool,
    settled: bool,
}

impl std::fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedPermit").field("breaker", &self.breaker.name).field("probe", &self.probe).finish()
    }
}

impl OwnedPermit {
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.settle(self.generation, self.probe, Some(false));
    }

    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.settle(self.generation, self.probe, Some(true));
    }

    /// Records `failed` (true = the remote side failed).
    pub fn record(self, failed: bool) {
        if failed { self.failure() } else { self.success() }
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.generation, self.probe, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn breaker(config: BreakerConfig) -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        (CircuitBreaker::with_clock("xero", config, clock.clone()), clock)
    }

    fn rate_only() -> BreakerConfig {
        BreakerConfig {
            window: 10,
            minimum_calls: 4,
            failure_rate: 0.5,
            consecutive_failures: 0,
            cool_down: Duration::from_secs(30),
            half_open_probes: 1,
            half_open_successes: 2,
        }
    }

    fn call(b: &CircuitBreaker, failed: bool) -> Result<(), BreakerOpen> {
        b.try_acquire().map(|p| p.record(failed))
    }

    #[test]
    fn stays_closed_below_the_minimum_number_of_calls_then_opens_on_the_failure_rate() {
        let (b, _) = breaker(rate_only());
        for _ in 0..3 {
            call(&b, true).expect("closed");
        }
        assert_eq!(b.state(), BreakerState::Closed, "3 calls < minimum 4");
        call(&b, true).expect("closed");
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.snapshot().opened_total, 1);
        let refused = b.try_acquire().expect_err("open refuses");
        assert_eq!(refused.retry_in, Duration::from_secs(30));
        assert_eq!(b.snapshot().rejected_total, 1);
    }

    #[test]
    fn the_window_slides_so_old_failures_are_forgotten() {
        let (b, _) = breaker(rate_only());
        // 4 failures would trip; interleave successes so the rate stays below 50%.
        for failed in [true, false, false, false, true, false, false, false, false, false, false] {
            call(&b, failed).expect("closed");
        }
        let snap = b.snapshot();
        assert_eq!(snap.calls_in_window, 10, "window holds the last 10 calls");
        assert_eq!(snap.failures_in_window, 1, "the first failure slid out");
        assert_eq!(snap.state, BreakerState::Closed);
    }

    #[test]
    fn consecutive_failures_trip_before_the_minimum_calls() {
        let (b, _) = breaker(BreakerConfig { consecutive_failures: 2, minimum_calls: 100, ..rate_only() });
        call(&b, true).expect("closed");
        call(&b, false).expect("closed");
        call(&b, true).expect("closed");
        assert_eq!(b.state(), BreakerState::Closed, "a success broke the run");
        call(&b, true).expect("closed");
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_limits_probes_and_closes_after_enough_successes() {
        let (b, clock) = breaker(BreakerConfig { consecutive_failures: 1, ..rate_only() });
        call(&b, true).expect("closed");
        clock.advance(Duration::from_secs(29));
        assert!(b.try_acquire().is_err(), "still cooling down");
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().expect("first probe");
        assert!(b.try_acquire().is_err(), "only one probe at a time");
        probe.success();
        assert_eq!(b.state(), BreakerState::HalfOpen, "two successes needed");
        call(&b, false).expect("second probe");
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.snapshot().calls_in_window, 0, "a closed breaker starts a fresh window");
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_cool_down() {
        let (b, clock) = breaker(BreakerConfig { consecutive_failures: 1, ..rate_only() });
        call(&b, true).expect("closed");
        clock.advance(Duration::from_secs(30));
        call(&b, true).expect("probe admitted");
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.snapshot().opened_total, 2);
        assert_eq!(b.try_acquire().expect_err("open").retry_in, Duration::from_secs(30));
    }

    #[test]
    fn a_dropped_probe_frees_its_slot_without_counting() {
        let (b, clock) = breaker(BreakerConfig { consecutive_failures: 1, ..rate_only() });
        call(&b, true).expect("closed");
        clock.advance(Duration::from_secs(30));
        drop(b.try_acquire().expect("probe"));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.try_acquire().expect("slot is free again").success();
    }

    #[test]
    fn late_outcomes_from_before_a_transition_are_ignored() {
        let (b, _) = breaker(BreakerConfig { consecutive_failures: 1, ..rate_only() });
        let slow = b.try_acquire().expect("closed");
        call(&b, true).expect("closed");
        assert_eq!(b.state(), BreakerState::Open);
        slow.success();
        assert_eq!(b.state(), BreakerState::Open, "a success admitted before opening does not close it");
    }

    #[test]
    fn an_owned_permit_counts_like_a_borrowed_one() {
        let clock = Arc::new(ManualClock::new());
        let config = BreakerConfig { consecutive_failures: 1, half_open_successes: 1, ..rate_only() };
        let b = Arc::new(CircuitBreaker::with_clock("llm", config, clock.clone()));
        let owned = b.try_acquire_owned().expect("closed");
        owned.failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire_owned().is_err(), "open refuses owned permits too");
        clock.advance(Duration::from_secs(30));
        drop(b.try_acquire_owned().expect("probe"));
        assert_eq!(b.state(), BreakerState::HalfOpen, "a dropped probe counts for nothing");
        b.try_acquire_owned().expect("probe slot free again").success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn the_probe_reports_degraded_while_open_and_never_fails() {
        let (b, clock) = breaker(BreakerConfig { consecutive_failures: 1, ..rate_only() });
        assert_eq!(b.status().state, IntegrationState::Ok);
        call(&b, true).expect("closed");
        let status = b.status();
        assert_eq!(status.state, IntegrationState::Degraded);
        assert_eq!(status.detail, "circuit open: calls held back for 30000 ms");
        assert_eq!(b.snapshot().state.as_gauge(), 2);
        clock.advance(Duration::from_secs(30));
        assert_eq!(b.status().detail, "circuit half-open: probing");
    }
}
