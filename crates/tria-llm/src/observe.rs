//! Watching LLM calls from outside: [`ObservedLlm`] wraps any [`LlmClient`] and reports every
//! call (model, outcome, latency, tokens, dollars) to an [`LlmObserver`] — the server turns
//! these into Prometheus series, spend-budget records and cost-ledger rows. Who the call was
//! for is not part of a [`CompletionRequest`]; the caller names it once per request with
//! [`with_call_context`] (a task-local), so the layers between (agent, generation retries) need
//! not pass it along.
//!
//! The same scope is a *turn*: the calls made inside it are held until it ends (or is dropped),
//! so what became of each reply — used, discarded by validation, regenerated — can be said by
//! the code that decides it ([`mark_last_call`]) before the call is settled
//! ([`LlmObserver::on_settled`], the ledger). Every call is settled exactly once, with tokens:
//! as the provider reported them, or counted locally (cl100k, flagged estimated) for a call
//! that timed out or was abandoned after its request was sent.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::{Completion, CompletionRequest, LlmClient, LlmError, LlmStream, ModelPrice, PriceTable, StreamEvent, Usage};

/// Who an LLM call is made for, set by the caller around the work of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The tenant's id (budgets) and slug (metric label).
    pub tenant_id: Option<tria_core::TenantId>,
    pub tenant_slug: String,
}

tokio::task_local! {
    static CALL_CONTEXT: CallContext;
    static TURN: Arc<Turn>;
}

/// Runs `work` with `context` visible to every LLM call it makes on this task, as one turn.
pub async fn with_call_context<F: std::future::Future>(context: CallContext, work: F) -> F::Output {
    with_turn(context, None, work).await
}

/// [`with_call_context`] with a sink for what the turn records that is not a model call (a
/// cache hit's saving): the cost ledger.
pub async fn with_turn<F: std::future::Future>(context: CallContext, sink: Option<Arc<dyn LlmObserver>>, work: F) -> F::Output {
    let turn = Arc::new(Turn { sink, state: Mutex::new(TurnState::default()), context: context.clone() });
    let _settle = SettleOnDrop(turn.clone());
    CALL_CONTEXT.scope(context, TURN.scope(turn, work)).await
}

/// The context set by [`with_call_context`], if the current task runs inside one.
pub fn current_call_context() -> Option<CallContext> {
    CALL_CONTEXT.try_with(Clone::clone).ok()
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// The upstream failed or answered something unusable.
    Error,
    /// No answer in time: the client's timeout, or the caller's deadline dropped the call.
    Timeout,
    /// The caller went away (stream dropped) or the client was closed.
    Cancelled,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// What became of a call, as the ledger records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerOutcome {
    /// Its reply was used (or nobody said otherwise).
    Used,
    /// Its reply failed validation and nothing replaced it (the grounded responder answered).
    DiscardedByValidation,
    /// Its reply failed validation and the model was asked again.
    Regenerated,
    Timeout,
    Cancelled,
    Error,
}

impl LedgerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerOutcome::Used => "used",
            LedgerOutcome::DiscardedByValidation => "discarded_by_validation",
            LedgerOutcome::Regenerated => "regenerated",
            LedgerOutcome::Timeout => "timeout",
            LedgerOutcome::Cancelled => "cancelled",
            LedgerOutcome::Error => "error",
        }
    }

    fn of(outcome: CallOutcome) -> Self {
        match outcome {
            CallOutcome::Ok => LedgerOutcome::Used,
            CallOutcome::Error => LedgerOutcome::Error,
            CallOutcome::Timeout => LedgerOutcome::Timeout,
            CallOutcome::Cancelled => LedgerOutcome::Cancelled,
        }
    }
}

/// One finished LLM call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The configured model (not the upstream's dated snapshot name: keeps label values bounded).
    pub model: String,
    pub provider: String,
    pub context: Option<CallContext>,
    pub outcome: CallOutcome,
    pub latency: Duration,
    /// Tokens: reported by the provider, or estimated (`source`); `None` when nothing was sent
    /// or nothing can be said (a refused connection, an upstream error).
    pub usage: Option<Usage>,
    /// Prompt tokens the provider served from its prompt cache (part of `prompt_tokens`).
    pub cached_input_tokens: u32,
    /// HTTP attempts the client made (its own retries included).
    pub attempts: u32,
    /// The price in force; `None`: the model has no price (cost 0).
    pub price: Option<ModelPrice>,
    /// Dollars by the price table; 0 when the model is not priced or nothing was used.
    pub cost_usd: f64,
    /// The same in micro-dollars, unrounded.
    pub cost_micro_usd: f64,
}

