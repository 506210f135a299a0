//! Retention (issue 29): transcripts, escalations and audit entries older than a tenant's
//! limits are deleted by [`RetentionJob`], on one replica at a time, in bounded batches.
//!
//! - Transcripts go by their conversation's last activity (`conversations.updated_at`, touched
//!   by every exchange): first the messages of conversations idle past the limit (their
//!   feedback with them), `batch_size` rows per transaction, then the conversations themselves
//!   with their escalations and order drafts. Every message of a conversation idle past the
//!   limit is older than the limit too, so a conversation that comes back to life mid-pass keeps
//!   everything newer than the cut-off; the conversation row is only deleted if it is still idle.
//! - Escalations go by their last change (`escalations.updated_at`), whatever their status.
//! - Audit entries go by their time; entries naming no tenant, or a tenant that no longer
//!   exists, follow the deployment's default.
//!
//! One replica at a time: on PostgreSQL the pass holds `pg_try_advisory_xact_lock` on a fixed
//! key in a transaction on a connection of its own (a replica that finds it held skips its
//! pass; a holder that dies releases it with its backend); on SQLite the store belongs to one
//! process and an in-process lock is enough. Between batches the job yields (and sleeps
//! `pause`), so chat writes are never queued behind a long delete.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions};
use sea_orm::sqlx::{self, Postgres, Transaction};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::Value;
use tria_core::TenantId;
use uuid::Uuid;

use crate::entity::{audit_log, conversation, escalation, message, order_draft};
use crate::repo::NewAuditEntry;
use crate::{Backend, Store, StoreError};

/// The shortest and longest limit, in days, a tenant or the deployment may set.
pub const MIN_DAYS: u32 = 1;
pub const MAX_DAYS: u32 = 3650;

/// The advisory lock key every replica's retention pass takes ("triaretn" in ASCII).
pub const DEFAULT_LOCK_KEY: i64 = 0x7472_6961_7265_746e;

/// The audit actor of a pass's entries.
pub const RETENTION_ACTOR: &str = "system:retention";
/// The audit action of a pass's entries.
pub const RETENTION_ACTION: &str = "retention.purged";

/// How long each kind is kept, in days; `None` keeps it for ever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionPolicy {
    pub transcripts_days: Option<u32>,
    pub escalations_days: Option<u32>,
    pub audit_days: Option<u32>,
}

impl RetentionPolicy {
    /// The tenant's `settings.retention` over the deployment's `defaults`: each key holding a
    /// whole number of days in range wins; an absent or `null` key (or one the admin API would
    /// have refused) leaves the default.
    pub fn for_tenant(settings: &Value, defaults: RetentionPolicy) -> Self {
        let own = |key: &str| {
            settings
                .get("retention")
                .and_then(|r| r.get(key))
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| (MIN_DAYS..=MAX_DAYS).contains(d))
        };
        Self {
            transcripts_days: own("transcripts_days").or(defaults.transcripts_days),
            escalations_days: own("escalations_days").or(defaults.escalations_days),
            audit_days: own("audit_days").or(defaults.audit_days),
        }
    }

    pub fn keeps_everything(&self) -> bool {
        self.transcripts_days.is_none() && self.escalations_days.is_none() && self.audit_days.is_none()
    }
}

/// How the job runs.
#[derive(Clone, Copy, Debug)]
pub struct RetentionOptions {
    /// The deployment's limits (`[retention]`), for tenants that set none of their own.
    pub defaults: RetentionPolicy,
    /// Rows deleted per transaction at most.
    pub batch_size: u64,
    /// Rest between two batches, so other writers get the database in between.
    pub pause: Duration,
    /// The PostgreSQL advisory lock key ([`DEFAULT_LOCK_KEY`]; tests pick their own).
    pub lock_key: i64,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        Self { defaults: RetentionPolicy::default(), batch_size: 500, pause: Duration::from_millis(10), lock_key: DEFAULT_LOCK_KEY }
    }
}

/// Rows removed, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionCounts {
    pub conversations: u64,
    pub messages: u64,
    pub escalations: u64,
    pub audit_entries: u64,
}

