//! The group commit's writer on a SQLite file: a connection of its own, opened with rusqlite,
//! that binds each row's values straight into statements prepared once and kept.
//!
//! Why not sqlx, like every other query: on the cache-hit path storing the exchange was ~70 %
//! of the server's CPU (the same build serves 48k cached req/s with the write skipped and 14k
//! with it), and the write is serial — one SQLite writer — so its length per batch is what
//! bounds throughput. Through sqlx a batch was encoded to JSON on a tokio worker, handed to
//! sqlx's connection thread three times (BEGIN, the statements, COMMIT), and unpacked again
//! by SQLite's JSON functions (a sixth of that thread). Here the batch goes to a blocking-pool
//! thread in one hand-off and each value is bound where it lies: no encoding, no parsing.
//! (`block_in_place` on the writer task's own thread, which avoids copying the batch, was
//! slower: the replies it woke from a thread without a worker queued behind other work.)
//!
//! Values are written exactly as sqlx binds them, so rows read back the same through sea-orm:
//! UUIDs as 16-byte BLOBs, timestamps as RFC 3339 text (`SecondsFormat::AutoSi`), dates as
//! `YYYY-MM-DD`, JSON columns as compact JSON text. A test writes one exchange with every field
//! set through this path and the portable one and compares what reads back.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};
use sea_orm::DbErr;
use tria_core::ConversationStatus;
use uuid::Uuid;

use super::{MeteredExchange, UsageDays, continued_conversations, sqlite_timestamp as timestamp};
use crate::StoreError;
use crate::repo::conversations::NewMessage;

const INSERT_CONVERSATION: &str = "INSERT INTO conversations \
(id, tenant_id, customer_id, channel, status, resolution, started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7)";

const TOUCH_CONVERSATION: &str = "UPDATE conversations SET updated_at = ?3 WHERE id = ?1 AND tenant_id = ?2";

const INSERT_MESSAGE: &str = "INSERT INTO messages \
(id, tenant_id, conversation_id, role, content, intent, confidence, sources, tokens_in, tokens_out, latency_ms, \
cache_level, created_at, prompt_version, cost_usd, sentiment) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

const ADD_USAGE: &str = concat!(
    "INSERT INTO tenant_usage_daily \
(tenant_id, day, messages, tokens_in, tokens_out, cost_usd, cache_l1, cache_l2, cache_l3, tokens_saved, updated_at) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    add_to_usage_day!()
);

/// Pages the WAL may grow to before this writer checkpoints it (SQLite's default is 1,000).
/// Every reply waits for its batch's commit, and a checkpoint after a commit holds the next
/// batch up while it copies the WAL into the database and fsyncs both: its length is the
/// cache-hit path's p99. Measured at 16 / 64 connections (PERFORMANCE.md): 4,000 pages — the
/// sqlx writer's setting — p99 13.5 / 18.5 ms; 1,000: 5.1 / 7.9 ms; 500: 3.6 / 7.0 ms, at the
/// same throughput. A background checkpointer thread was no better, and left to itself
/// (PASSIVE, the writer never checkpointing) the WAL never restarted and grew to 4 GB.
const WAL_AUTOCHECKPOINT: u32 = 500;

/// One connection used for nothing but batches of exchanges. SQLite drops a connection's page
/// cache whenever another connection has written since its last transaction; one writer keeps
/// its cache — the right edge of every index — and its prepared statements warm.
#[derive(Debug)]
pub(crate) struct DirectWriter {
    connection: Mutex<Connection>,
}

