//! The cost ledger's observer: every settled LLM call and every cache hit becomes a
//! `llm_ledger` row, handed to the store's batch writer ([`LedgerWriter`]: the chat path only
//! queues it). A model without a price is recorded at cost 0, warned about once and counted
//! ([`LlmLedger::unpriced_calls`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tria_llm::{CacheHitRecord, LlmObserver, SettledCall, UsageSource};
use tria_store::ledger::LedgerWriter;
use tria_store::repo::{LedgerKind, NewLedgerRow};

/// Writes ledger rows for the calls and cache hits it observes.
#[derive(Debug)]
pub struct LlmLedger {
    writer: LedgerWriter,
    warned: Mutex<HashSet<String>>,
    unpriced: AtomicU64,
}

impl LlmLedger {
    pub fn new(writer: LedgerWriter) -> Self {
        Self { writer, warned: Mutex::new(HashSet::new()), unpriced: AtomicU64::new(0) }
    }

    /// Waits until every row queued so far is written (graceful shutdown).
    pub async fn flush(&self) -> bool {
        self.writer.flush().await
    }

    /// Calls recorded at cost 0 because their model has no price.
    pub fn unpriced_calls(&self) -> u64 {
        self.unpriced.load(Ordering::Relaxed)
    }

    fn unpriced(&self, model: &str) {
        self.unpriced.fetch_add(1, Ordering::Relaxed);
        let first = self.warned.lock().unwrap_or_else(PoisonError::into_inner).insert(model.to_owned());
        if first {
            tracing::warn!(model, "llm model has no price ([llm.prices.\"<model>\"]); its calls are recorded at cost 0");
        }
    }
}

fn micro(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 { value.round() as u64 } else { 0 }
}

impl LlmObserver for LlmLedger {
    fn on_call(&self, _record: &tria_llm::CallRecord) {}

    fn on_settled(&self, call: &SettledCall) {
        let record = &call.record;
        if record.price.is_none() && record.usage.is_some() {
            self.unpriced(&record.model);
        }
        let usage = record.usage;
        let row = NewLedgerRow {
            id: uuid::Uuid::now_v7(),
            tenant: record.context.as_ref().and_then(|c| c.tenant_id),
            conversation: call.turn.conversation,
            message: call.turn.message,
            intent: call.turn.intent.clone(),
            kind: LedgerKind::Call,
            provider: record.provider.clone(),
            model: record.model.clone(),
            attempts: record.attempts,
            input_tokens: usage.map_or(0, |u| u64::from(u.prompt_tokens)),
            output_tokens: usage.map_or(0, |u| u64::from(u.completion_tokens)),
            cached_input_tokens: u64::from(record.cached_input_tokens),
            tokens_estimated: usage.is_some_and(|u| u.source == UsageSource::Estimated),
            outcome: call.outcome.as_str().to_owned(),
            price_micro_per_mtok: record.price.map_or([0; 3], |p| p.micro_per_mtok()),
            cost_micro_usd: micro(record.cost_micro_usd),
            saved_micro_usd: 0,
            latency_ms: u32::try_from(record.latency.as_millis()).unwrap_or(u32::MAX),
            at: call.at,
        };
        self.writer.record(row);
    }

    fn on_cache_hit(&self, hit: &CacheHitRecord) {
        let row = NewLedgerRow {
            id: uuid::Uuid::now_v7(),
            tenant: hit.context.tenant_id,
            conversation: hit.turn.conversation,
            message: hit.turn.message,
            intent: hit.turn.intent.clone(),
            kind: LedgerKind::CacheHit,
            provider: String::new(),
            model: hit.model.clone(),
            attempts: 0,
            input_tokens: 0,
            output_tokens: 0,
            cached_input_tokens: 0,
            tokens_estimated: false,
            outcome: "cache_hit".to_owned(),
            price_micro_per_mtok: [0; 3],
            cost_micro_usd: 0,
            saved_micro_usd: hit.saved_micro_usd,
            latency_ms: 0,
            at: hit.at,
        };
        self.writer.record(row);
    }
}