/// Facts about the turn a call belonged to, known by the time it is settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TurnFacts {
    pub conversation: Option<uuid::Uuid>,
    pub message: Option<uuid::Uuid>,
    pub intent: Option<String>,
}

/// A call with what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SettledCall {
    pub record: CallRecord,
    pub outcome: LedgerOutcome,
    pub turn: TurnFacts,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An answer served from the cache: it cost no model call and saved what it cost when a model
/// wrote it (`model` and `saved_micro_usd` as recorded on the cached answer).
#[derive(Clone, Debug, PartialEq)]
pub struct CacheHitRecord {
    pub context: CallContext,
    pub model: String,
    pub saved_micro_usd: u64,
    pub turn: TurnFacts,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Receives a record of every call. Must not block: it runs on the request's task.
pub trait LlmObserver: Send + Sync {
    /// As soon as the call ends (metrics, budgets).
    fn on_call(&self, record: &CallRecord);
    /// Once per call, with what became of it (when its turn ends; at once outside a turn).
    fn on_settled(&self, _call: &SettledCall) {}
    /// A cache hit of a turn run by [`with_turn`] with this observer as its sink.
    fn on_cache_hit(&self, _hit: &CacheHitRecord) {}
}

struct Pending {
    record: CallRecord,
    outcome: LedgerOutcome,
    at: chrono::DateTime<chrono::Utc>,
    observer: Arc<dyn LlmObserver>,
}

#[derive(Default)]
struct TurnState {
    calls: Vec<Pending>,
    facts: TurnFacts,
    cache_hit: Option<(String, u64)>,
}

struct Turn {
    sink: Option<Arc<dyn LlmObserver>>,
    context: CallContext,
    state: Mutex<TurnState>,
}

impl Turn {
    fn push(&self, pending: Pending) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // A reply refused by validation and asked for again was regenerated.
        if let Some(last) = state.calls.last_mut()
            && last.outcome == LedgerOutcome::DiscardedByValidation
        {
            last.outcome = LedgerOutcome::Regenerated;
        }
        state.calls.push(pending);
    }

    fn settle(&self) {
        let state = std::mem::take(&mut *self.state.lock().unwrap_or_else(PoisonError::into_inner));
        for call in state.calls {
            let settled = SettledCall { record: call.record, outcome: call.outcome, turn: state.facts.clone(), at: call.at };
            call.observer.on_settled(&settled);
        }
        if let (Some((model, saved_micro_usd)), Some(sink)) = (state.cache_hit, &self.sink) {
            let at = chrono::Utc::now();
            sink.on_cache_hit(&CacheHitRecord { context: self.context.clone(), model, saved_micro_usd, turn: state.facts, at });
        }
    }
}

struct SettleOnDrop(Arc<Turn>);

impl Drop for SettleOnDrop {
    fn drop(&mut self) {
        self.0.settle();
    }
}

fn with_turn_state(f: impl FnOnce(&mut TurnState)) {
    let _ = TURN.try_with(|turn| f(&mut turn.state.lock().unwrap_or_else(PoisonError::into_inner)));
}

/// Says what became of the last call of the current turn (no-op outside a turn). A call
/// marked [`LedgerOutcome::DiscardedByValidation`] becomes `Regenerated` when another follows.
pub fn mark_last_call(outcome: LedgerOutcome) {
    with_turn_state(|state| {
        if let Some(last) = state.calls.last_mut() {
            last.outcome = outcome;
        }
    });
}

/// The last call of the current turn, dropped unfinished (`cancelled`), was cut by the
/// caller's deadline: a timeout. A call that ended otherwise keeps its outcome.
pub fn mark_last_call_timed_out() {
    with_turn_state(|state| {
        if let Some(last) = state.calls.last_mut()
            && last.outcome == LedgerOutcome::Cancelled
        {
            last.outcome = LedgerOutcome::Timeout;
        }
    });
}

/// Names the current turn's conversation and classified intent (ledger rows carry them).
pub fn note_turn(conversation: Option<uuid::Uuid>, intent: Option<&str>) {
    with_turn_state(|state| {
        if conversation.is_some() {
            state.facts.conversation = conversation;
        }
        if let Some(intent) = intent {
            state.facts.intent = Some(intent.to_owned());
        }
    });
}

