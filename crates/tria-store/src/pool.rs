//! The connection every repository runs its statements on: the pool, plus one retry for a read
//! whose connection broke under it (a terminated backend, a reset socket, a failover). A read
//! changes nothing, so running it again on a fresh connection is safe; a write is never run
//! twice here (its outcome is unknown once the connection is gone), nor is a statement inside a
//! transaction (the transaction went with the connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult,
    Statement, TransactionError, TransactionOptions, TransactionTrait,
};

use crate::error::is_connection_fault;

/// The pool, retrying reads once on a lost connection. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    inner: DatabaseConnection,
    retries: Arc<AtomicU64>,
}

impl Db {
    pub(crate) fn new(inner: DatabaseConnection) -> Self {
        Self { inner, retries: Arc::new(AtomicU64::new(0)) }
    }

    /// The pool itself, for what the wrapper does not cover (closing, pool figures).
    pub fn pool(&self) -> &DatabaseConnection {
        &self.inner
    }

    /// SQLite or PostgreSQL (also through [`ConnectionTrait`]; here without the import).
    pub fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    /// Statements run a second time because their connection was lost.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Runs `op`, and once more if it failed on a lost connection and `retryable`.
    async fn run<T, F, Fut>(&self, retryable: bool, op: F) -> Result<T, DbErr>
    where
        F: Fn() -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, DbErr>> + Send,
        T: Send,
    {
        match op().await {
            Err(err) if retryable && is_connection_fault(&err) => {
                self.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "database connection lost under a read; retrying it on a fresh connection");
                op().await
            }
            result => result,
        }
    }
}

/// Whether `sql` only reads: a plain `SELECT` (or `SHOW`/`EXPLAIN`), which may run twice.
/// `WITH` is left out: a common table expression can write.
pub(crate) fn is_read_only(sql: &str) -> bool {
    let head: String = sql.trim_start().chars().take(8).collect::<String>().to_ascii_uppercase();
    ["SELECT", "SHOW", "EXPLAIN"]
        .iter()
        .any(|verb| head.starts_with(verb) && !head[verb.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run(is_read_only(&stmt.sql), || self.inner.execute_raw(stmt.clone())).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.run(is_read_only(sql), || self.inner.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.run(is_read_only(&stmt.sql), || self.inner.query_one_raw(stmt.clone())).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.run(is_read_only(&stmt.sql), || self.inner.query_all_raw(stmt.clone())).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

/// Starting a transaction is retried (nothing has run yet); what runs inside it is not.
#[async_trait::async_trait]
impl TransactionTrait for Db {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.run(true, || self.inner.begin()).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.run(true, || self.inner.begin_with_config(isolation_level, access_mode)).await
    }

    async fn begin_with_options(&self, options: TransactionOptions) -> Result<DatabaseTransaction, DbErr> {
        self.run(true, || self.inner.begin_with_options(options)).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.inner.transaction(callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>> + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.inner.transaction_with_config(callback, isolation_level, access_mode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_reads_are_retried() {
        for sql in ["SELECT 1", "  select \"id\" FROM t", "SELECT\n*", "EXPLAIN SELECT 1", "show search_path"] {
            assert!(is_read_only(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1) RETURNING id",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
            "SELECTED",
            "BEGIN",
            "",
        ] {
            assert!(!is_read_only(sql), "{sql}");
        }
    }
}
