//! The LLM call path's deadline and circuit breakers, a layer around any [`LlmClient`]: every
//! call of a turn (attempts, the client's own retries, regenerations) ends by the turn's
//! deadline, a stream's first token and each next one arrive within the first-token deadline,
//! and a provider that times out, answers 5xx, breaks connections or garbles its answers has its
//! breaker opened, so later turns fall back to the grounded responder at once instead of waiting.
//! A 429 holds the provider back until its `Retry-After`: in-process, and through a
//! [`SharedHoldOff`] (Redis) when one is given, so every replica holds back.
//!
//! The breaker is `tria-integrations`' [`CircuitBreaker`] (the agent already depends on that
//! crate); one per provider, keyed by [`LlmRoute::key`] (`provider/model`, scoped to a tenant
//! for its own endpoint). A tenant's failover list is `llm_failover.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;
use tria_integrations::resilience::{BreakerConfig, BreakerSnapshot, BreakerState, CircuitBreaker, OwnedPermit};
use tria_integrations::{IntegrationProbe, IntegrationState, IntegrationStatus};
use tria_llm::{Completion, CompletionRequest, LlmClient, LlmError, LlmStream, SharedHoldOff, StreamEvent};

use crate::generation::{GenerationError, LlmRoute};

/// Time kept after the model gives up for what follows it (the grounded reply is already
/// composed; tone and persistence remain), so the turn still ends by its deadline.
pub const FALLBACK_MARGIN: Duration = Duration::from_millis(150);
/// How long a 429 without `Retry-After` holds a provider back.
const DEFAULT_HOLD: Duration = Duration::from_secs(1);

/// How long a turn may wait for its LLM and when a provider's breaker trips.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmResilience {
    /// The whole turn, from its start to the reply: every LLM call ends [`FALLBACK_MARGIN`]
    /// before it, and the grounded responder answers.
    pub turn_deadline: Duration,
    /// A stream's first token, and each next one, must come within this (and the turn deadline).
    pub first_token_deadline: Duration,
    /// One breaker per provider with this configuration.
    pub breaker: BreakerConfig,
}

impl Default for LlmResilience {
    fn default() -> Self {
        Self {
            turn_deadline: Duration::from_secs(8),
            first_token_deadline: Duration::from_secs(3),
            breaker: BreakerConfig {
                window: 20,
                minimum_calls: 10,
                failure_rate: 0.5,
                consecutive_failures: 3,
                cool_down: Duration::from_secs(10),
                half_open_probes: 1,
                half_open_successes: 1,
            },
        }
    }
}

/// Why the grounded responder answered instead of a configured LLM (the `reason` label of
/// `llm_fallbacks_total` and `usage.fallback` of the reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// The turn's deadline (or a stream's first-token deadline) came first.
    Deadline,
    /// The provider's breaker was open: not called.
    CircuitOpen,
    /// The provider answered 429, or is held back until its `Retry-After`.
    RateLimited,
    /// Any other failure of the call (5xx, connection, unreadable answer).
    LlmError,
    /// The model answered, but no reply passed the checks (grounding, leaks).
    Rejected,
}

impl FallbackReason {
    pub const ALL: [FallbackReason; 5] = [
        FallbackReason::Deadline,
        FallbackReason::CircuitOpen,
        FallbackReason::RateLimited,
        FallbackReason::LlmError,
        FallbackReason::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FallbackReason::Deadline => "deadline",
            FallbackReason::CircuitOpen => "circuit_open",
            FallbackReason::RateLimited => "rate_limited",
            FallbackReason::LlmError => "llm_error",
            FallbackReason::Rejected => "rejected",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn of_llm(error: &LlmError) -> Self {
        match error {
            LlmError::Timeout => FallbackReason::Deadline,
            LlmError::CircuitOpen { .. } => FallbackReason::CircuitOpen,
            LlmError::RateLimited { .. } => FallbackReason::RateLimited,
            _ => FallbackReason::LlmError,
        }
    }
}

impl GenerationError {
    /// The reason counted when this error makes the grounded responder answer.
    pub(crate) fn fallback_reason(&self) -> FallbackReason {
        match self {
            GenerationError::Llm(e) | GenerationError::Stream(e) => FallbackReason::of_llm(e),
            GenerationError::StreamedSentence(_) | GenerationError::Rejected(_) => FallbackReason::Rejected,
            GenerationError::Prompt(_) | GenerationError::NoAttempt => FallbackReason::LlmError,
        }
    }

