//! Store integration tests. Every test runs on SQLite and, when `TRIA_TEST_POSTGRES_URL` is
//! set, on PostgreSQL too, each in a fresh database/schema.

mod console;
mod conversations;
mod import_jobs;
mod job_leases;
mod keys;
mod knowledge_jobs;
mod ledger;
mod orders;
mod outbox_backlog;
mod retention;
mod seed;
mod tenancy;
mod turn_locks;
mod uploads;
mod verifications;
mod xero_connections;

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
