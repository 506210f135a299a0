//! The store's typed error: what the caller asked for that does not exist or conflicts, versus
//! the database being unreachable or failing.

use sea_orm::DbErr;

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
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(err.to_string()),
            // SQLite's busy timeout ran out: contention, not a broken request, so retrying works.
            _ if is_busy(&err) => StoreError::Unavailable(err.to_string()),
            _ => match err.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(what)) => StoreError::Conflict(what),
                _ => StoreError::Database(err),
            },
        }
    }
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
}