    /// Whether the model answered and only its reply was refused (worth regenerating), as
    /// opposed to the provider failing (not worth waiting for again in the same turn).
    pub(crate) fn is_rejection(&self) -> bool {
        self.fallback_reason() == FallbackReason::Rejected
    }
}

/// Whether the grounded responder wrote this reply because the provider failed or was held
/// back (not because the model's reply was refused): such a reply is not cached.
pub(crate) fn stood_in_for_outage(usage: &tria_core::ReplyUsage) -> bool {
    usage.fallback.as_deref().is_some_and(|reason| reason != FallbackReason::Rejected.as_str())
}

/// Whether `error` says the provider is unwell (counts against its breaker). A 4xx is the
/// request's fault and a 429 is a hold-off, not a failure.
fn provider_failed(error: &LlmError) -> bool {
    match error {
        LlmError::Timeout | LlmError::Connection(_) | LlmError::Malformed(_) => true,
        LlmError::Upstream { status, .. } => *status >= 500 || *status == 408,
        LlmError::RateLimited { .. } | LlmError::Cancelled | LlmError::CircuitOpen { .. } => false,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One provider's breaker, 429 hold-off and last failure.
pub(crate) struct Provider {
    /// Its [`LlmRoute::key`].
    key: String,
    breaker: Arc<CircuitBreaker>,
    held_until: Mutex<Option<Instant>>,
    last_failure: Mutex<Option<&'static str>>,
}

impl Provider {
    /// Leave to call now, or the error the caller falls back on without calling: held back by
    /// this process's record of a 429, then (when shared) by another replica's, then the breaker.
    async fn admit(&self, deadline: Instant, shared: Option<&Arc<dyn SharedHoldOff>>) -> Result<OwnedPermit, LlmError> {
        if let Some(left) = self.held_back_for() {
            return Err(LlmError::RateLimited { retry_after: Some(left) });
        }
        if Instant::now() >= deadline {
            return Err(LlmError::Timeout);
        }
        if let Some(shared) = shared {
            match tokio::time::timeout_at(deadline, shared.held_for(&self.key)).await {
                Ok(Ok(Some(left))) => {
                    self.hold(left);
                    return Err(LlmError::RateLimited { retry_after: Some(left) });
                }
                Ok(Ok(None)) => {}
                Ok(Err(error)) => {
                    tracing::debug!(provider = %self.key, %error, "shared 429 hold-off unreadable; this replica's own applies")
                }
                Err(_) => return Err(LlmError::Timeout),
            }
        }
        self.breaker.try_acquire_owned().map_err(|open| LlmError::CircuitOpen { retry_in: open.retry_in })
    }

    /// Holds this provider back in this process for `duration` (a longer hold stays).
    fn hold(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut held = lock(&self.held_until);
        *held = Some(held.map_or(until, |h| h.max(until)));
    }

    /// Tells the other replicas of a 429 (after [`Provider::settle`] has held this one back).
    async fn share(&self, outcome: Result<(), &LlmError>, shared: Option<&Arc<dyn SharedHoldOff>>) {
        if let (Some(shared), Err(LlmError::RateLimited { retry_after })) = (shared, outcome)
            && let Err(error) = shared.hold(&self.key, retry_after.unwrap_or(DEFAULT_HOLD)).await
        {
            tracing::debug!(provider = %self.key, %error, "429 hold-off not shared; only this replica holds back");
        }
    }

    /// Records how a call admitted with `permit` ended.
    fn settle(&self, permit: OwnedPermit, outcome: Result<(), &LlmError>) {
        match outcome {
            Ok(()) => permit.success(),
            Err(LlmError::RateLimited { retry_after }) => self.hold(retry_after.unwrap_or(DEFAULT_HOLD)),
            Err(error) if provider_failed(error) => {
                *lock(&self.last_failure) = Some(error.kind());
                permit.failure();
            }
            Err(_) => drop(permit),
        }
    }

    fn held_back_for(&self) -> Option<Duration> {
        lock(&self.held_until).and_then(|until| until.checked_duration_since(Instant::now())).filter(|d| !d.is_zero())
    }

    fn status(&self) -> LlmProviderStatus {
        LlmProviderStatus {
            provider: self.key.clone(),
            breaker: self.breaker.snapshot(),
            held_back_ms: self.held_back_for().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
            last_failure: *lock(&self.last_failure),
        }
    }
}

/// One provider as `/health`, `/admin/integrations` and `/metrics` show it.
#[derive(Clone, Debug, Serialize)]
pub struct LlmProviderStatus {
    /// The key of its breaker ([`LlmRoute::key`]: `provider/model`, maybe `tenant:` first).
    pub provider: String,
    pub breaker: BreakerSnapshot,
    /// Time left of a 429's hold-off.
    pub held_back_ms: Option<u64>,
    /// The kind of the last failure counted against the breaker (`timeout`, `upstream`, …).
    pub last_failure: Option<&'static str>,
}

impl LlmProviderStatus {
    /// `ok` closed and not held back, else `degraded` with why.
    pub fn integration_status(&self) -> IntegrationStatus {
        let name = format!("llm:{}", self.provider);
        let last = self.last_failure.map(|k| format!(" (last failure: {k})")).unwrap_or_default();
        let (state, detail) = match (self.breaker.state, self.held_back_ms) {
            (BreakerState::Open, _) => (
                IntegrationState::Degraded,
                format!("circuit open: the grounded responder answers for {} ms{last}", self.breaker.retry_in_ms.unwrap_or(0)),
            ),
            (BreakerState::HalfOpen, _) => (IntegrationState::Degraded, format!("circuit half-open: probing{last}")),
            (BreakerState::Closed, Some(ms)) => (IntegrationState::Degraded, format!("rate-limited (429): held back for {ms} ms")),
            (BreakerState::Closed, None) => (IntegrationState::Ok, "circuit closed".to_owned()),
        };
        IntegrationStatus { name, state, detail }
    }
}

/// The breakers of every provider the agent has called and the fallbacks counted, shared by
/// every turn. A probe for `/health`: `llm` is degraded while any provider is held back.
pub struct LlmGuard {
    config: LlmResilience,
    /// Where 429 hold-offs are shared with other replicas (Redis), if anywhere.
    shared: Option<Arc<dyn SharedHoldOff>>,
    providers: Mutex<BTreeMap<String, Arc<Provider>>>,
    fallbacks: [AtomicU64; FallbackReason::ALL.len()],
}

impl std::fmt::Debug for LlmGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmGuard").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Default for LlmGuard {
    fn default() -> Self {
        Self::new(LlmResilience::default())
    }
}

impl LlmGuard {
    pub fn new(config: LlmResilience) -> Self {
        Self { config, shared: None, providers: Mutex::default(), fallbacks: Default::default() }
    }

    /// Shares 429 hold-offs through `store`: read before each call, written after a 429.
    pub fn with_shared_hold_off(mut self, store: Option<Arc<dyn SharedHoldOff>>) -> Self {
        self.shared = store;
        self
    }

    /// The store 429 hold-offs are shared through, if any.
    pub fn shared_hold_off(&self) -> Option<Arc<dyn SharedHoldOff>> {
        self.shared.clone()
    }

    pub fn config(&self) -> &LlmResilience {
        &self.config
    }

    fn provider(&self, key: &str) -> Arc<Provider> {
        let mut providers = lock(&self.providers);
        if let Some(p) = providers.get(key) {
            return p.clone();
        }
        let provider = Arc::new(Provider {
            key: key.to_owned(),
            breaker: Arc::new(CircuitBreaker::new(format!("llm:{key}"), self.config.breaker.clone())),
            held_until: Mutex::new(None),
            last_failure: Mutex::new(None),
        });
        providers.insert(key.to_owned(), provider.clone());
        provider
    }

    /// The turn's deadline for LLM calls when the turn began at `started`.
    pub fn llm_deadline(&self, started: std::time::Instant) -> std::time::Instant {
        started + self.config.turn_deadline.saturating_sub(FALLBACK_MARGIN)
    }

    /// `client` for one turn begun at `started`: behind its provider's breaker (keyed
    /// `provider/model`), every call ending by the turn's deadline.
    pub fn guard(&self, client: Arc<dyn LlmClient>, started: std::time::Instant) -> Arc<dyn LlmClient> {
        self.guard_routes(&[LlmRoute::new(client)], started)
    }

    /// `routes` for one turn begun at `started`, each behind its own breaker and hold-off, in
    /// failover order (see `llm_failover.rs`); every call ends by the turn's deadline.
    pub fn guard_routes(&self, routes: &[LlmRoute], started: std::time::Instant) -> Arc<dyn LlmClient> {
        let deadline = Instant::from_std(self.llm_deadline(started));
        let mut guarded: Vec<GuardedLlm> = routes
            .iter()
            .map(|route| GuardedLlm {
                inner: route.client.clone(),
                provider: self.provider(&route.key),
                shared: self.shared.clone(),
                deadline,
                open_by: None,
                first_token: self.config.first_token_deadline,
            })
            .collect();
        match guarded.len() {
            1 => Arc::new(guarded.remove(0)),
            _ => Arc::new(crate::llm_failover::FailoverLlm::new(guarded)),
        }
    }

    /// The state of the provider kept under `key`, if it has been called.
    pub fn provider_status(&self, key: &str) -> Option<LlmProviderStatus> {
        let provider = lock(&self.providers).get(key).cloned()?;
        Some(provider.status())
    }

    pub(crate) fn record_fallback(&self, reason: FallbackReason) {
        self.fallbacks[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Turns the grounded responder answered instead of the LLM, per reason, since start.
    pub fn fallbacks(&self) -> Vec<(FallbackReason, u64)> {
        FallbackReason::ALL.iter().map(|r| (*r, self.fallbacks[r.index()].load(Ordering::Relaxed))).collect()
    }

    /// Every provider called so far, by key.
    pub fn providers(&self) -> Vec<LlmProviderStatus> {
        let providers: Vec<(String, Arc<Provider>)> = lock(&self.providers).iter().map(|(k, p)| (k.clone(), p.clone())).collect();
        providers.into_iter().map(|(_, p)| p.status()).collect()
    }
}

impl IntegrationProbe for LlmGuard {
    /// `llm`: the worst of the providers, naming each that is not ok.
    fn status(&self) -> IntegrationStatus {
        let statuses: Vec<IntegrationStatus> = self.providers().iter().map(LlmProviderStatus::integration_status).collect();
        let unwell: Vec<String> =
            statuses.iter().filter(|s| s.state != IntegrationState::Ok).map(|s| format!("{}: {}", s.name, s.detail)).collect();
        if unwell.is_empty() {
            let detail =
                if statuses.is_empty() { "no calls yet".to_owned() } else { format!("{} provider(s), circuits closed", statuses.len()) };
            IntegrationStatus { name: "llm".into(), state: IntegrationState::Ok, detail }
        } else {
            IntegrationStatus { name: "llm".into(), state: IntegrationState::Degraded, detail: unwell.join("; ") }
        }
    }

    fn statuses(&self) -> Vec<IntegrationStatus> {
        self.providers().iter().map(LlmProviderStatus::integration_status).collect()
    }
}

/// An [`LlmClient`] for one turn: its provider's breaker and hold-off decide whether to call,
/// and every call ends by the turn's deadline.
#[derive(Clone)]
pub(crate) struct GuardedLlm {
    inner: Arc<dyn LlmClient>,
    provider: Arc<Provider>,
    shared: Option<Arc<dyn SharedHoldOff>>,
    deadline: Instant,
    /// A failover entry with another after it: a whole answer, or a stream's first token, by
    /// this (so the next one still has time), else the call counts as timed out.
    open_by: Option<Instant>,
    first_token: Duration,
}

impl GuardedLlm {
    /// The turn's deadline for every call.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The provider key (for logs).
    pub(crate) fn key(&self) -> &str {
        &self.provider.key
    }

    /// This entry, made to answer (or open its stream) by `by`.
    pub(crate) fn opening_by(&self, by: Instant) -> Self {
        Self { open_by: Some(by.min(self.deadline)), ..self.clone() }
    }
}

#[async_trait]
impl LlmClient for GuardedLlm {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let deadline = self.open_by.map_or(self.deadline, |by| by.min(self.deadline));
        let permit = self.provider.admit(deadline, self.shared.as_ref()).await?;
        // The client's own attempts and retries fit the time left (and give up early on a
        // `Retry-After` past it); the timeout here bounds clients that do not honour it.
        let request = request.clone().with_deadline(deadline.into_std());
        let result = tokio::time::timeout_at(deadline, self.inner.complete(&request)).await.unwrap_or(Err(LlmError::Timeout));
        self.provider.settle(permit, result.as_ref().map(|_| ()));
        self.provider.share(result.as_ref().map(|_| ()), self.shared.as_ref()).await;
        result
    }

    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        let mut first_by = self.deadline.min(Instant::now() + self.first_token);
        if let Some(by) = self.open_by {
            first_by = first_by.min(by);
        }
        let permit = self.provider.admit(first_by, self.shared.as_ref()).await?;
        let request = request.clone().with_deadline(first_by.into_std());
        let opened = tokio::time::timeout_at(first_by, self.inner.stream(&request)).await.unwrap_or(Err(LlmError::Timeout));
        let inner = match opened {
            Ok(stream) => stream,
            Err(error) => {
                self.provider.settle(permit, Err(&error));
                self.provider.share(Err(&error), self.shared.as_ref()).await;
                return Err(error);
            }
        };
        let watch = Watch {
            inner,
            permit: Some(permit),
            provider: self.provider.clone(),
            next_by: first_by,
            deadline: self.deadline,
            stall: self.first_token,
        };
        Ok(Box::pin(futures::stream::unfold(watch, Watch::next)))
    }
}

/// A stream under watch: each event must come by `next_by` (the first-token deadline, then the
/// stall limit after each event, never past the turn's deadline); a late one ends it with
/// [`LlmError::Timeout`]. The outcome settles the breaker permit: `Done` a success, an error by
/// its kind; a stream dropped early (the caller stopped reading) counts for nothing.
struct Watch {
    inner: LlmStream,
    permit: Option<OwnedPermit>,
    provider: Arc<Provider>,
    next_by: Instant,
    deadline: Instant,
    stall: Duration,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<StreamEvent, LlmError>, Self)> {
        // After an error or `Done` the permit is gone: the stream has ended.
        let permit = self.permit.take()?;
        let event =
            tokio::time::timeout_at(self.next_by.min(self.deadline), self.inner.next()).await.unwrap_or(Some(Err(LlmError::Timeout)));
        match event {
            None => {
                drop(permit);
                None
            }
            Some(Ok(StreamEvent::Done { usage, finish_reason })) => {
                self.provider.settle(permit, Ok(()));
                Some((Ok(StreamEvent::Done { usage, finish_reason }), self))
            }
            Some(Ok(event)) => {
                self.permit = Some(permit);
                self.next_by = Instant::now() + self.stall;
                Some((Ok(event), self))
            }
            Some(Err(error)) => {
                self.provider.settle(permit, Err(&error));
                Some((Err(error), self))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use tria_llm::{ChatMessage, Usage};

    use super::*;

    /// What the fake provider does with each call, in order (then answers).
    #[derive(Clone)]
    enum Act {
        Answer,
        Hang,
        Fail(LlmError),
        /// Streams one delta, then never sends another.
        StallAfterOne,
    }

    struct Scripted {
        acts: Mutex<VecDeque<Act>>,
        calls: AtomicU64,
    }

    impl Scripted {
        fn new(acts: impl IntoIterator<Item = Act>) -> Arc<Self> {
            Arc::new(Self { acts: Mutex::new(acts.into_iter().collect()), calls: AtomicU64::new(0) })
        }

        fn next(&self) -> Act {
            self.calls.fetch_add(1, Ordering::SeqCst);
            lock(&self.acts).pop_front().unwrap_or(Act::Answer)
        }

        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    fn completion() -> Completion {
        Completion { text: "ok".into(), model: "m".into(), usage: usage(), finish_reason: Some("stop".into()), attempts: 1 }
    }

    fn usage() -> Usage {
        Usage::reported(1, 1, 0)
    }

    #[async_trait]
    impl LlmClient for Scripted {
        fn model(&self) -> &str {
            "m"
        }

        async fn complete(&self, _: &CompletionRequest) -> Result<Completion, LlmError> {
            match self.next() {
                Act::Answer | Act::StallAfterOne => Ok(completion()),
                Act::Hang => futures::future::pending().await,
                Act::Fail(e) => Err(e),
            }
        }

        async fn stream(&self, _: &CompletionRequest) -> Result<LlmStream, LlmError> {
            match self.next() {
                Act::Answer => Ok(Box::pin(futures::stream::iter([
                    Ok(StreamEvent::Delta("ok".into())),
                    Ok(StreamEvent::Done { usage: usage(), finish_reason: None }),
                ]))),
                Act::StallAfterOne => {
                    Ok(Box::pin(futures::stream::iter([Ok(StreamEvent::Delta("Returns ".into()))]).chain(futures::stream::pending())))
                }
                Act::Hang => futures::future::pending().await,
                Act::Fail(e) => Err(e),
            }
        }
    }

    fn request() -> CompletionRequest {
        CompletionRequest::new(vec![ChatMessage::user("hi")])
    }

    fn guard(consecutive_failures: u32) -> LlmGuard {
        LlmGuard::new(LlmResilience {
            turn_deadline: Duration::from_millis(400),
            first_token_deadline: Duration::from_millis(100),
            breaker: BreakerConfig {
                consecutive_failures,
                minimum_calls: 100,
                cool_down: Duration::from_millis(300),
                ..LlmResilience::default().breaker
            },
        })
    }

    fn state(guard: &LlmGuard) -> BreakerState {
        guard.providers()[0].breaker.state
    }

    #[tokio::test]
    async fn a_hung_provider_times_out_at_the_deadline_and_opens_the_breaker() {
        let fake = Scripted::new([Act::Hang, Act::Hang]);
        let guard = guard(2);
        for _ in 0..2 {
            let llm = guard.guard(fake.clone(), Instant::now().into_std());
            assert_eq!(llm.complete(&request()).await, Err(LlmError::Timeout));
        }
        assert_eq!(state(&guard), BreakerState::Open);
        let status = guard.status();
        assert_eq!(status.state, IntegrationState::Degraded);
        assert!(
            status.detail.contains("llm:unknown/m: circuit open") && status.detail.contains("last failure: timeout"),
            "{}",
            status.detail
        );
        let refused = guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        assert!(matches!(refused, Err(LlmError::CircuitOpen { .. })), "{refused:?}");
        assert_eq!(fake.calls(), 2, "an open breaker does not call the provider");
    }

    #[tokio::test]
    async fn after_the_cool_down_one_probe_closes_it_again() {
        let fake = Scripted::new([Act::Fail(LlmError::Upstream { status: 503, message: String::new() })]);
        let guard = guard(1);
        let failed = guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        assert!(matches!(failed, Err(LlmError::Upstream { status: 503, .. })));
        assert_eq!(state(&guard), BreakerState::Open);
        tokio::time::sleep(Duration::from_millis(320)).await;
        assert_eq!(state(&guard), BreakerState::HalfOpen);
        guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await.expect("the probe answers");
        assert_eq!(state(&guard), BreakerState::Closed);
        assert_eq!(guard.status().state, IntegrationState::Ok);
    }

    #[tokio::test]
    async fn client_errors_and_429s_do_not_trip_the_breaker_but_a_429_holds_the_provider_back() {
        let fake = Scripted::new([
            Act::Fail(LlmError::Upstream { status: 400, message: String::new() }),
            Act::Fail(LlmError::RateLimited { retry_after: Some(Duration::from_millis(200)) }),
        ]);
        let guard = guard(1);
        let _ = guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        let _ = guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        assert_eq!(state(&guard), BreakerState::Closed);
        let held = guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        assert!(matches!(held, Err(LlmError::RateLimited { retry_after: Some(_) })), "{held:?}");
        assert_eq!(fake.calls(), 2, "held back: not called");
        assert!(guard.status().detail.contains("rate-limited (429)"), "{}", guard.status().detail);
        tokio::time::sleep(Duration::from_millis(220)).await;
        guard.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await.expect("the hold-off is over");
    }

    #[tokio::test]
    async fn a_stream_that_stalls_ends_with_a_timeout_and_counts_as_a_failure() {
        let fake = Scripted::new([Act::StallAfterOne]);
        let guard = guard(1);
        let mut stream = guard.guard(fake.clone(), Instant::now().into_std()).stream(&request()).await.expect("opens");
        assert_eq!(stream.next().await, Some(Ok(StreamEvent::Delta("Returns ".into()))));
        assert_eq!(stream.next().await, Some(Err(LlmError::Timeout)));
        assert_eq!(stream.next().await, None, "ended after the error");
        assert_eq!(state(&guard), BreakerState::Open);
    }

    #[tokio::test]
    async fn no_first_token_in_time_is_a_timeout_and_a_finished_stream_a_success() {
        let fake = Scripted::new([Act::Hang, Act::Answer]);
        let guard = guard(2);
        let hung = guard.guard(fake.clone(), Instant::now().into_std()).stream(&request()).await;
        assert!(matches!(hung, Err(LlmError::Timeout)));
        let events: Vec<_> = guard.guard(fake.clone(), Instant::now().into_std()).stream(&request()).await.expect("opens").collect().await;
        assert_eq!(events.len(), 2);
        assert_eq!(guard.providers()[0].breaker.consecutive_failures, 0, "the success reset the run");
    }

    /// Hold-offs in one map, as Redis would be for two replicas.
    #[derive(Default)]
    struct SharedMap(Mutex<BTreeMap<String, Instant>>);

    #[async_trait]
    impl SharedHoldOff for SharedMap {
        async fn held_for(&self, key: &str) -> Result<Option<Duration>, tria_llm::HoldOffError> {
            Ok(lock(&self.0).get(key).and_then(|until| until.checked_duration_since(Instant::now())))
        }

        async fn hold(&self, key: &str, duration: Duration) -> Result<(), tria_llm::HoldOffError> {
            lock(&self.0).insert(key.to_owned(), Instant::now() + duration);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_429_seen_by_one_replica_holds_back_another_sharing_the_store() {
        let shared: Arc<dyn SharedHoldOff> = Arc::new(SharedMap::default());
        let one = guard(1).with_shared_hold_off(Some(shared.clone()));
        let two = guard(1).with_shared_hold_off(Some(shared.clone()));
        let fake = Scripted::new([Act::Fail(LlmError::RateLimited { retry_after: Some(Duration::from_millis(200)) })]);
        let _ = one.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        assert!(shared.held_for("unknown/m").await.expect("read").is_some(), "written to the shared store");
        let held = two.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await;
        assert!(matches!(held, Err(LlmError::RateLimited { retry_after: Some(_) })), "{held:?}");
        assert_eq!(fake.calls(), 1, "the second replica did not call");
        assert!(two.status().detail.contains("rate-limited (429)"), "and shows it: {}", two.status().detail);
        tokio::time::sleep(Duration::from_millis(220)).await;
        two.guard(fake.clone(), Instant::now().into_std()).complete(&request()).await.expect("the hold-off is over");
    }

    #[tokio::test]
    async fn a_turn_past_its_deadline_does_not_call() {
        let fake = Scripted::new([]);
        let guard = guard(1);
        let long_ago = std::time::Instant::now() - Duration::from_secs(1);
        assert_eq!(guard.guard(fake.clone(), long_ago).complete(&request()).await, Err(LlmError::Timeout));
        assert_eq!(fake.calls(), 0);
        guard.record_fallback(FallbackReason::Deadline);
        assert_eq!(guard.fallbacks()[0], (FallbackReason::Deadline, 1));
    }
}
