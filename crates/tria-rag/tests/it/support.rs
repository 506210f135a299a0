use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tria_core::TenantContext;
use tria_rag::{Embedder, LocalEmbedder, LocalEmbedderOptions};
use tria_store::Store;

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `TRIA_MODELS_DIR` or the workspace's `models/`.
pub(crate) fn models_dir() -> PathBuf {
    std::env::var_os("TRIA_MODELS_DIR").map_or_else(|| workspace_root().join("models"), PathBuf::from)
}

/// The real model, loaded once per test binary. Missing files fail the test with the fix.
pub(crate) fn embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<Arc<LocalEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let options = LocalEmbedderOptions::new(models_dir());
            match LocalEmbedder::load(&options) {
                Ok(e) => Arc::new(e),
                Err(e) => panic!("these tests need the embedding model; run `cargo xtask model fetch` first ({e})"),
            }
        })
        .clone()
}

/// A fresh store with both demo tenants seeded and their policies chunked.
pub(crate) async fn seeded() -> (tria_testkit::TestDb, Vec<TenantContext>) {
    let db = tria_testkit::sqlite().await;
    let tenants = seed(&db.store).await;
    (db, tenants)
}

pub(crate) async fn seed(store: &Store) -> Vec<TenantContext> {
    let mut out = Vec::new();
    for fixture in tria_store::fixtures::load_all(&workspace_root().join("fixtures")).expect("fixtures") {
        let (tenant, _) = tria_store::fixtures::seed_tenant(store, &fixture, None).await.expect("seed tenant");
        tria_rag::sync_policies(store, tenant.id, &fixture.policies).await.expect("sync policies");
        out.push(tenant);
    }
    out
}

pub(crate) fn tenant<'a>(tenants: &'a [TenantContext], slug: &str) -> &'a TenantContext {
    tenants.iter().find(|t| t.slug == slug).expect("demo tenant")
}
