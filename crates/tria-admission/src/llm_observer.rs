//! The LLM observer admission needs: every LLM call the pipeline makes is recorded against the
//! tenant's spend budget, then handed on (the server's metrics turn it into `tria_llm_*` series).

use std::sync::Arc;

use tria_llm::{CallRecord, LlmObserver};

use crate::budget::SpendBudget;

/// Wraps the configured LLM client in [`tria_llm::ObservedLlm`], recording each call's spend in
/// `budget` and reporting it to `also` (the metrics).
pub fn observe(client: Arc<dyn tria_llm::LlmClient>, also: Arc<dyn LlmObserver>, budget: SpendBudget) -> Arc<dyn tria_llm::LlmClient> {
    observe_with(client, also, budget, None, tria_llm::PriceTable::builtin())
}

/// [`observe`] with the cost ledger (`ledger` gets every call once settled) and `prices`.
pub fn observe_with(
    client: Arc<dyn tria_llm::LlmClient>,
    also: Arc<dyn LlmObserver>,
    budget: SpendBudget,
    ledger: Option<Arc<dyn LlmObserver>>,
    prices: tria_llm::PriceTable,
) -> Arc<dyn tria_llm::LlmClient> {
    let observer = Arc::new(LlmAccounting { also, budget, ledger });
    Arc::new(tria_llm::ObservedLlm::new(client, observer, prices))
}

/// Budget recording for LLM calls, in front of another observer.
pub struct LlmAccounting {
    also: Arc<dyn LlmObserver>,
    budget: SpendBudget,
    ledger: Option<Arc<dyn LlmObserver>>,
}

impl std::fmt::Debug for LlmAccounting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmAccounting").field("budget", &self.budget).finish_non_exhaustive()
    }
}

impl LlmAccounting {
    pub fn new(also: Arc<dyn LlmObserver>, budget: SpendBudget) -> Self {
        Self { also, budget, ledger: None }
    }
}

impl LlmObserver for LlmAccounting {
    fn on_settled(&self, call: &tria_llm::SettledCall) {
        if let Some(ledger) = &self.ledger {
            ledger.on_settled(call);
        }
    }

    fn on_call(&self, record: &CallRecord) {
        self.also.on_call(record);
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
