//! Each tenant's policy index and product catalogue, loaded from the store on first use and
//! kept in memory until a re-index replaces them, or until the tenant's knowledge version in the
//! store moves on (an upload, delete or rollback on any replica): the version is read at most
//! once per `check_every` per tenant, off the request path, and a changed one is reloaded and
//! swapped in whole (a query holds the index it started with; the next one gets the new one).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tria_core::TenantId;
use tria_rag::{Embedder, ProductIndex, TenantIndex};
use tria_store::Store;
use uuid::Uuid;

use crate::AgentError;
use tria_store::keyed_locks::KeyedLocks;

/// How often a replica reads a tenant's knowledge version by default.
pub(crate) const DEFAULT_KNOWLEDGE_CHECK: Duration = Duration::from_secs(1);

/// A tenant's policy index with the knowledge version it was loaded from.
pub(crate) struct LoadedKnowledge {
    pub(crate) index: Arc<TenantIndex>,
    /// `tenant_knowledge.current_version` read before the chunks (0: nothing uploaded yet), so
    /// the index is never older than the version it names.
    pub(crate) version: i32,
    chunk_ids: HashSet<Uuid>,
}

impl LoadedKnowledge {
    /// Whether this chunk serves in this index (a replaced or deleted document's do not).
    pub(crate) fn serves_chunk(&self, id: Uuid) -> bool {
        self.chunk_ids.contains(&id)
    }
}

/// When a tenant's version was last read, and whether a read is under way.
#[derive(Clone, Copy)]
struct Check {
    at: Instant,
    running: bool,
}

/// The per-tenant index registry the [`crate::Agent`] retrieves from (cheap to clone: shared).
#[derive(Clone)]
pub(crate) struct TenantIndexes {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    embedder: Option<Arc<dyn Embedder>>,
    indexes: RwLock<HashMap<TenantId, Arc<LoadedKnowledge>>>,
    /// One load of a tenant's indexes at a time: the first burst of chat for a tenant whose
    /// index is not in memory (a new tenant, a start-up still warming) would otherwise embed
    /// its whole corpus once per request, and a re-index racing a lazy load could leave the
    /// older index in place.
    loads: KeyedLocks<TenantId>,
    catalogues: RwLock<HashMap<TenantId, Arc<ProductIndex>>>,
    check_every: Duration,
    checks: Mutex<HashMap<TenantId, Check>>,
}

impl TenantIndexes {
    /// With an embedder, indexes are hybrid (chunks without a current vector are embedded on
    /// load); without one, BM25 only. Each tenant's knowledge version is read at most once per
    /// `check_every`.
    pub(crate) fn new(store: Store, embedder: Option<Arc<dyn Embedder>>, check_every: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                embedder,
                indexes: RwLock::new(HashMap::new()),
                loads: KeyedLocks::default(),
                catalogues: RwLock::new(HashMap::new()),
                check_every,
                checks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The tenant's policy index, loaded (with its catalogue) if it is not in memory yet.
    pub(crate) async fn get(&self, tenant: TenantId) -> Result<Arc<TenantIndex>, AgentError> {
        Ok(self.knowledge(tenant).await?.index.clone())
    }

    /// The tenant's index with its knowledge version; starts a version check in the background
    /// when one is due.
    pub(crate) async fn knowledge(&self, tenant: TenantId) -> Result<Arc<LoadedKnowledge>, AgentError> {
        if let Some(loaded) = self.inner.loaded(tenant)? {
            self.check_if_due(tenant);
            return Ok(loaded);
        }
        let _loading = self.inner.loads.acquire(tenant).await;
        // Whoever held the lock before may have loaded it: then this request uses theirs.
        if let Some(loaded) = self.inner.loaded(tenant)? {
            return Ok(loaded);
        }
        self.inner.load(tenant).await?;
        self.inner.loaded(tenant)?.ok_or_else(|| AgentError::Internal("index vanished after load".into()))
    }

    /// The tenant's catalogue, if its indexes are loaded.
    pub(crate) fn catalogue(&self, tenant: TenantId) -> Option<Arc<ProductIndex>> {
        self.inner.catalogues.read().ok()?.get(&tenant).cloned()
    }

    /// (Re)loads the tenant's policy index and catalogue from the store, e.g. after
    /// re-indexing; returns the number of policy chunks.
    pub(crate) async fn reload(&self, tenant: TenantId) -> Result<usize, AgentError> {
        let _loading = self.inner.loads.acquire(tenant).await;
        self.inner.load(tenant).await
    }

    /// Reads the tenant's knowledge version now and reloads the index if it is not the one
    /// loaded (or none is); returns the index serving afterwards.
    pub(crate) async fn refresh(&self, tenant: TenantId) -> Result<Arc<LoadedKnowledge>, AgentError> {
        self.inner.refresh(tenant).await
    }

    /// Reads the tenant's version in a background task if `check_every` has passed since the
    /// last read and none is running.
    fn check_if_due(&self, tenant: TenantId) {
        let due = {
            let mut checks = self.inner.checks.lock().unwrap_or_else(PoisonError::into_inner);
            let check = checks.entry(tenant).or_insert(Check { at: Instant::now(), running: false });
            let due = !check.running && check.at.elapsed() >= self.inner.check_every;
            if due {
                check.running = true;
            }
            due
        };
        if !due {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.checked(tenant);
            return;
        };
        let inner = self.inner.clone();
        runtime.spawn(async move {
            // Marks the check done even if the reload panics, so checks go on.
            struct Done(Arc<Inner>, TenantId);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.checked(self.1);
                }
            }
            let done = Done(inner.clone(), tenant);
            if let Err(e) = inner.refresh(tenant).await {
                tracing::warn!(%tenant, error = %e, "checking the tenant's knowledge version failed; the loaded index keeps serving");
            }
            drop(done);
        });
    }
}

