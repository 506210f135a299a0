//! The server's [`LlmObserver`]: every LLM call the pipeline makes becomes Prometheus series
//! (`tria_llm_*`) and a record against the tenant's spend budget.

use std::sync::Arc;

use tria_llm::{CallRecord, LlmObserver};

use crate::budget::SpendBudget;
use crate::metrics::Metrics;

/// Wraps the configured LLM client in [`tria_llm::ObservedLlm`] with this observer.
pub fn observe(client: Arc<dyn tria_llm::LlmClient>, metrics: Arc<Metrics>, budget: SpendBudget) -> Arc<dyn tria_llm::LlmClient> {
    let observer = Arc::new(LlmAccounting { metrics, budget });
    Arc::new(tria_llm::ObservedLlm::new(client, observer, tria_llm::PriceTable::builtin()))
}

/// Metrics and budget recording for LLM calls.
#[derive(Debug)]
pub struct LlmAccounting {
    metrics: Arc<Metrics>,
    budget: SpendBudget,
}

impl LlmAccounting {
    pub fn new(metrics: Arc<Metrics>, budget: SpendBudget) -> Self {
        Self { metrics, budget }
    }
}

impl LlmObserver for LlmAccounting {
    fn on_call(&self, record: &CallRecord) {
        self.metrics.observe_llm(record);
        let (Some(usage), Some(tenant)) = (record.usage, record.context.as_ref().and_then(|c| c.tenant_id)) else { return };
        let tokens = u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens);
        // The observer runs on the request's task and must not wait for Redis.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let budget = self.budget.clone();
            let usd = record.cost_usd;
            runtime.spawn(async move { budget.record(tenant, tokens, usd).await });
        }
    }
}