impl RetentionCounts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn add(&mut self, other: &RetentionCounts) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.escalations += other.escalations;
        self.audit_entries += other.audit_entries;
    }
}

/// What a pass did for one tenant (`tenant: None`: audit entries of no existing tenant).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TenantPurge {
    pub tenant: Option<TenantId>,
    pub slug: Option<String>,
    pub policy: RetentionPolicy,
    pub removed: RetentionCounts,
    /// Transactions the deletes took.
    pub batches: u64,
}

/// The outcome of one pass.
#[derive(Clone, Debug, PartialEq)]
pub enum RetentionRun {
    /// Another replica holds the retention lock: nothing was done.
    Skipped,
    /// Every tenant with a limit was gone through (tenants that kept everything are not listed).
    Done(Vec<TenantPurge>),
}

/// Cumulative figures of this process's passes, for `/metrics`.
#[derive(Debug, Default)]
pub struct RetentionTotals {
    conversations: AtomicU64,
    messages: AtomicU64,
    escalations: AtomicU64,
    audit_entries: AtomicU64,
    runs_done: AtomicU64,
    runs_skipped: AtomicU64,
    runs_failed: AtomicU64,
}

/// A snapshot of [`RetentionTotals`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionTotalsSnapshot {
    pub removed: RetentionCounts,
    pub runs_done: u64,
    pub runs_skipped: u64,
    pub runs_failed: u64,
}

impl RetentionTotals {
    pub fn snapshot(&self) -> RetentionTotalsSnapshot {
        RetentionTotalsSnapshot {
            removed: RetentionCounts {
                conversations: self.conversations.load(Ordering::Relaxed),
                messages: self.messages.load(Ordering::Relaxed),
                escalations: self.escalations.load(Ordering::Relaxed),
                audit_entries: self.audit_entries.load(Ordering::Relaxed),
            },
            runs_done: self.runs_done.load(Ordering::Relaxed),
            runs_skipped: self.runs_skipped.load(Ordering::Relaxed),
            runs_failed: self.runs_failed.load(Ordering::Relaxed),
        }
    }

