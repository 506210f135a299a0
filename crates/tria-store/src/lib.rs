//! Tria's persistence: sea-orm entities, migrations and repositories over SQLite or PostgreSQL.
//! Every repository call that reads tenant-owned rows takes the tenant, so no query path can
//! return another tenant's data.

pub mod entity;
mod error;
pub mod fixtures;
mod migration;
mod pool;
pub mod repo;
mod store;

pub use error::StoreError;
pub use migration::Migrator;
pub use pool::Db;
pub use store::{Backend, DbOptions, PoolStats, Store};