impl Inner {
    fn embedder(&self) -> Option<&dyn Embedder> {
        self.embedder.as_deref()
    }

    fn checked(&self, tenant: TenantId) {
        let mut checks = self.checks.lock().unwrap_or_else(PoisonError::into_inner);
        checks.insert(tenant, Check { at: Instant::now(), running: false });
    }

    async fn refresh(&self, tenant: TenantId) -> Result<Arc<LoadedKnowledge>, AgentError> {
        let stored = self.store.knowledge().current_version(tenant).await?.unwrap_or(0);
        if let Some(loaded) = self.loaded(tenant)?
            && loaded.version == stored
        {
            return Ok(loaded);
        }
        let _loading = self.loads.acquire(tenant).await;
        let before = self.loaded(tenant)?;
        // Read again under the lock: refreshes that piled up behind a reload (a thousand
        // documents uploaded, a job each) are all served by it when it loaded the version that
        // is current now, instead of each reloading the whole index in turn.
        let stored = self.store.knowledge().current_version(tenant).await?.unwrap_or(0);
        if let Some(loaded) = &before
            && loaded.version == stored
        {
            // Reloaded while this one waited for the lock.
            return Ok(loaded.clone());
        }
        self.load(tenant).await?;
        let after = self.loaded(tenant)?.ok_or_else(|| AgentError::Internal("index vanished after load".into()))?;
        if let Some(before) = before {
            let retired = before.chunk_ids.difference(&after.chunk_ids).count();
            let added = after.chunk_ids.difference(&before.chunk_ids).count();
            tracing::info!(%tenant, from = before.version, to = after.version, retired, added, "knowledge version changed; index reloaded");
        }
        Ok(after)
    }

    /// Loads the tenant's policy index and catalogue; the caller holds its `loads` lock.
    async fn load(&self, tenant: TenantId) -> Result<usize, AgentError> {
        // Before the chunks: a version published in between is then seen as newer and reloaded.
        let version = self.store.knowledge().current_version(tenant).await?.unwrap_or(0);
        let index = match TenantIndex::load(&self.store, tenant, self.embedder()).await {
            Ok(index) => index,
            Err(tria_rag::RagError::Embed(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding chunks failed; loading a BM25-only index");
                TenantIndex::load(&self.store, tenant, None).await?
            }
            Err(e) => return Err(e.into()),
        };
        let chunk_ids = index.chunks().iter().map(|c| c.id).collect();
        let loaded = Arc::new(LoadedKnowledge { index: Arc::new(index), version, chunk_ids });
        let len = loaded.index.len();
        let products = match ProductIndex::load(&self.store, tenant, self.embedder()).await {
            Ok(products) => products,
            Err(tria_rag::RagError::Embed(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding the catalogue failed; loading a BM25-only catalogue");
                ProductIndex::load(&self.store, tenant, None).await?
            }
            Err(e) => return Err(e.into()),
        };
        self.catalogues.write().map_err(|_| AgentError::Internal("catalogue lock poisoned".into()))?.insert(tenant, Arc::new(products));
        self.indexes.write().map_err(|_| AgentError::Internal("index lock poisoned".into()))?.insert(tenant, loaded);
        self.checked(tenant);
        Ok(len)
    }

    fn loaded(&self, tenant: TenantId) -> Result<Option<Arc<LoadedKnowledge>>, AgentError> {
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
        let registry = Arc::new(TenantIndexes::new(db.store.clone(), None, super::DEFAULT_KNOWLEDGE_CHECK));
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
