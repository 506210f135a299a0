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
            _ => match err.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(what)) => StoreError::Conflict(what),
                _ => StoreError::Database(err),
            },
        }
    }
}

impl StoreError {
    /// True when retrying later may succeed (the database, not the request, is the problem).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
