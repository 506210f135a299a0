//! The store's typed error: what the caller asked for that does not exist or conflicts, versus
//! the database being unreachable or failing.

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match &err {
            // A broken or unobtainable connection: the database, not the request, is at fault.
            _ if is_connection_fault(&err) => StoreError::Unavailable(err.to_string()),
            // SQLite's busy timeout ran out: contention, not a broken request, so retrying works.
            _ if is_busy(&err) => StoreError::Unavailable(err.to_string()),
            _ => match err.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(what)) => StoreError::Conflict(what),
                _ => StoreError::Database(err),
            },
        }
    }
}

/// Whether the connection broke or could not be had: pool timed out or closed, socket reset or
/// closed, the backend terminated (`57P01` admin shutdown, `57P02` crash shutdown), the server
/// not accepting connections (`57P03`, `53300`), a connection exception (`08xxx`). Constraint
/// violations and bad statements are not. A statement that failed this way may succeed on another
/// connection.
pub(crate) fn is_connection_fault(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| is_connection_sqlstate(&code)),
            _ => false,
        },
        _ => false,
    }
}

fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// SQLITE_BUSY / SQLITE_LOCKED, which sqlx reports only through the message.
fn is_busy(err: &DbErr) -> bool {
    let text = err.to_string();
    text.contains("database is locked") || text.contains("database is busy") || text.contains("database table is locked")
}

impl StoreError {
    /// True when retrying later may succeed (the database, not the request, is the problem).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_and_locked_are_unavailable_not_internal() {
        for text in ["database is locked", "(code: 5) database is busy", "database table is locked"] {
            let err = StoreError::from(DbErr::Custom(text.into()));
            assert!(err.is_unavailable(), "{text}: {err:?}");
        }
        assert!(!StoreError::from(DbErr::Custom("syntax error".into())).is_unavailable());
    }

    /// A database error with a SQLSTATE, as PostgreSQL reports one.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error with SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "error"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            match self.0 {
                "23505" => sqlx::error::ErrorKind::UniqueViolation,
                _ => sqlx::error::ErrorKind::Other,
            }
        }
    }

    fn query_err(err: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(err)))
    }

    fn exec_err(err: sqlx::Error) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(err)))
    }

    #[test]
    fn lost_connections_are_unavailable_and_statement_errors_are_not() {
        let io = |kind| sqlx::Error::Io(std::io::Error::from(kind));
        let lost = [
            query_err(sqlx::Error::Database(Box::new(Sqlstate("57P01")))), // admin_shutdown
            exec_err(sqlx::Error::Database(Box::new(Sqlstate("57P02")))),
            query_err(sqlx::Error::Database(Box::new(Sqlstate("08006")))), // connection_failure
            query_err(sqlx::Error::Database(Box::new(Sqlstate("08003")))),
            query_err(io(std::io::ErrorKind::ConnectionReset)),
            exec_err(io(std::io::ErrorKind::UnexpectedEof)),
            query_err(sqlx::Error::Protocol("connection closed".into())),
            query_err(sqlx::Error::PoolTimedOut),
            exec_err(sqlx::Error::PoolClosed),
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
            DbErr::Conn(RuntimeErr::Internal("connection refused".into())),
        ];
        for err in lost {
            assert!(is_connection_fault(&err), "{err:?}");
            assert!(StoreError::from(err).is_unavailable());
        }
        let statement = [
            query_err(sqlx::Error::Database(Box::new(Sqlstate("42601")))), // syntax_error
            exec_err(sqlx::Error::Database(Box::new(Sqlstate("23503")))),  // foreign_key_violation
            query_err(sqlx::Error::RowNotFound),
            query_err(sqlx::Error::ColumnNotFound("x".into())),
            DbErr::Custom("bad".into()),
        ];
        for err in statement {
            assert!(!is_connection_fault(&err), "{err:?}");
            assert!(matches!(StoreError::from(err), StoreError::Database(_)));
        }
    }
}
