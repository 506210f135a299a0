//! One turn at a time per conversation, on every replica: the seam the agent's turn lock goes
//! through ([`TurnLocks`]). SQLite is one process's file, so an in-process lock is the whole
//! story ([`InProcessTurnLocks`]); on PostgreSQL several replicas share the conversations, so
//! after the in-process lock a turn also takes a transaction-level advisory lock on a hash of
//! tenant and conversation, on a connection of its own held for the turn ([`PgTurnLocks`]).
//!
//! Why an advisory lock and not a Redis lock with a fencing token: the writes a turn makes go
//! to PostgreSQL, and PostgreSQL itself releases the lock when its holder's connection goes
//! (a replica killed with `kill -9`, a node lost: the backend ends, the transaction with it), so
//! there is no lease to guess and no token to check at every write; Redis is optional, and a
//! lock there would only be as good as a Redis failover. Transaction-level
//! (`pg_advisory_xact_lock`), not session-level: a connection returned to the pool can never
//! keep it (a dropped transaction is rolled back), and it works through a transaction-mode
//! PgBouncer. What it does not cover: if the lock's own backend is terminated while the turn
//! runs, the turn finishes unlocked (its writes go through other connections).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions};
use sea_orm::sqlx::{self, Postgres, Transaction};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;
use tria_core::{ConversationId, TenantId};

use crate::keyed_locks::KeyedLocks;

/// Why a turn could not take its conversation's lock.
#[derive(Debug, thiserror::Error)]
pub enum TurnLockError {
    /// Earlier turns on the conversation (on this replica or another), or every lock connection
    /// being held, kept it waiting past the bound; retrying shortly may work.
    #[error("conversation busy: {0}")]
    Busy(String),
    /// The database could not be reached for the lock.
    #[error("turn lock unavailable: {0}")]
    Unavailable(String),
}

/// Serialises the changes to one conversation: a customer's turn, an operator's take-over,
/// message or hand-back. The guard holds the lock until dropped.
#[async_trait::async_trait]
pub trait TurnLocks: Send + Sync + fmt::Debug {
    async fn acquire(&self, tenant: TenantId, conversation: ConversationId) -> Result<TurnGuard, TurnLockError>;

    /// What the lock spans, for logs and `/health`: `process` or `postgres`.
    fn scope(&self) -> &'static str;
}

/// A conversation's turn lock, held until dropped. Dropping a PostgreSQL hold rolls its
/// transaction back as the connection goes back to the pool, which releases the advisory lock.
pub struct TurnGuard {
    // Declared first so it is dropped first: the replica-wide lock goes before the local one
    // lets this replica's next turn ask for it.
    shared: Option<Transaction<'static, Postgres>>,
    _local: OwnedMutexGuard<()>,
}

impl fmt::Debug for TurnGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnGuard").field("shared", &self.shared.is_some()).finish_non_exhaustive()
    }
}

/// Turns wait for each other within this process only (SQLite, or tests of one replica).
#[derive(Default)]
pub struct InProcessTurnLocks {
    local: KeyedLocks<ConversationId>,
}

impl fmt::Debug for InProcessTurnLocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcessTurnLocks")
    }
}

#[async_trait::async_trait]
impl TurnLocks for InProcessTurnLocks {
    /// Waits as long as the turns before it take: one process's queue is bounded by the
    /// requests it admitted.
    async fn acquire(&self, _tenant: TenantId, conversation: ConversationId) -> Result<TurnGuard, TurnLockError> {
        Ok(TurnGuard { shared: None, _local: self.local.acquire(conversation).await })
    }

    fn scope(&self) -> &'static str {
        "process"
    }
}

/// How many lock connections a replica may hold and how long a turn waits for its lock.
#[derive(Clone, Copy, Debug)]
pub struct TurnLockOptions {
    /// Conversations this replica can have a turn in at once (one connection each), beyond the
    /// store's pool. A turn that finds them all held waits, within `wait`.
    pub connections: u32,
    /// The longest a turn waits for its conversation (earlier turns anywhere, a connection);
    /// past it the turn is refused as busy rather than queued without end.
    pub wait: Duration,
}

impl Default for TurnLockOptions {
    fn default() -> Self {
        Self { connections: 32, wait: Duration::from_secs(30) }
    }
}

