//! tria-secrets against a real store: SQLite always, PostgreSQL when `TRIA_TEST_POSTGRES_URL`
//! is set.

mod rotation;
mod store;

use tria_core::{TenantContext, ToneProfile};
use tria_store::Store;
use tria_store::repo::NewTenant;

pub(crate) async fn tenant(store: &Store, slug: &str) -> TenantContext {
    store
        .tenants()
        .create(NewTenant {
            name: format!("Tenant {slug}"),
            slug: slug.into(),
            currency: "USD".into(),
            tone: ToneProfile::default(),
            settings: serde_json::json!({}),
        })
        .await
        .expect("create tenant")
}
