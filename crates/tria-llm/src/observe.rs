//! Watching LLM calls from outside: [`ObservedLlm`] wraps any [`LlmClient`] and reports every
//! call (model, outcome, latency, tokens, dollars) to an [`LlmObserver`] — the server turns
//! these into Prometheus series and spend-budget records. Who the call was for is not part of
//! a [`CompletionRequest`]; the caller names it once per request with [`with_call_context`]
//! (a task-local), so the layers between (agent, generation retries) need not pass it along.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::{Completion, CompletionRequest, LlmClient, LlmError, LlmStream, PriceTable, StreamEvent, Usage};

/// Who an LLM call is made for, set by the caller around the work of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The tenant's id (budgets) and slug (metric label).
    pub tenant_id: Option<tria_core::TenantId>,
    pub tenant_slug: String,
}

tokio::task_local! {
    static CALL_CONTEXT: CallContext;
}

/// Runs `work` with `context` visible to every LLM call it makes on this task.
pub async fn with_call_context<F: std::future::Future>(context: CallContext, work: F) -> F::Output {
    CALL_CONTEXT.scope(context, work).await
}

/// The context set by [`with_call_context`], if the current task runs inside one.
pub fn current_call_context() -> Option<CallContext> {
    CALL_CONTEXT.try_with(Clone::clone).ok()
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// The upstream failed, timed out or answered something unusable.
    Error,
    /// The caller went away (stream dropped) or the client was closed.
    Cancelled,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// One finished LLM call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The configured model (not the upstream's dated snapshot name: keeps label values bounded).
    pub model: String,
    pub context: Option<CallContext>,
    pub outcome: CallOutcome,
    pub latency: Duration,
    pub usage: Option<Usage>,
    /// Dollars by the price table; 0 when the model is not priced or nothing was used.
    pub cost_usd: f64,
}

/// Receives a record of every call. Must not block: it runs on the request's task.
pub trait LlmObserver: Send + Sync {
    fn on_call(&self, record: &CallRecord);
}

/// An [`LlmClient`] that reports each call to an observer and otherwise passes through.
#[derive(Clone)]
pub struct ObservedLlm(Arc<Parts>);

struct Parts {
    inner: Arc<dyn LlmClient>,
    observer: Arc<dyn LlmObserver>,
    prices: PriceTable,
}

impl std::fmt::Debug for ObservedLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedLlm").field("model", &self.0.inner.model()).finish_non_exhaustive()
    }
}

impl ObservedLlm {
    pub fn new(inner: Arc<dyn LlmClient>, observer: Arc<dyn LlmObserver>, prices: PriceTable) -> Self {
        Self(Arc::new(Parts { inner, observer, prices }))
    }
}

impl Parts {
    fn record(&self, context: Option<CallContext>, outcome: CallOutcome, started: Instant, usage: Option<Usage>) {
        let model = self.inner.model().to_owned();
        let cost_usd = usage.and_then(|u| self.prices.cost(&model, &u)).map_or(0.0, |c| c.usd);
        self.observer.on_call(&CallRecord { model, context, outcome, latency: started.elapsed(), usage, cost_usd });
    }
}

fn outcome_of(err: &LlmError) -> CallOutcome {
    if matches!(err, LlmError::Cancelled) { CallOutcome::Cancelled } else { CallOutcome::Error }
}

/// Reports a stream's end once: on `Done`, on an error, or when dropped part-way.
struct StreamWatch {
    parts: Arc<Parts>,
    context: Option<CallContext>,
    started: Instant,
    finished: bool,
}

impl StreamWatch {
    fn finish(&mut self, outcome: CallOutcome, usage: Option<Usage>) {
        if !self.finished {
            self.finished = true;
            self.parts.record(self.context.take(), outcome, self.started, usage);
        }
    }
}

impl Drop for StreamWatch {
    fn drop(&mut self) {
        self.finish(CallOutcome::Cancelled, None);
    }
}