impl DirectWriter {
    /// Opens `path` (the database the pool has opened and migrated) with the pool's settings.
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(path, flags).map_err(opening)?;
        connection.busy_timeout(busy_timeout).map_err(opening)?;
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}; PRAGMA secure_delete = ON;"
            ))
            .map_err(opening)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    /// Writes the batch's conversations, messages and usage (`days`) in one transaction,
    /// blocking the calling thread until it is committed or rolled back.
    pub(crate) fn write(&self, batch: &[MeteredExchange], days: &UsageDays) -> Result<(), StoreError> {
        let mut connection = self.connection.lock().map_err(|_| StoreError::Unavailable("the exchange writer failed earlier".into()))?;
        // IMMEDIATE takes the write lock at BEGIN (waiting up to the busy timeout), so no
        // statement inside meets SQLITE_BUSY half-way. Dropped without `commit`, it rolls back.
        let txn = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
        {
            let mut insert = txn.prepare_cached(INSERT_CONVERSATION).map_err(failed)?;
            for item in batch {
                let Some(new) = &item.exchange.opens_conversation else { continue };
                insert
                    .execute(params![
                        blob(&item.exchange.conversation.0),
                        blob(&item.tenant.0),
                        new.customer.as_ref().map(|c| blob(&c.0)),
                        new.channel,
                        ConversationStatus::Open.as_str(),
                        timestamp(item.exchange.user.created_at),
                        timestamp(item.exchange.assistant.created_at),
                    ])
                    .map_err(failed)?;
            }
        }
        {
            let mut touch = txn.prepare_cached(TOUCH_CONVERSATION).map_err(failed)?;
            for ((tenant, id), at) in continued_conversations(batch) {
                // No row: the session does not exist or is another tenant's.
                if touch.execute(params![blob(&id), blob(&tenant), timestamp(at)]).map_err(failed)? == 0 {
                    return Err(StoreError::NotFound(format!("session {id}")));
                }
            }
        }
        {
            let mut insert = txn.prepare_cached(INSERT_MESSAGE).map_err(failed)?;
            for item in batch {
                for message in [&item.exchange.user, &item.exchange.assistant] {
                    insert_message(&mut insert, item, message)?;
                }
            }
        }
        {
            let mut add = txn.prepare_cached(ADD_USAGE).map_err(failed)?;
            let now = timestamp(Utc::now());
            for ((tenant, day), totals) in days {
                add.execute(params![
                    blob(tenant),
                    day.format("%F").to_string(),
                    totals.messages,
                    totals.tokens_in,
                    totals.tokens_out,
                    totals.cost_usd,
                    totals.cache_l1,
                    totals.cache_l2,
                    totals.cache_l3,
                    totals.tokens_saved,
                    now,
                ])
                .map_err(failed)?;
            }
        }
        txn.commit().map_err(failed)
    }
}

fn insert_message(insert: &mut rusqlite::CachedStatement<'_>, item: &MeteredExchange, m: &NewMessage) -> Result<(), StoreError> {
    let sources = serde_json::to_string(&m.sources).map_err(|e| StoreError::Invalid(format!("encoding sources: {e}")))?;
    insert
        .execute(params![
            blob(&m.id),
            blob(&item.tenant.0),
            blob(&item.exchange.conversation.0),
            m.role.as_str(),
            m.content,
            m.intent.map(|(label, _)| label.as_str()),
            m.intent.map(|(_, confidence)| f64::from(confidence)),
            sources,
            m.tokens_in,
            m.tokens_out,
            m.latency_ms,
            m.cache_level.map(|c| c.as_str()),
            timestamp(m.created_at),
            m.prompt_version,
            m.cost_usd,
            m.sentiment,
        ])
        .map_err(failed)?;
    Ok(())
}

/// As sqlx binds a `Uuid` for SQLite.
fn blob(id: &Uuid) -> &[u8] {
    id.as_bytes()
}

/// A primary key or unique index already holding the value (SQLite's extended result codes).
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _)
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

fn opening(err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("opening the exchange writer: {err}"))
}

/// The store's error for a failed statement, classified as the sqlx path classifies it: a busy
/// database is unavailable (retrying works), a unique key taken is a conflict.
fn failed(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(err.to_string()),
        Some(ErrorCode::ConstraintViolation) if is_unique_violation(&err) => StoreError::Conflict(err.to_string()),
        _ => StoreError::Database(DbErr::Custom(format!("writing exchanges: {err}"))),
    }
}
