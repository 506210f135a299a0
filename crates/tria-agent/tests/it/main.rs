//! tria-agent end to end on a fresh SQLite store seeded with the demo fixtures.

mod begin_turn;
mod cache;
mod components;
mod conversation;
mod intent_fallback;
mod knowledge_versions;
mod language;
mod llm;
mod order_replies;
mod orders;
mod persist;
mod personal_data;
mod replicas;
mod replies;
mod safety;
mod semantic_cache;
mod streaming;
mod transcript;
mod verification;

use std::collections::BTreeMap;

use tria_core::TenantContext;
use tria_testkit::TestDb;

/// A seeded database and its Northwind tenant.
pub(crate) async fn seeded() -> (TestDb, TenantContext) {
    let db = tria_testkit::sqlite().await;
    let seeded = tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &BTreeMap::new()).await.expect("seed");
    let tenant = seeded.into_iter().find(|t| t.tenant.slug == "northwind").expect("northwind fixture").tenant;
    (db, tenant)
}