/// Names the assistant message the current turn stored.
pub fn note_turn_message(message: uuid::Uuid) {
    with_turn_state(|state| state.facts.message = Some(message));
}

/// The model whose reply the current turn used and what all its calls cost so far
/// (micro-dollars, rounded): what a cache hit on this turn's answer saves. `None` when no
/// call's reply was used (the grounded responder answered) or outside a turn.
pub fn turn_model_spend() -> Option<(String, u64)> {
    TURN.try_with(|turn| {
        let state = turn.state.lock().unwrap_or_else(PoisonError::into_inner);
        let used = state.calls.iter().rev().find(|c| c.outcome == LedgerOutcome::Used)?;
        let cost: f64 = state.calls.iter().map(|c| c.record.cost_micro_usd).sum();
        Some((used.record.model.clone(), cost.round().max(0.0) as u64))
    })
    .ok()
    .flatten()
}

/// The current turn was answered from the cache with an answer `model` wrote for
/// `cost_micro_usd` (recorded by the turn's sink when it ends).
pub fn note_cache_hit(model: &str, cost_micro_usd: u64) {
    with_turn_state(|state| state.cache_hit = Some((model.to_owned(), cost_micro_usd)));
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

/// How a call ended, for [`Parts::record`].
struct Ended {
    outcome: CallOutcome,
    usage: Option<Usage>,
    attempts: u32,
}

impl Parts {
    fn record(self: &Arc<Self>, context: Option<CallContext>, ended: Ended, started: Instant) {
        let model = self.inner.model().to_owned();
        let price = self.prices.price(&model).copied();
        let cost_micro_usd = match (price, ended.usage) {
            (Some(price), Some(u)) => price.micro_usd_of(&u),
            _ => 0.0,
        };
        let record = CallRecord {
            model,
            provider: self.inner.provider().to_owned(),
            context,
            outcome: ended.outcome,
            latency: started.elapsed(),
            usage: ended.usage,
            cached_input_tokens: ended.usage.map_or(0, |u| u.cached_prompt_tokens),
            attempts: ended.attempts,
            price,
            cost_usd: cost_micro_usd / 1_000_000.0,
            cost_micro_usd,
        };
        self.observer.on_call(&record);
        let mut pending =
            Some(Pending { outcome: LedgerOutcome::of(record.outcome), record, at: chrono::Utc::now(), observer: self.observer.clone() });
        let _ = TURN.try_with(|turn| {
            if let Some(pending) = pending.take() {
                turn.push(pending);
            }
        });
        // Outside a turn the call is settled at once.
        if let Some(p) = pending {
            self.observer.on_settled(&SettledCall { record: p.record, outcome: p.outcome, turn: TurnFacts::default(), at: p.at });
        }
    }
}

fn outcome_of(err: &LlmError) -> CallOutcome {
    match err {
        LlmError::Cancelled => CallOutcome::Cancelled,
        LlmError::Timeout => CallOutcome::Timeout,
        _ => CallOutcome::Error,
    }
}

/// Tokens of a call that was sent but not answered in full: the prompt counted locally, and
/// what had streamed of the reply.
fn estimated(prompt_tokens: u32, received: &str) -> Usage {
    Usage::estimated(prompt_tokens, crate::tokens::count_text(received))
}

/// Reports a call's end once: when it finishes, or when dropped part-way (a stream abandoned, a
/// `complete` cut by the caller's deadline: `Cancelled` here, marked a timeout by the caller
/// that knows why with [`mark_last_call`]).
struct CallWatch {
    parts: Arc<Parts>,
    context: Option<CallContext>,
    started: Instant,
    /// The request's messages, counted only if the call ends without reported usage.
    messages: Vec<crate::ChatMessage>,
    received: String,
    finished: bool,
}

impl CallWatch {
    fn new(parts: Arc<Parts>, request: &CompletionRequest) -> Self {
        Self {
            parts,
            context: current_call_context(),
            started: Instant::now(),
            messages: request.messages.clone(),
            received: String::new(),
            finished: false,
        }
    }

    fn finish(&mut self, outcome: CallOutcome, usage: Option<Usage>, attempts: u32) {
        if self.finished {
            return;
        }
        self.finished = true;
        // Sent and not answered in full: the provider may bill it; count what can be counted.
        let usage = usage.or_else(|| {
            matches!(outcome, CallOutcome::Timeout | CallOutcome::Cancelled)
                .then(|| estimated(crate::tokens::count_messages(&self.messages), &self.received))
        });
        self.parts.record(self.context.take(), Ended { outcome, usage, attempts }, self.started);
    }

    fn failed(&mut self, err: &LlmError) {
        self.finish(outcome_of(err), None, 1);
    }
}

impl Drop for CallWatch {
    fn drop(&mut self) {
        self.finish(CallOutcome::Cancelled, None, 1);
    }
}

#[async_trait]
impl LlmClient for ObservedLlm {
    fn model(&self) -> &str {
        self.0.inner.model()
    }

    fn provider(&self) -> &str {
        self.0.inner.provider()
    }

    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let mut watch = CallWatch::new(self.0.clone(), request);
        let result = self.0.inner.complete(request).await;
        match &result {
            Ok(completion) => watch.finish(CallOutcome::Ok, Some(completion.usage), completion.attempts.max(1)),
            Err(err) => watch.failed(err),
        }
        result
    }

    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        let mut watch = CallWatch::new(self.0.clone(), request);
        let inner = match self.0.inner.stream(request).await {
            Ok(stream) => stream,
            Err(err) => {
                watch.failed(&err);
                return Err(err);
            }
        };
        let watched = inner.map(move |event| {
            match &event {
                Ok(StreamEvent::Done { usage, .. }) => watch.finish(CallOutcome::Ok, Some(*usage), 1),
                Ok(StreamEvent::Delta(text)) => watch.received.push_str(text),
                Err(err) => watch.failed(err),
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

    /// Answers with fixed usage, fails, or never answers.
    struct Fixed {
        fail: bool,
        hang: bool,
    }

    #[async_trait]
    impl LlmClient for Fixed {
        fn model(&self) -> &str {
            "gpt-4o-mini"
        }
        async fn complete(&self, _request: &CompletionRequest) -> Result<Completion, LlmError> {
            if self.hang {
                futures::future::pending::<()>().await;
            }
            if self.fail {
                return Err(LlmError::Timeout);
            }
            let usage = Usage::reported(1000, 1000, 0);
            Ok(Completion { text: "ok".into(), model: "gpt-4o-mini-2024-07-18".into(), usage, finish_reason: None, attempts: 2 })
        }
    }

    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<CallRecord>>,
        settled: Mutex<Vec<SettledCall>>,
        hits: Mutex<Vec<CacheHitRecord>>,
    }

    impl LlmObserver for Recorder {
        fn on_call(&self, record: &CallRecord) {
            self.calls.lock().expect("lock").push(record.clone());
        }
        fn on_settled(&self, call: &SettledCall) {
            self.settled.lock().expect("lock").push(call.clone());
        }
        fn on_cache_hit(&self, hit: &CacheHitRecord) {
            self.hits.lock().expect("lock").push(hit.clone());
        }
    }

    fn client(fail: bool, hang: bool) -> (ObservedLlm, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        (ObservedLlm::new(Arc::new(Fixed { fail, hang }), recorder.clone(), PriceTable::builtin()), recorder)
    }

    fn observed(fail: bool) -> (ObservedLlm, Arc<Recorder>) {
        client(fail, false)
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
        let records = recorder.calls.lock().expect("lock").clone();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].context, Some(context));
        assert_eq!(records[1].context, None, "outside a call context the call is unattributed");
        assert_eq!(records[0].model, "gpt-4o-mini", "the configured model, not the upstream's snapshot name");
        assert_eq!(records[0].outcome, CallOutcome::Ok);
        assert_eq!(records[0].attempts, 2);
        assert!((records[0].cost_usd - (0.00015 + 0.0006)).abs() < 1e-12, "{}", records[0].cost_usd);
        assert!((records[0].cost_micro_usd - 750.0).abs() < 1e-9);
        let settled = recorder.settled.lock().expect("lock").clone();
        assert_eq!(settled.iter().map(|s| s.outcome).collect::<Vec<_>>(), [LedgerOutcome::Used, LedgerOutcome::Used]);
    }

    /// Answers with usage whose prompt was mostly served from the provider's prompt cache.
    struct PromptCached;

    #[async_trait]
    impl LlmClient for PromptCached {
        fn model(&self) -> &str {
            "gpt-4o-mini"
        }
        async fn complete(&self, _request: &CompletionRequest) -> Result<Completion, LlmError> {
            let usage = Usage::reported(10_000, 1000, 8000);
            Ok(Completion { text: "ok".into(), model: "gpt-4o-mini".into(), usage, finish_reason: None, attempts: 1 })
        }
    }

    #[tokio::test]
    async fn cached_prompt_tokens_are_recorded_and_priced_at_the_cached_input_price() {
        let recorder = Arc::new(Recorder::default());
        let price = ModelPrice::new(0.15, 0.60, Some(0.075));
        let prices = PriceTable::builtin_with([("gpt-4o-mini".to_owned(), price)]);
        let llm = ObservedLlm::new(Arc::new(PromptCached), recorder.clone(), prices);
        llm.complete(&request()).await.expect("ok");
        let record = recorder.calls.lock().expect("lock")[0].clone();
        assert_eq!(record.cached_input_tokens, 8000);
        // 2000 uncached × 0.15 + 8000 cached × 0.075 + 1000 × 0.60 micro-dollars
        assert!((record.cost_micro_usd - 1500.0).abs() < 1e-9, "{}", record.cost_micro_usd);
        assert_eq!(record.price.map(|p| p.micro_per_mtok()), Some([150_000, 600_000, 75_000]));
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
        let failed = recorder.calls.lock().expect("lock")[0].clone();
        assert_eq!(failed.outcome, CallOutcome::Timeout);
        assert_eq!(failed.usage.map(|u| u.source), Some(UsageSource::Estimated), "a timed-out call's prompt is counted");
        let records = streamed.calls.lock().expect("lock").clone();
        let outcomes: Vec<CallOutcome> = records.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [CallOutcome::Cancelled, CallOutcome::Ok], "one record per stream");
        let abandoned = records[0].usage.expect("estimated");
        assert_eq!(abandoned.source, UsageSource::Estimated);
        assert_eq!(abandoned.completion_tokens, crate::tokens::count_text("ok"), "what had streamed is counted");
        assert_eq!(records[1].usage.map(|u| u.total_tokens()), Some(2000));
    }

    #[tokio::test]
    async fn a_call_cut_by_the_caller_is_counted_with_an_estimate() {
        let (llm, recorder) = client(false, true);
        let request = request();
        let cut = tokio::time::timeout(Duration::from_millis(10), llm.complete(&request)).await;
        assert!(cut.is_err(), "the double never answers");
        let record = recorder.calls.lock().expect("lock")[0].clone();
        assert_eq!(record.outcome, CallOutcome::Cancelled);
        assert_eq!(
            record.usage.map(|u| (u.prompt_tokens, u.source)),
            Some((crate::tokens::count_messages(&request.messages), UsageSource::Estimated))
        );
        assert!(record.cost_micro_usd > 0.0);
    }

    #[tokio::test]
    async fn a_turn_settles_its_calls_with_what_became_of_them() {
        let (llm, recorder) = observed(false);
        let sink: Arc<dyn LlmObserver> = recorder.clone();
        let context = CallContext { tenant_id: None, tenant_slug: "northwind".into() };
        let conversation = uuid::Uuid::new_v4();
        with_turn(context.clone(), Some(sink.clone()), async {
            note_turn(Some(conversation), Some("policy_question"));
            llm.complete(&request()).await.expect("first");
            mark_last_call(LedgerOutcome::DiscardedByValidation);
            llm.complete(&request()).await.expect("second");
            mark_last_call(LedgerOutcome::DiscardedByValidation);
            assert!(recorder.settled.lock().expect("lock").is_empty(), "held until the turn ends");
        })
        .await;
        let settled = recorder.settled.lock().expect("lock").clone();
        let outcomes: Vec<LedgerOutcome> = settled.iter().map(|s| s.outcome).collect();
        assert_eq!(outcomes, [LedgerOutcome::Regenerated, LedgerOutcome::DiscardedByValidation]);
        assert_eq!(settled[0].turn.conversation, Some(conversation));
        assert_eq!(settled[1].turn.intent.as_deref(), Some("policy_question"));

        // A turn dropped part-way still settles, and a cache hit goes to the sink.
        let turn = with_turn(context, Some(sink), async {
            note_cache_hit("gpt-4o-mini", 750);
            futures::future::pending::<()>().await;
        });
        let _ = tokio::time::timeout(Duration::from_millis(5), turn).await;
        let hits = recorder.hits.lock().expect("lock").clone();
        assert_eq!(hits.iter().map(|h| (h.model.as_str(), h.saved_micro_usd)).collect::<Vec<_>>(), [("gpt-4o-mini", 750)]);
    }
}
