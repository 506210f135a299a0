//! Tria's persistence: migrations and repositories over SQLite or PostgreSQL, which take and
//! return the plain records of `records` (the sea-orm entities never leave this crate).
//! Every repository call that reads tenant-owned rows takes the tenant, so no query path can
//! return another tenant's data.

pub mod customer_data;
pub(crate) mod entity;
mod error;
pub mod fixtures;
pub mod import_jobs;
pub mod job_lease;
pub mod keyed_locks;
pub mod ledger;
mod migration;
mod pool;
pub mod records;
pub mod repo;
pub mod retention;
mod store;
pub mod turn_locks;
pub mod uploads;

pub use error::StoreError;
pub use migration::Migrator;
pub use pool::Db;
pub use store::{Backend, DbOptions, PoolStats, Store};
pub use turn_locks::{TurnGuard, TurnLockError, TurnLockOptions, TurnLocks};
