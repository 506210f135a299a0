//! Connecting, migrating and health-checking the database.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend};
use sea_orm_migration::MigratorTrait;

use crate::repo::DirectWriter;
use crate::{Db, Migrator, StoreError};

/// Pool and connection settings (from `[database]` in config).
#[derive(Clone, Debug)]
pub struct DbOptions {
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

impl DbOptions {
    /// Sensible pool settings for `url`; used by tests and tools.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What the pool looks like right now, for `/admin/db/pool` and metrics.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PoolStats {
    pub backend: &'static str,
    pub size: u32,
    pub idle: u32,
    pub in_use: u32,
    pub max_connections: u32,
}

/// A handle on the database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// For a SQLite file, the connection group-committed exchanges are written through
    /// (`repo::exchanges::direct`); `None` where `db` serves for that too.
    exchange_writer: Option<Arc<DirectWriter>>,
    max_connections: u32,
}

fn connect_options(opts: &DbOptions, max_connections: u32, min_connections: u32) -> ConnectOptions {
    let mut connect = ConnectOptions::new(opts.url.clone());
    connect
        .max_connections(max_connections)
        .min_connections(min_connections)
        .acquire_timeout(opts.acquire_timeout)
        .connect_timeout(opts.acquire_timeout)
        .idle_timeout(opts.idle_timeout)
        .max_lifetime(opts.max_lifetime)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .create_if_missing(true)
                // Deleted content is zeroed, not left in free pages: an erased customer's text
                // must not survive in the file (`customer_data`, docs/DATA.md).
                .pragma("secure_delete", "ON")
        });
    connect
}

/// The busy timeout of every SQLite connection: concurrent writers wait this long for the lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An in-memory SQLite database exists once per connection pool: a second pool would open a
/// second, empty database.
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl Store {
    /// Opens the pool. SQLite runs in WAL mode with a busy timeout so readers never block the
    /// writer and concurrent writers wait rather than fail.
    pub async fn connect(opts: &DbOptions) -> Result<Self, StoreError> {
        let connect = connect_options(opts, opts.max_connections, opts.min_connections);
        let db = Database::connect(connect).await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let exchange_writer = match db.get_database_backend() {
            // The pool has created the file by now (`create_if_missing`).
            DbBackend::Sqlite if !in_memory(&opts.url) => {
                let options = SqliteConnectOptions::from_str(&opts.url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Some(Arc::new(DirectWriter::open(options.get_filename(), SQLITE_BUSY_TIMEOUT)?))
            }
            _ => None,
        };
        Ok(Self { db: Db::new(db), exchange_writer, max_connections: opts.max_connections })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(self.db.pool(), None).await.map_err(StoreError::from)
    }

    /// Migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations(self.db.pool()).await?.len())
    }

    /// The pool, through the wrapper that retries a read whose connection was lost.
    pub fn connection(&self) -> &Db {
        &self.db
    }

    /// The writer the chat pipeline's group commit uses on a SQLite file.
    pub(crate) fn exchange_writer(&self) -> Option<&Arc<DirectWriter>> {
        self.exchange_writer.as_ref()
    }

    /// The turn locks this store's backend needs (see `turn_locks.rs`): in-process on SQLite,
    /// PostgreSQL advisory locks on their own connections (at most `options.connections`)
    /// otherwise. Build one per process and share it: each holds its own lock connections.
    pub fn turn_locks(&self, options: crate::TurnLockOptions) -> Arc<dyn crate::TurnLocks> {
        let pool = match self.backend() {
            Backend::Postgres => Some(self.db.pool().get_postgres_connection_pool()),
            Backend::Sqlite => None,
        };
        crate::turn_locks::for_backend(pool, options)
    }

    pub fn backend(&self) -> Backend {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// A round trip to the database, timed.
    pub async fn ping(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(started.elapsed())
    }

    pub fn pool_stats(&self) -> PoolStats {
        let (backend, size, idle) = match self.backend() {
            Backend::Postgres => {
                let pool = self.db.pool().get_postgres_connection_pool();
                ("postgres", pool.size(), u32::try_from(pool.num_idle()).unwrap_or(u32::MAX))
            }
            Backend::Sqlite => {
                let pool = self.db.pool().get_sqlite_connection_pool();
                ("sqlite", pool.size(), u32::try_from(pool.num_idle()).unwrap_or(u32::MAX))
            }
        };
        PoolStats { backend, size, idle, in_use: size.saturating_sub(idle), max_connections: self.max_connections }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        if let Err(err) = self.db.pool().close_by_ref().await {
            tracing::warn!(error = %err, "closing the database pool failed");
        }
    }
}
