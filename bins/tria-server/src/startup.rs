//! Turning validated settings into running components: data directory, database (migrated),
//! demo data on an empty database, the agent with each tenant's index loaded, the cache.

use std::sync::Arc;

use tria_agent::Agent;
use tria_agent::setup::{SeededTenant, seed_from_fixtures};
use tria_cache::MemoryCache;
use tria_config::Settings;
use tria_store::{DbOptions, Store};

use crate::state::{AppState, ServiceSettings};

/// In-memory cache budget until the cache levels are configurable.
const MEMORY_CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Database(#[from] tria_store::StoreError),
    #[error("seeding demo data: {0}")]
    Seed(#[from] tria_agent::AgentError),
}

/// What start-up did, for the log.
#[derive(Debug, Default)]
pub struct StartupReport {
    pub seeded: Vec<SeededTenant>,
    pub tenants: usize,
}

pub fn db_options(settings: &Settings) -> DbOptions {
    let d = &settings.database;
    DbOptions {
        url: d.url.clone(),
        max_connections: d.max_connections,
        min_connections: d.min_connections,
        acquire_timeout: d.acquire_timeout,
        idle_timeout: d.idle_timeout,
        max_lifetime: d.max_lifetime,
    }
}

/// Connects and migrates the database named in `settings`, creating the data directory the
/// default SQLite file lives in.
pub async fn open_store(settings: &Settings) -> Result<Store, StartupError> {
    if settings.database.url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartupError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    }
    let store = Store::connect(&db_options(settings)).await?;
    store.migrate().await?;
    Ok(store)
}

/// Builds every component the service needs.
pub async fn build_state(settings: &Settings) -> Result<(AppState, StartupReport), StartupError> {
    let store = open_store(settings).await?;
    let mut report = StartupReport::default();
    if settings.seed.demo_on_empty && store.tenants().count().await? == 0 {
        if settings.fixtures_dir.join("tenants").is_dir() {
            report.seeded = seed_from_fixtures(&store, &settings.fixtures_dir, &settings.seed.demo_keys).await?;
        } else {
            tracing::warn!(dir = %settings.fixtures_dir.display(), "no demo fixtures found; starting with an empty database");
        }
    }
    let agent = Agent::builder(store.clone()).build();
    let tenants = store.tenants().list().await?;
    report.tenants = tenants.len();
    for tenant in &tenants {
        let chunks = agent.reload_index(tenant.id).await?;
        tracing::debug!(tenant = %tenant.slug, chunks, "policy index loaded");
    }
    let service = ServiceSettings {
        body_limit_bytes: settings.server.body_limit_bytes,
        request_timeout: settings.server.request_timeout,
        ..ServiceSettings::default()
    };
    let state = AppState::new(store, agent, Arc::new(MemoryCache::new(MEMORY_CACHE_BYTES)), Vec::new(), service);
    Ok((state, report))
}
