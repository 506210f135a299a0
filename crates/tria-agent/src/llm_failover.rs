//! A tenant's failover list for one turn: its LLMs in order, each behind its own breaker and
//! 429 hold-off ([`GuardedLlm`]). The first is asked; the next one is asked when the one before
//! is held back (breaker open, 429 hold-off, here or on another replica) or fails — refused,
//! 5xx, a broken or refused connection, an unreadable answer, or no answer within its share of
//! the time left. Every entry but the last gets at most `time left / entries left`, so a hung
//! first provider still leaves the next one time; the turn's deadline bounds them all.
//!
//! A stream fails over until its first token: the first event is awaited here, and an error or
//! a silence past the entry's first-token time asks the next entry. After a token has reached
//! the customer a failure ends the stream as it would without failover.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use tokio::time::Instant;
use tria_llm::{Completion, CompletionRequest, LlmClient, LlmError, LlmStream};

use crate::llm_guard::GuardedLlm;

/// The guarded entries of one turn, in failover order (at least two).
pub(crate) struct FailoverLlm {
    entries: Vec<GuardedLlm>,
    /// The entry that answered last (its model and provider are reported, so the reply is
    /// priced at the model that wrote it).
    answered: AtomicUsize,
}

impl FailoverLlm {
    pub(crate) fn new(entries: Vec<GuardedLlm>) -> Self {
        assert!(!entries.is_empty(), "a failover list has an entry");
        Self { entries, answered: AtomicUsize::new(0) }
    }

    fn current(&self) -> &GuardedLlm {
        &self.entries[self.answered.load(Ordering::Relaxed).min(self.entries.len() - 1)]
    }

    /// Entry `index` as it is to be asked now: the last one with the turn's time left, any
    /// other with its share; `None` when the turn's deadline has passed.
    fn entry_now(&self, index: usize) -> Option<GuardedLlm> {
        let entry = &self.entries[index];
        let now = Instant::now();
        let left = entry.deadline().checked_duration_since(now).filter(|d| !d.is_zero())?;
        let entries_left = u32::try_from(self.entries.len() - index).unwrap_or(u32::MAX);
        Some(if entries_left <= 1 { entry.clone() } else { entry.opening_by(now + left / entries_left) })
    }

    /// Whether `error` from entry `index` sends the turn to the next entry.
    fn fails_over(&self, index: usize, error: &LlmError) -> bool {
        let next = index + 1 < self.entries.len();
        if next && *error != LlmError::Cancelled {
            if *error == LlmError::Timeout {
                // Cut by its share of the turn, not dropped by the caller: the ledger says so.
                tria_llm::observe::mark_last_call_timed_out();
            }
            tracing::info!(from = self.entries[index].key(), to = self.entries[index + 1].key(), error = error.kind(), "llm failover");
            return true;
        }
        false
    }
}

#[async_trait]
impl LlmClient for FailoverLlm {
    fn model(&self) -> &str {
        self.current().model()
    }