    fn record(&self, run: &Result<RetentionRun, StoreError>) {
        match run {
            Ok(RetentionRun::Skipped) => self.runs_skipped.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.runs_failed.fetch_add(1, Ordering::Relaxed),
            Ok(RetentionRun::Done(purges)) => {
                for p in purges {
                    self.conversations.fetch_add(p.removed.conversations, Ordering::Relaxed);
                    self.messages.fetch_add(p.removed.messages, Ordering::Relaxed);
                    self.escalations.fetch_add(p.removed.escalations, Ordering::Relaxed);
                    self.audit_entries.fetch_add(p.removed.audit_entries, Ordering::Relaxed);
                }
                self.runs_done.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Held while a pass runs; [`RetentionLease::release`] lets another replica's pass run.
#[derive(Debug)]
pub struct RetentionLease {
    _held: Held,
}

impl RetentionLease {
    /// Releases the lock now. Dropping also releases it, but sqlx rolls a dropped transaction
    /// back only when its connection is next used, so until then another replica would skip.
    pub async fn release(self) {
        if let Held::Postgres(tx) = self._held
            && let Err(e) = tx.rollback().await
        {
            tracing::warn!(error = %e, "retention lock: rollback failed; the lock ends with the connection");
        }
    }
}

#[derive(Debug)]
enum Held {
    Process(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
    // Dropping the transaction rolls it back, which releases the advisory lock.
    Postgres(#[allow(dead_code)] Transaction<'static, Postgres>),
}

#[derive(Debug)]
enum Lock {
    Process(Arc<tokio::sync::Mutex<()>>),
    Postgres(PgPool),
}

/// The retention job: build one per process and call [`RetentionJob::run`] on a task, or
/// [`RetentionJob::run_once`] from tests.
#[derive(Debug)]
pub struct RetentionJob {
    store: Store,
    options: RetentionOptions,
    lock: Lock,
    totals: Arc<RetentionTotals>,
}

impl RetentionJob {
    pub fn new(store: &Store, options: RetentionOptions) -> Self {
        let lock = match store.backend() {
            Backend::Postgres => {
                let like = store.connection().pool().get_postgres_connection_pool();
                // One connection of its own: the lock is never queued behind the pool's users.
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(10))
                    .idle_timeout(Duration::from_secs(60))
                    .connect_lazy_with((*like.connect_options()).clone());
                Lock::Postgres(pool)
            }
            Backend::Sqlite => Lock::Process(Arc::default()),
        };
        Self {
            store: store.clone(),
            options: RetentionOptions { batch_size: options.batch_size.max(1), ..options },
            lock,
            totals: Arc::default(),
        }
    }

    /// This process's cumulative figures (shared: clone the `Arc` for `/metrics`).
    pub fn totals(&self) -> Arc<RetentionTotals> {
        self.totals.clone()
    }

    /// The retention lock if no other pass holds it, `None` if one does.
    pub async fn try_lock(&self) -> Result<Option<RetentionLease>, StoreError> {
        match &self.lock {
            Lock::Process(mutex) => Ok(mutex.clone().try_lock_owned().ok().map(|g| RetentionLease { _held: Held::Process(g) })),
            Lock::Postgres(pool) => {
                let unavailable = |e: sqlx::Error| StoreError::Unavailable(format!("retention lock: {e}"));
                let mut tx = pool.begin().await.map_err(unavailable)?;
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(self.options.lock_key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                Ok(got.then_some(RetentionLease { _held: Held::Postgres(tx) }))
            }
        }
    }

    /// Runs passes every `every` until `stop` turns true (the first one after `every`).
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            match self.run_once(Utc::now()).await {
                Ok(RetentionRun::Done(purges)) => {
                    let removed = purges.iter().fold(RetentionCounts::default(), |mut sum, p| {
                        sum.add(&p.removed);
                        sum
                    });
                    if !removed.is_empty() {
                        tracing::info!(?removed, tenants = purges.len(), "retention pass removed old data");
                    }
                }
                Ok(RetentionRun::Skipped) => tracing::debug!("retention pass skipped: another replica holds the lock"),
                Err(e) => tracing::warn!(error = %e, "retention pass failed; retrying on the next tick"),
            }
        }
    }

    /// One pass as of `now`, if this replica gets the lock; records one audit entry per tenant
    /// that lost anything.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<RetentionRun, StoreError> {
        let run = self.locked_pass(now).await;
        self.totals.record(&run);
        run
    }

    async fn locked_pass(&self, now: DateTime<Utc>) -> Result<RetentionRun, StoreError> {
        let Some(lease) = self.try_lock().await? else { return Ok(RetentionRun::Skipped) };
        let purges = self.pass(now).await;
        lease.release().await;
        purges.map(RetentionRun::Done)
    }

    async fn pass(&self, now: DateTime<Utc>) -> Result<Vec<TenantPurge>, StoreError> {
        let defaults = self.options.defaults;
        let mut purges = Vec::new();
        let mut tenant_ids = Vec::new();
        for t in self.store.tenants().list().await? {
            tenant_ids.push(t.id.0);
            let policy = RetentionPolicy::for_tenant(&t.settings, defaults);
            if policy.keeps_everything() {
                continue;
            }
            let mut purge = TenantPurge { tenant: Some(t.id), slug: Some(t.slug.clone()), policy, removed: Default::default(), batches: 0 };
            if let Some(days) = policy.transcripts_days {
                self.purge_transcripts(t.id, cutoff(now, days), &mut purge).await?;
            }
            if let Some(days) = policy.escalations_days {
                self.purge_escalations(t.id, cutoff(now, days), &mut purge).await?;
            }
            if let Some(days) = policy.audit_days {
                let scope = sea_orm::Condition::all().add(audit_log::Column::TenantId.eq(t.id.0));
                self.purge_audit(scope, cutoff(now, days), &mut purge).await?;
            }
            self.report(&purge).await?;
            purges.push(purge);
        }
        if let Some(days) = defaults.audit_days {
            let mut purge = TenantPurge { tenant: None, slug: None, policy: defaults, removed: Default::default(), batches: 0 };
            let scope =
                sea_orm::Condition::any().add(audit_log::Column::TenantId.is_null()).add(audit_log::Column::TenantId.is_not_in(tenant_ids));
            self.purge_audit(scope, cutoff(now, days), &mut purge).await?;
            self.report(&purge).await?;
            purges.push(purge);
        }
        Ok(purges)
    }

    /// Between batches: let the chat pipeline's writes in.
    async fn breathe(&self) {
        tokio::task::yield_now().await;
        if !self.options.pause.is_zero() {
            tokio::time::sleep(self.options.pause).await;
        }
    }

    async fn purge_transcripts(&self, tenant: TenantId, before: DateTime<Utc>, purge: &mut TenantPurge) -> Result<(), StoreError> {
        let db = self.store.connection();
        let batch = self.options.batch_size;
        let idle = || {
            Query::select()
                .column(conversation::Column::Id)
                .from(conversation::Entity)
                .and_where(conversation::Column::TenantId.eq(tenant.0))
                .and_where(conversation::Column::UpdatedAt.lt(before))
                .to_owned()
        };
        // Messages first, at most `batch` a transaction (their feedback goes by cascade).
        loop {
            let ids: Vec<Uuid> = message::Entity::find()
                .select_only()
                .column(message::Column::Id)
                .filter(message::Column::TenantId.eq(tenant.0))
                .filter(message::Column::ConversationId.in_subquery(idle()))
                .limit(batch)
                .into_tuple()
                .all(db)
                .await?;
            if ids.is_empty() {
                break;
            }
            let txn = db.begin().await?;
            let gone = message::Entity::delete_many()
                .filter(message::Column::TenantId.eq(tenant.0))
                .filter(message::Column::Id.is_in(ids))
                .filter(message::Column::ConversationId.in_subquery(idle()))
                .exec(&txn)
                .await?
                .rows_affected;
            txn.commit().await?;
            purge.removed.messages += gone;
            purge.batches += 1;
            self.breathe().await;
        }
        // Then the conversations, with their escalations and order drafts.
        loop {
            let ids: Vec<Uuid> = conversation::Entity::find()
                .select_only()
                .column(conversation::Column::Id)
                .filter(conversation::Column::TenantId.eq(tenant.0))
                .filter(conversation::Column::UpdatedAt.lt(before))
                .order_by_asc(conversation::Column::UpdatedAt)
                .limit(batch)
                .into_tuple()
                .all(db)
                .await?;
            if ids.is_empty() {
                break;
            }
            let still_idle = || idle().and_where(conversation::Column::Id.is_in(ids.clone())).to_owned();
            let txn = db.begin().await?;
            purge.removed.escalations += escalation::Entity::delete_many()
                .filter(escalation::Column::TenantId.eq(tenant.0))
                .filter(escalation::Column::ConversationId.in_subquery(still_idle()))
                .exec(&txn)
                .await?
                .rows_affected;
            order_draft::Entity::delete_many()
                .filter(order_draft::Column::TenantId.eq(tenant.0))
                .filter(order_draft::Column::ConversationId.in_subquery(still_idle()))
                .exec(&txn)
                .await?;
            // A message written since the first phase would be newer than the cut-off and have
            // touched the conversation: the conversation is then no longer idle and stays.
            let gone = conversation::Entity::delete_many()
                .filter(conversation::Column::TenantId.eq(tenant.0))
                .filter(conversation::Column::Id.is_in(ids.clone()))
                .filter(conversation::Column::UpdatedAt.lt(before))
                .exec(&txn)
                .await?
                .rows_affected;
            txn.commit().await?;
            purge.removed.conversations += gone;
            purge.batches += 1;
            self.breathe().await;
            if gone == 0 {
                // Every selected row came back to life: the next select would find them again.
                break;
            }
        }
        Ok(())
    }

    async fn purge_escalations(&self, tenant: TenantId, before: DateTime<Utc>, purge: &mut TenantPurge) -> Result<(), StoreError> {
        let db = self.store.connection();
        loop {
            let ids: Vec<Uuid> = escalation::Entity::find()
                .select_only()
                .column(escalation::Column::Id)
                .filter(escalation::Column::TenantId.eq(tenant.0))
                .filter(escalation::Column::UpdatedAt.lt(before))
                .order_by_asc(escalation::Column::UpdatedAt)
                .limit(self.options.batch_size)
                .into_tuple()
                .all(db)
                .await?;
            if ids.is_empty() {
                return Ok(());
            }
            let txn = db.begin().await?;
            let gone = escalation::Entity::delete_many()
                .filter(escalation::Column::TenantId.eq(tenant.0))
                .filter(escalation::Column::Id.is_in(ids))
                .filter(escalation::Column::UpdatedAt.lt(before))
                .exec(&txn)
                .await?
                .rows_affected;
            txn.commit().await?;
            purge.removed.escalations += gone;
            purge.batches += 1;
            self.breathe().await;
            if gone == 0 {
                return Ok(());
            }
        }
    }

    async fn purge_audit(&self, scope: sea_orm::Condition, before: DateTime<Utc>, purge: &mut TenantPurge) -> Result<(), StoreError> {
        let db = self.store.connection();
        loop {
            let seqs: Vec<i64> = audit_log::Entity::find()
                .select_only()
                .column(audit_log::Column::Seq)
                .filter(scope.clone())
                .filter(audit_log::Column::CreatedAt.lt(before))
                .order_by_asc(audit_log::Column::Seq)
                .limit(self.options.batch_size)
                .into_tuple()
                .all(db)
                .await?;
            if seqs.is_empty() {
                return Ok(());
            }
            let txn = db.begin().await?;
            let gone = audit_log::Entity::delete_many().filter(audit_log::Column::Seq.is_in(seqs)).exec(&txn).await?.rows_affected;
            txn.commit().await?;
            purge.removed.audit_entries += gone;
            purge.batches += 1;
            self.breathe().await;
        }
    }

    /// One audit entry for a tenant that lost anything (the counts, never content).
    async fn report(&self, purge: &TenantPurge) -> Result<(), StoreError> {
        if purge.removed.is_empty() {
            return Ok(());
        }
        let tenant = purge.tenant.zip(purge.slug.clone());
        let target = purge.slug.clone().unwrap_or_else(|| "deployment".to_owned());
        self.store
            .audit()
            .append(NewAuditEntry {
                tenant,
                actor_key_id: None,
                actor_role: "system".to_owned(),
                action: RETENTION_ACTION.to_owned(),
                target,
                request_id: RETENTION_ACTOR.to_owned(),
                details: serde_json::json!({
                    "actor": RETENTION_ACTOR,
                    "removed": purge.removed,
                    "policy": purge.policy,
                    "batches": purge.batches,
                }),
            })
            .await?;
        Ok(())
    }
}

/// Rows last changed before this are past a limit of `days`.
fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tenant_limit_wins_over_the_default_and_null_or_bad_values_leave_it() {
        let defaults = RetentionPolicy { transcripts_days: Some(90), escalations_days: None, audit_days: Some(400) };
        let own = RetentionPolicy::for_tenant(&json!({ "retention": { "transcripts_days": 30, "escalations_days": 365 } }), defaults);
        assert_eq!(own, RetentionPolicy { transcripts_days: Some(30), escalations_days: Some(365), audit_days: Some(400) });
        let none = RetentionPolicy::for_tenant(&json!({ "retention": { "transcripts_days": null, "audit_days": 0 } }), defaults);
        assert_eq!(none, defaults);
        assert_eq!(RetentionPolicy::for_tenant(&json!({}), RetentionPolicy::default()), RetentionPolicy::default());
        assert!(RetentionPolicy::default().keeps_everything());
        let too_long = RetentionPolicy::for_tenant(&json!({ "retention": { "escalations_days": 3651 } }), defaults);
        assert_eq!(too_long.escalations_days, None);
    }

    #[test]
    fn the_cutoff_is_whole_days_before_now() {
        let now = Utc::now();
        assert_eq!(now - cutoff(now, 90), chrono::Duration::days(90));
    }
}