/// The in-process lock, then a PostgreSQL advisory lock held in a transaction on a dedicated
/// connection. The in-process lock first means a replica asks PostgreSQL once per
/// conversation, whatever its queue there, so lock connections are bounded by conversations,
/// not messages.
pub struct PgTurnLocks {
    local: KeyedLocks<ConversationId>,
    pool: PgPool,
    wait: Duration,
}

impl fmt::Debug for PgTurnLocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTurnLocks").field("held", &self.held()).field("wait", &self.wait).finish_non_exhaustive()
    }
}

/// PostgreSQL's `lock_not_available`: `lock_timeout` ran out.
const LOCK_NOT_AVAILABLE: &str = "55P03";

impl PgTurnLocks {
    /// Lock connections open to the same server and database as `like` (its URL's options,
    /// e.g. `search_path` and `application_name`, included), opened when first needed.
    pub fn new(like: &PgPool, options: TurnLockOptions) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(options.connections.max(1))
            .min_connections(0)
            .acquire_timeout(options.wait)
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with((*like.connect_options()).clone());
        Self { local: KeyedLocks::default(), pool, wait: options.wait }
    }

    /// Lock connections open now (held by a turn or idle).
    pub fn held(&self) -> u32 {
        self.pool.size().saturating_sub(u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX))
    }

    fn busy(&self, what: &str) -> TurnLockError {
        TurnLockError::Busy(format!("{what} for longer than {} ms", self.wait.as_millis()))
    }

    async fn shared(&self, key: i64, deadline: Instant) -> Result<Transaction<'static, Postgres>, TurnLockError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut tx = match tokio::time::timeout(remaining, self.pool.begin()).await {
            Err(_) | Ok(Err(sqlx::Error::PoolTimedOut)) => return Err(self.busy("waited for a free turn-lock connection")),
            Ok(Err(e)) => return Err(TurnLockError::Unavailable(e.to_string())),
            Ok(Ok(tx)) => tx,
        };
        // lock_timeout 0 would mean no limit: at least a millisecond.
        let remaining = deadline.saturating_duration_since(Instant::now()).as_millis().max(1);
        let set = sqlx::query("SELECT set_config('lock_timeout', $1, true)").bind(format!("{remaining}ms"));
        set.execute(&mut *tx).await.map_err(|e| TurnLockError::Unavailable(e.to_string()))?;
        match sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await {
            Ok(_) => Ok(tx),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
                Err(self.busy("waited for the conversation's earlier turns on another replica"))
            }
            Err(e) => Err(TurnLockError::Unavailable(e.to_string())),
        }
    }
}

#[async_trait::async_trait]
impl TurnLocks for PgTurnLocks {
    async fn acquire(&self, tenant: TenantId, conversation: ConversationId) -> Result<TurnGuard, TurnLockError> {
        let deadline = Instant::now() + self.wait;
        let local = tokio::time::timeout(self.wait, self.local.acquire(conversation))
            .await
            .map_err(|_| self.busy("waited for the conversation's earlier turns on this replica"))?;
        let shared = self.shared(advisory_key(tenant, conversation), deadline).await?;
        Ok(TurnGuard { shared: Some(shared), _local: local })
    }

    fn scope(&self) -> &'static str {
        "postgres"
    }
}

/// The advisory lock's key: the first 8 bytes of SHA-256 over tenant and conversation, so
/// every replica (whatever its build) computes the same one. Another conversation sharing it
/// (odds 2^-64 per pair) only waits for it.
pub fn advisory_key(tenant: TenantId, conversation: ConversationId) -> i64 {
    let mut hash = Sha256::new();
    hash.update(b"tria.turn:");
    hash.update(tenant.0.as_bytes());
    hash.update(conversation.0.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The turn locks a store's backend needs: in-process on SQLite, advisory on PostgreSQL.
pub(crate) fn for_backend(pool: Option<&PgPool>, options: TurnLockOptions) -> Arc<dyn TurnLocks> {
    match pool {
        Some(pool) => Arc::new(PgTurnLocks::new(pool, options)),
        None => Arc::new(InProcessTurnLocks::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_depends_on_tenant_and_conversation_and_nothing_else() {
        let (t, c) = (TenantId::new_random(), ConversationId::new_random());
        assert_eq!(advisory_key(t, c), advisory_key(t, c));
        assert_ne!(advisory_key(t, c), advisory_key(TenantId::new_random(), c));
        assert_ne!(advisory_key(t, c), advisory_key(t, ConversationId::new_random()));
    }
}
