//! The retrieval stage (on a cache miss, for a question the tenant's data answers): what the
//! reply is grounded in — the catalogue rows about what was asked for a product question that
//! names a product, else the tenant's best policy chunks.

use tria_core::{IntentLabel, TenantContext};
use tria_rag::{PolicyHit, ProductHit};

use crate::routing::{Ask, TOP_K};
use crate::trace::Stage;
use crate::{Agent, AgentError, catalogue};

/// What retrieval found for one question.
#[derive(Debug)]
pub(crate) enum Retrieved {
    /// Catalogue rows really about what was asked (`catalogue::relevant`): never empty.
    Products(Vec<ProductHit>),
    /// The tenant's best policy chunks, best first; empty when nothing matched.
    Policies(Vec<PolicyHit>),
}

impl Agent {
    /// The catalogue rows a product question is about, else the policy chunks for `ask`.
    pub(crate) async fn retrieve(&self, tenant: &TenantContext, ask: Ask<'_>, label: IntentLabel) -> Result<Retrieved, AgentError> {
        let (message, clock) = (ask.message, ask.clock);
        let index = clock.time_async(Stage::Retrieval, self.indexes.get(tenant.id)).await?;
        if label == IntentLabel::ProductInquiry
            && let Some(products) = self.indexes.catalogue(tenant.id)
        {
            let vector = clock.time(Stage::Retrieval, || self.query_embedding(message));
            let found = clock.time(Stage::Retrieval, || products.search(message, vector.as_deref(), TOP_K));
            let relevant: Vec<ProductHit> = catalogue::relevant(message, &found).into_iter().cloned().collect();
            if !relevant.is_empty() {
                return Ok(Retrieved::Products(relevant));
            }
        }
        // Policies across languages: the message with its topics' English words (catalogue
        // rows are matched on the message as written: product names and SKUs are not translated).
        let query = ask.retrieval_query();
        let hits = clock.time_async(Stage::Retrieval, self.policy_hits(tenant.id, &index, &query, TOP_K)).await;
        Ok(Retrieved::Policies(hits))
    }
}