    fn provider(&self) -> &str {
        self.current().provider()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let mut last = LlmError::Timeout;
        for index in 0..self.entries.len() {
            let Some(entry) = self.entry_now(index) else { break };
            match entry.complete(request).await {
                Ok(completion) => {
                    self.answered.store(index, Ordering::Relaxed);
                    return Ok(completion);
                }
                Err(error) if self.fails_over(index, &error) => last = error,
                Err(error) => return Err(error),
            }
        }
        Err(last)
    }

    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        let mut last = LlmError::Timeout;
        for index in 0..self.entries.len() {
            let Some(entry) = self.entry_now(index) else { break };
            // The guard ends a silent stream by the entry's first-token time with a timeout.
            let first = match entry.stream(request).await {
                Ok(mut stream) => match stream.next().await {
                    Some(Ok(event)) => Ok((event, stream)),
                    Some(Err(error)) => Err(error),
                    None => Err(LlmError::Malformed("the stream ended before its first event".into())),
                },
                Err(error) => Err(error),
            };
            match first {
                Ok((event, rest)) => {
                    self.answered.store(index, Ordering::Relaxed);
                    return Ok(Box::pin(futures::stream::iter([Ok(event)]).chain(rest)));
                }
                Err(error) if self.fails_over(index, &error) => last = error,
                Err(error) => return Err(error),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tria_integrations::resilience::{BreakerConfig, BreakerState};
    use tria_llm::{ChatMessage, StreamEvent, Usage};

    use super::*;
    use crate::generation::LlmRoute;
    use crate::llm_guard::{LlmGuard, LlmResilience};

    /// How a fake provider behaves on every call.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Answer,
        Hang,
        Refuse,
    }

    struct Fake {
        model: &'static str,
        mode: Mutex<Mode>,
        calls: AtomicU64,
    }

    impl Fake {
        fn new(model: &'static str, mode: Mode) -> Arc<Self> {
            Arc::new(Self { model, mode: Mutex::new(mode), calls: AtomicU64::new(0) })
        }

        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }

        async fn act(&self) -> Result<(), LlmError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mode = *self.mode.lock().expect("lock");
            match mode {
                Mode::Answer => Ok(()),
                Mode::Hang => futures::future::pending().await,
                Mode::Refuse => Err(LlmError::Connection("connection refused".into())),
            }
        }
    }

    #[async_trait]
    impl LlmClient for Fake {
        fn model(&self) -> &str {
            self.model
        }

        fn provider(&self) -> &str {
            "openai"
        }

        async fn complete(&self, _: &CompletionRequest) -> Result<Completion, LlmError> {
            self.act().await?;
            Ok(Completion {
                text: self.model.into(),
                model: self.model.into(),
                usage: Usage::reported(1, 1, 0),
                finish_reason: None,
                attempts: 1,
            })
        }

        async fn stream(&self, _: &CompletionRequest) -> Result<LlmStream, LlmError> {
            self.act().await?;
            Ok(Box::pin(futures::stream::iter([
                Ok(StreamEvent::Delta(self.model.into())),
                Ok(StreamEvent::Done { usage: Usage::reported(1, 1, 0), finish_reason: None }),
            ])))
        }
    }

    fn guard() -> LlmGuard {
        LlmGuard::new(LlmResilience {
            turn_deadline: Duration::from_millis(800),
            first_token_deadline: Duration::from_millis(600),
            breaker: BreakerConfig { consecutive_failures: 2, minimum_calls: 100, ..LlmResilience::default().breaker },
        })
    }

    fn routes(fakes: &[&Arc<Fake>]) -> Vec<LlmRoute> {
        fakes.iter().map(|f| LlmRoute::new((*f).clone())).collect()
    }

    fn request() -> CompletionRequest {
        CompletionRequest::new(vec![ChatMessage::user("hi")])
    }

    #[tokio::test]
    async fn a_refused_first_provider_fails_over_and_once_its_breaker_opens_it_is_skipped() {
        let (down, up) = (Fake::new("first", Mode::Refuse), Fake::new("second", Mode::Answer));
        let guard = guard();
        for turn in 0..3 {
            let llm = guard.guard_routes(&routes(&[&down, &up]), std::time::Instant::now());
            let answer = llm.complete(&request()).await.expect("the second answers");
            assert_eq!((answer.text.as_str(), llm.model()), ("second", "second"), "turn {turn}: priced at the model that wrote it");
        }
        assert_eq!(down.calls(), 2, "open after two failures: not called on the third turn");
        assert_eq!(guard.provider_status("openai/first").expect("called").breaker.state, BreakerState::Open);
        assert_eq!(guard.provider_status("openai/second").expect("called").breaker.state, BreakerState::Closed);
    }

    #[tokio::test]
    async fn a_hung_first_provider_leaves_the_next_its_share_of_the_turn() {
        let (hung, up) = (Fake::new("first", Mode::Hang), Fake::new("second", Mode::Answer));
        let guard = guard();
        let llm = guard.guard_routes(&routes(&[&hung, &up]), std::time::Instant::now());
        let answer = llm.complete(&request()).await.expect("the second answers within the turn");
        assert_eq!(answer.text, "second");
        let events: Vec<_> = guard
            .guard_routes(&routes(&[&hung, &up]), std::time::Instant::now())
            .stream(&request())
            .await
            .expect("the second's stream")
            .collect()
            .await;
        assert_eq!(events.first(), Some(&Ok(StreamEvent::Delta("second".into()))), "{events:?}");
        assert_eq!(guard.provider_status("openai/first").expect("called").last_failure, Some("timeout"));
    }

    #[tokio::test]
    async fn the_last_error_is_returned_when_every_entry_fails_and_a_healthy_first_is_used_alone() {
        let (a, b) = (Fake::new("a", Mode::Refuse), Fake::new("b", Mode::Refuse));
        let guard = guard();
        let failed = guard.guard_routes(&routes(&[&a, &b]), std::time::Instant::now()).complete(&request()).await;
        assert!(matches!(failed, Err(LlmError::Connection(_))), "{failed:?}");
        let (first, second) = (Fake::new("c", Mode::Answer), Fake::new("d", Mode::Answer));
        let llm = guard.guard_routes(&routes(&[&first, &second]), std::time::Instant::now());
        assert_eq!(llm.complete(&request()).await.expect("answers").text, "c");
        assert_eq!((first.calls(), second.calls()), (1, 0));
    }
}
