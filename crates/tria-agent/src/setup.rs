//! Bringing a database to life: seeding the demo tenants from `fixtures/` (rows, keys and
//! chunked policies). Idempotent: a second run changes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use tria_core::TenantContext;
use tria_store::Store;
use tria_store::fixtures::{self, FixtureError, SeedReport};

use crate::AgentError;

/// What seeding did for one tenant.
#[derive(Clone, Debug)]
pub struct SeededTenant {
    pub tenant: TenantContext,
    pub rows: SeedReport,
    pub policies: tria_rag::IngestReport,
}

impl From<FixtureError> for AgentError {
    fn from(err: FixtureError) -> Self {
        match err {
            FixtureError::Store(e) => e.into(),
            other => AgentError::Internal(other.to_string()),
        }
    }
}

/// Seeds every tenant under `fixtures_dir/tenants`, giving each the demo key named for its
/// slug in `demo_keys`, if any.
pub async fn seed_from_fixtures(
    store: &Store,
    fixtures_dir: &Path,
    demo_keys: &BTreeMap<String, String>,
) -> Result<Vec<SeededTenant>, AgentError> {
    let mut out = Vec::new();
    for fixture in fixtures::load_all(fixtures_dir)? {
        let key = demo_keys.get(&fixture.tenant.slug).map(String::as_str);
        let (tenant, rows) = fixtures::seed_tenant(store, &fixture, key).await?;
        let policies = tria_rag::sync_policies(store, tenant.id, &fixture.policies).await?;
        out.push(SeededTenant { tenant, rows, policies });
    }
    Ok(out)
}
