//! Each tenant's policy index and product catalogue, loaded from the store on first use and
//! kept in memory until a re-index replaces them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tria_core::TenantId;
use tria_rag::{Embedder, ProductIndex, TenantIndex};
use tria_store::Store;

use crate::AgentError;
use crate::keyed_locks::KeyedLocks;

/// The per-tenant index registry the [`crate::Agent`] retrieves from.
pub(crate) struct TenantIndexes {
    store: Store,
    embedder: Option<Arc<dyn Embedder>>,
    indexes: RwLock<HashMap<TenantId, Arc<TenantIndex>>>,
    /// One load of a tenant's indexes at a time: the first burst of chat for a tenant whose
    /// index is not in memory (a new tenant, a start-up still warming) would otherwise embed
    /// its whole corpus once per request, and a re-index racing a lazy load could leave the
    /// older index in place.
    loads: KeyedLocks<TenantId>,
    catalogues: RwLock<HashMap<TenantId, Arc<ProductIndex>>>,
}

impl TenantIndexes {
    /// With an embedder, indexes are hybrid (chunks without a current vector are embedded on
    /// load); without one, BM25 only.
    pub(crate) fn new(store: Store, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self {
            store,
            embedder,
            indexes: RwLock::new(HashMap::new()),
            loads: KeyedLocks::default(),
            catalogues: RwLock::new(HashMap::new()),
        }
    }

    fn embedder(&self) -> Option<&dyn Embedder> {
        self.embedder.as_deref()
    }

    /// The tenant's policy index, loaded (with its catalogue) if it is not in memory yet.
    pub(crate) async fn get(&self, tenant: TenantId) -> Result<Arc<TenantIndex>, AgentError> {
        if let Some(index) = self.loaded(tenant)? {
            return Ok(index);
        }
        let _loading = self.loads.acquire(tenant).await;
        // Whoever held the lock before may have loaded it: then this request uses theirs.
        if let Some(index) = self.loaded(tenant)? {
            return Ok(index);
        }
        self.load(tenant).await?;
        self.loaded(tenant)?.ok_or_else(|| AgentError::Internal("index vanished after load".into()))
    }

    /// The tenant's catalogue, if its indexes are loaded.
    pub(crate) fn catalogue(&self, tenant: TenantId) -> Option<Arc<ProductIndex>> {
        self.catalogues.read().ok()?.get(&tenant).cloned()
    }

    /// (Re)loads the tenant's policy index and catalogue from the store, e.g. after
    /// re-indexing; returns the number of policy chunks.
    pub(crate) async fn reload(&self, tenant: TenantId) -> Result<usize, AgentError> {
        let _loading = self.loads.acquire(tenant).await;
        self.load(tenant).await
    }

    /// Loads the tenant's policy index and catalogue; the caller holds its `loads` lock.
    async fn load(&self, tenant: TenantId) -> Result<usize, AgentError> {
        let index = match TenantIndex::load(&self.store, tenant, self.embedder()).await {
            Ok(index) => index,
            Err(tria_rag::RagError::Embed(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding chunks failed; loading a BM25-only index");
                TenantIndex::load(&self.store, tenant, None).await?
            }
            Err(e) => return Err(e.into()),
        };
        let index = Arc::new(index);
        let len = index.len();
        let products = match ProductIndex::load(&self.store, tenant, self.embedder()).await {
            Ok(products) => products,
            Err(tria_rag::RagError::Embed(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding the catalogue failed; loading a BM25-only catalogue");
                ProductIndex::load(&self.store, tenant, None).await?
            }
            Err(e) => return Err(e.into()),
        };
        self.catalogues.write().map_err(|_| AgentError::Internal("catalogue lock poisoned".into()))?.insert(tenant, Arc::new(products));
        self.indexes.write().map_err(|_| AgentError::Internal("index lock poisoned".into()))?.insert(tenant, index);
        Ok(len)
    }

    fn loaded(&self, tenant: TenantId) -> Result<Option<Arc<TenantIndex>>, AgentError> {
        Ok(self.indexes.read().map_err(|_| AgentError::Internal("index lock poisoned".into()))?.get(&tenant).cloned())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::TenantIndexes;

    /// Twenty first requests for a tenant whose index is not in memory share one load: every
    /// one gets the same index. (Each used to load and install its own, embedding the corpus
    /// once per request.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_requests_share_one_index_load() {
        let db = tria_testkit::sqlite().await;
        let seeded = crate::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &BTreeMap::new()).await.expect("seed");
        let tenant = seeded.into_iter().find(|t| t.tenant.slug == "northwind").expect("northwind fixture").tenant.id;
        let registry = Arc::new(TenantIndexes::new(db.store.clone(), None));
        let loads: Vec<_> = (0..20)
            .map(|_| {
                tokio::spawn({
                    let registry = registry.clone();
                    async move { registry.get(tenant).await.expect("index") }
                })
            })
            .collect();
        let mut indexes = Vec::new();
        for load in loads {
            indexes.push(load.await.expect("join"));
        }
        assert!(!indexes[0].is_empty(), "the fixture tenant has policies");
        assert!(indexes.iter().all(|i| Arc::ptr_eq(i, &indexes[0])), "every request got the one loaded index");
        assert!(registry.catalogue(tenant).is_some(), "the catalogue is loaded with the index");
        // An explicit reload (after a re-index) still replaces it.
        registry.reload(tenant).await.expect("reload");
        assert!(!Arc::ptr_eq(&registry.get(tenant).await.expect("index"), &indexes[0]));
    }
}
