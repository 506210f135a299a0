//! A customer's erasure across what the agent holds (issue 29): the store's rows
//! (`tria_store::customer_data`) and the tenant's answer cache. Cached answers are keyed by the
//! question's text (normalised and hashed) and the conversation's recent intents, not by who
//! asked — an answer is shared by every customer who asks the same thing — so no entry can be
//! found "per customer". What can hold a customer's words is L3 (each entry keeps the question
//! it was made for, to compare wordings) and L4 (the question's embedding, intent and
//! retrieval). So an erasure purges the whole tenant's cache — every level, in this process and
//! in Redis (`SCAN` + `UNLINK` of the tenant's keys) — and bumps the tenant's generation, which
//! makes every replica drop its in-process copies within a second. The tenant's cache is cold
//! afterwards; erasures are rare, and a purge that cannot miss is worth the recomputation.

use serde::Serialize;
use tria_cache::CacheLevelName;
use tria_core::TenantContext;
use tria_store::customer_data::Erasure;

use crate::{Agent, AgentError};

/// What the cache purge of an erasure did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CachePurge {
    /// Shared (Redis) cache keys of the tenant deleted, every level.
    pub shared_keys_deleted: u64,
    /// The tenant's cache generation after the purge (every older key is unreadable).
    pub generation: Option<u64>,
    /// Why part of the purge failed (e.g. Redis down): the erasure stands, the cache entries
    /// expire with their TTL, and the generation bump retires them wherever it was seen.
    pub error: Option<String>,
}

/// A customer's erasure: the store's outcome and, when something was erased, the cache purge.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerErasure {
    pub store: Erasure,
    pub cache: Option<CachePurge>,
}

impl Agent {
    /// Erases the tenant's customer `number` from the store, then purges the tenant's answer
    /// cache (see the module documentation). `request_id` is kept with the erasure record.
    pub async fn erase_customer(&self, tenant: &TenantContext, number: &str, request_id: &str) -> Result<CustomerErasure, AgentError> {
        let store = self.store().customer_data().erase(tenant.id, number, request_id).await?;
        let cache = match &store {
            Erasure::Erased(_) => Some(self.purge_tenant_cache(tenant).await),
            _ => None,
        };
        Ok(CustomerErasure { store, cache })
    }

    async fn purge_tenant_cache(&self, tenant: &TenantContext) -> CachePurge {
        let cache = self.answer_cache();
        let mut purge = CachePurge::default();
        for level in [CacheLevelName::L1, CacheLevelName::L2, CacheLevelName::L3, CacheLevelName::L4] {
            match cache.invalidate_level(tenant.id, level).await {
                Ok(n) => purge.shared_keys_deleted += n,
                Err(e) => purge.error = Some(e.to_string()),
            }
        }
        match cache.invalidate_tenant(tenant.id).await {
            Ok(generation) => purge.generation = Some(generation),
            Err(e) => purge.error = Some(e.to_string()),
        }
        if let Some(error) = &purge.error {
            tracing::warn!(tenant = %tenant.slug, error = %error, "an erasure's cache purge was incomplete");
        }
        purge
    }
}
