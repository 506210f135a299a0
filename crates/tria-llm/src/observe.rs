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