#[async_trait]
impl LlmClient for ObservedLlm {
    fn model(&self) -> &str {
        self.0.inner.model()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let context = current_call_context();
        let started = Instant::now();
        let result = self.0.inner.complete(request).await;
        match &result {
            Ok(completion) => self.0.record(context, CallOutcome::Ok, started, Some(completion.usage)),
            Err(err) => self.0.record(context, outcome_of(err), started, None),
        }
        result
    }

    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        let context = current_call_context();
        let started = Instant::now();
        let inner = match self.0.inner.stream(request).await {
            Ok(stream) => stream,
            Err(err) => {
                self.0.record(context, outcome_of(&err), started, None);
                return Err(err);
            }
        };
        let mut watch = StreamWatch { parts: self.0.clone(), context, started, finished: false };
        let watched = inner.map(move |event| {
            match &event {
                Ok(StreamEvent::Done { usage, .. }) => watch.finish(CallOutcome::Ok, Some(*usage)),
                Err(err) => watch.finish(outcome_of(err), None),
                Ok(_) => {}
            }
            event
        });
        Ok(Box::pin(watched))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{ChatMessage, UsageSource};

    /// Answers with fixed usage, or fails when `fail` is set.
    struct Fixed {
        fail: bool,
    }

    #[async_trait]
    impl LlmClient for Fixed {
        fn model(&self) -> &str {
            "gpt-4o-mini"
        }
        async fn complete(&self, _request: &CompletionRequest) -> Result<Completion, LlmError> {
            if self.fail {
                return Err(LlmError::Timeout);
            }
            let usage = Usage { prompt_tokens: 1000, completion_tokens: 1000, source: UsageSource::Reported };
            Ok(Completion { text: "ok".into(), model: "gpt-4o-mini-2024-07-18".into(), usage, finish_reason: None, attempts: 1 })
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<CallRecord>>);

    impl LlmObserver for Recorder {
        fn on_call(&self, record: &CallRecord) {
            self.0.lock().expect("lock").push(record.clone());
        }
    }

    fn observed(fail: bool) -> (ObservedLlm, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        (ObservedLlm::new(Arc::new(Fixed { fail }), recorder.clone(), PriceTable::builtin()), recorder)
    }

    fn request() -> CompletionRequest {
        CompletionRequest::new(vec![ChatMessage::user("hi")])
    }

    #[tokio::test]
    async fn a_call_is_reported_with_its_tenant_usage_and_price() {
        let (llm, recorder) = observed(false);
        let context = CallContext { tenant_id: None, tenant_slug: "northwind".into() };
        with_call_context(context.clone(), async { llm.complete(&request()).await.expect("ok") }).await;
        llm.complete(&request()).await.expect("ok");
        let records = recorder.0.lock().expect("lock").clone();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].context, Some(context));
        assert_eq!(records[1].context, None, "outside a call context the call is unattributed");
        assert_eq!(records[0].model, "gpt-4o-mini", "the configured model, not the upstream's snapshot name");
        assert_eq!(records[0].outcome, CallOutcome::Ok);
        assert!((records[0].cost_usd - (0.00015 + 0.0006)).abs() < 1e-12, "{}", records[0].cost_usd);
    }

    #[tokio::test]
    async fn failures_and_abandoned_streams_are_reported_once() {
        let (llm, recorder) = observed(true);
        assert!(llm.complete(&request()).await.is_err());
        let (llm_ok, streamed) = observed(false);
        let mut stream = llm_ok.stream(&request()).await.expect("stream");
        let _first = stream.next().await;
        drop(stream);
        let mut whole = llm_ok.stream(&request()).await.expect("stream");
        while whole.next().await.is_some() {}
        drop(whole);
        assert_eq!(recorder.0.lock().expect("lock")[0].outcome, CallOutcome::Error);
        let outcomes: Vec<CallOutcome> = streamed.0.lock().expect("lock").iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [CallOutcome::Cancelled, CallOutcome::Ok], "one record per stream");
        assert_eq!(streamed.0.lock().expect("lock")[1].usage.map(|u| u.total_tokens()), Some(2000));
    }
}
