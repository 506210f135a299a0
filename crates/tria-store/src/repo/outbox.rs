//! The integration outbox as a work queue. Workers *lease* due rows: a lease is a token and an
//! expiry written in one atomic statement, so two workers never hold the same row, and a row
//! whose worker died becomes due again when its lease expires. Every later step (complete, retry,
//! fail) presents the token and does nothing if the lease was lost meanwhile.
//!
//! Leasing is the one cross-tenant operation: the queue serves every tenant. Each leased row
//! carries its tenant, and everything read for it afterwards is filtered by that tenant.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement, TransactionTrait,
    Value,
};
use tria_core::OrderStatus;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{order, order_escalation, order_item, outbox, product};
use crate::records::{IntoRecords, OutboxJob};

/// Outbox row states.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const LEASED: &str = "leased";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

/// Rows per state, for metrics and the chaos run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub leased: u64,
    pub done: u64,
    pub failed: u64,
}

/// Work of one kind not done yet (pending or leased rows, every tenant), for the backlog gauges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub kind: String,
    pub depth: u64,
    /// When the oldest of those rows was written.
    pub oldest_created_at: Option<DateTime<Utc>>,
}

/// What happened to a lease-holding update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    Applied,
    /// The lease expired and another worker holds the row now; nothing was written.
    LeaseLost,
}

#[derive(Clone, Copy, Debug)]
pub struct OutboxRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The order an invoice job is about (its payload is `{"order_id": …}`).
pub fn job_order_id(job: &OutboxJob) -> Result<Uuid, StoreError> {
    job.payload
        .get("order_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| StoreError::Invalid(format!("outbox row {} has no order_id", job.id)))
}

impl OutboxRepo<'_> {
    /// Leases up to `limit` due rows of `kind` for `lease_for`: pending rows whose time has come
    /// and leased rows whose lease has expired. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets
    /// concurrent workers pass each other; SQLite runs the single UPDATE under its one writer lock.
    pub async fn lease_due(&self, kind: &str, lease_for: Duration, limit: u32, now: DateTime<Utc>) -> Result<Vec<OutboxJob>, StoreError> {
        let backend = self.db.get_database_backend();
        let token = Uuid::new_v4().to_string();
        let expires = now + chrono_duration(lease_for);
        let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE integration_outbox SET state = 'leased', lease_token = ?, lease_expires_at = ?, updated_at = ? \
             WHERE id IN (SELECT id FROM integration_outbox WHERE kind = ? \
               AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'leased' AND lease_expires_at <= ?)) \
               ORDER BY next_attempt_at LIMIT ?{lock}) \
             RETURNING *"
        );
        let values: Vec<Value> =
            vec![token.into(), expires.into(), now.into(), kind.to_owned().into(), now.into(), now.into(), i64::from(limit).into()];
        let stmt = Statement::from_sql_and_values(backend, numbered_placeholders(&sql, backend), values);
        Ok(outbox::Entity::find().from_raw_sql(stmt).all(self.db).await?.records())
    }

    /// Gives a leased row back without counting an attempt (e.g. the circuit breaker is open and
    /// no call was made); it becomes due at `at`.
    pub async fn defer(&self, job: &OutboxJob, at: DateTime<Utc>) -> Result<LeaseOutcome, StoreError> {
        self.release(self.db, job, at, None, false).await
    }

    /// Like [`OutboxRepo::defer`], keeping `note` as the row's last error (why it waits).
    pub async fn defer_with_note(&self, job: &OutboxJob, at: DateTime<Utc>, note: &str) -> Result<LeaseOutcome, StoreError> {
        self.release(self.db, job, at, Some(note), false).await
    }

    /// Records a failed attempt and makes the row due again at `at`.
    pub async fn retry_later(&self, job: &OutboxJob, error: &str, at: DateTime<Utc>) -> Result<LeaseOutcome, StoreError> {
        self.release(self.db, job, at, Some(error), true).await
    }

    async fn release(
        &self,
        db: &impl ConnectionTrait,
        job: &OutboxJob,
        at: DateTime<Utc>,
        error: Option<&str>,
        count_attempt: bool,
    ) -> Result<LeaseOutcome, StoreError> {
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::State, Expr::value(state::PENDING))
            .col_expr(outbox::Column::LeaseToken, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(at))
            .col_expr(outbox::Column::UpdatedAt, Expr::value(Utc::now()));
        if count_attempt {
            update = update.col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1));
        }
        if let Some(error) = error {
            update = update.col_expr(outbox::Column::LastError, Expr::value(error.to_owned()));
        }
        let result = fenced(update, job).exec(db).await?;
        Ok(if result.rows_affected == 1 { LeaseOutcome::Applied } else { LeaseOutcome::LeaseLost })
    }

    /// Closes a job that no longer needs a call (its order was cancelled or already invoiced),
    /// keeping `note` as the reason.
    pub async fn skip(&self, job: &OutboxJob, note: &str) -> Result<LeaseOutcome, StoreError> {
        let result = fenced(
            outbox::Entity::update_many()
                .col_expr(outbox::Column::State, Expr::value(state::DONE))
                .col_expr(outbox::Column::LeaseToken, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(outbox::Column::LastError, Expr::value(note.to_owned()))
                .col_expr(outbox::Column::UpdatedAt, Expr::value(Utc::now())),
            job,
        )
        .exec(self.db)
        .await?;
        Ok(if result.rows_affected == 1 { LeaseOutcome::Applied } else { LeaseOutcome::LeaseLost })
    }

    /// Marks the invoice job done and the order `invoiced` with the accounting system's ids, in
    /// one transaction. An order no longer `confirmed` (e.g. cancelled meanwhile) is left as is.
    pub async fn complete_invoice(&self, job: &OutboxJob, invoice_id: &str, invoice_number: &str) -> Result<LeaseOutcome, StoreError> {
        self.complete_invoice_then(job, invoice_id, invoice_number, None).await
    }

    /// [`OutboxRepo::complete_invoice`], and when the order became `invoiced`, queues a job of
    /// `follow_up` for it (e.g. emailing the invoice) in the same transaction: the invoice is
    /// never recorded without its follow-up, nor followed up twice (one job per order and kind).
    pub async fn complete_invoice_then(
        &self,
        job: &OutboxJob,
        invoice_id: &str,
        invoice_number: &str,
        follow_up: Option<&str>,
    ) -> Result<LeaseOutcome, StoreError> {
        let order_id = job_order_id(job)?;
        let txn = self.db.begin().await?;
        let now = Utc::now();
        let done = fenced(
            outbox::Entity::update_many()
                .col_expr(outbox::Column::State, Expr::value(state::DONE))
                .col_expr(outbox::Column::LeaseToken, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::UpdatedAt, Expr::value(now)),
            job,
        )
        .exec(&txn)
        .await?;
        if done.rows_affected != 1 {
            return Ok(LeaseOutcome::LeaseLost);
        }
        let invoiced = order::Entity::update_many()
            .col_expr(order::Column::Status, Expr::value(OrderStatus::Invoiced.as_str()))
            .col_expr(order::Column::InvoiceId, Expr::value(invoice_id.to_owned()))
            .col_expr(order::Column::InvoiceNumber, Expr::value(invoice_number.to_owned()))
            .col_expr(order::Column::UpdatedAt, Expr::value(now))
            .filter(order::Column::TenantId.eq(job.tenant_id))
            .filter(order::Column::Id.eq(order_id))
            .filter(order::Column::Status.eq(OrderStatus::Confirmed.as_str()))
            .exec(&txn)
            .await?;
        if let Some(kind) = follow_up
            && invoiced.rows_affected == 1
        {
            super::orders::queue_job(&txn, tria_core::TenantId(job.tenant_id), kind, order_id).await?;
        }
        txn.commit().await?;
        Ok(LeaseOutcome::Applied)
    }

    /// Gives up on the invoice job and compensates, in one transaction: the job is `failed`, the
    /// order `failed` with `reason`, its reserved stock released, and an open escalation row
    /// created for a person to follow up.
    pub async fn fail_invoice(&self, job: &OutboxJob, reason: &str) -> Result<LeaseOutcome, StoreError> {
        let order_id = job_order_id(job)?;
        let txn = self.db.begin().await?;
        let now = Utc::now();
        let failed = fenced(
            outbox::Entity::update_many()
                .col_expr(outbox::Column::State, Expr::value(state::FAILED))
                .col_expr(outbox::Column::LeaseToken, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(outbox::Column::LastError, Expr::value(reason.to_owned()))
                .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
                .col_expr(outbox::Column::UpdatedAt, Expr::value(now)),
            job,
        )
        .exec(&txn)
        .await?;
        if failed.rows_affected != 1 {
            return Ok(LeaseOutcome::LeaseLost);
        }
        let marked = order::Entity::update_many()
            .col_expr(order::Column::Status, Expr::value(OrderStatus::Failed.as_str()))
            .col_expr(order::Column::FailureReason, Expr::value(reason.to_owned()))
            .col_expr(order::Column::UpdatedAt, Expr::value(now))
            .filter(order::Column::TenantId.eq(job.tenant_id))
            .filter(order::Column::Id.eq(order_id))
            .filter(order::Column::Status.eq(OrderStatus::Confirmed.as_str()))
            .exec(&txn)
            .await?;
        if marked.rows_affected == 1 {
            let items = order_item::Entity::find()
                .filter(order_item::Column::TenantId.eq(job.tenant_id))
                .filter(order_item::Column::OrderId.eq(order_id))
                .all(&txn)
                .await?;
            for item in items {
                product::Entity::update_many()
                    .col_expr(product::Column::Stock, Expr::col(product::Column::Stock).add(item.quantity))
                    .filter(product::Column::TenantId.eq(job.tenant_id))
                    .filter(product::Column::Id.eq(item.product_id))
                    .exec(&txn)
                    .await?;
            }
            order_escalation::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(job.tenant_id),
                order_id: Set(order_id),
                reason: Set(format!("invoice could not be created: {reason}")),
                status: Set("open".into()),
                ticket_ref: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(LeaseOutcome::Applied)
    }

    /// Gives up on a void job: the job is `failed` and an open escalation asks a person to void
    /// the invoice by hand (the order stays `cancelled`), in one transaction.
    pub async fn fail_void(&self, job: &OutboxJob, reason: &str) -> Result<LeaseOutcome, StoreError> {
        self.fail_and_escalate(job, reason, &format!("invoice of a cancelled order could not be voided: {reason}")).await
    }

    /// Gives up on emailing an order's invoice: the job is `failed` and an open escalation asks a
    /// person to send the invoice by hand (the order stays `invoiced`), in one transaction.
    pub async fn fail_email(&self, job: &OutboxJob, reason: &str) -> Result<LeaseOutcome, StoreError> {
        self.fail_and_escalate(job, reason, &format!("invoice could not be emailed to the customer: {reason}")).await
    }

    async fn fail_and_escalate(&self, job: &OutboxJob, reason: &str, escalation: &str) -> Result<LeaseOutcome, StoreError> {
        let order_id = job_order_id(job)?;
        let txn = self.db.begin().await?;
        let now = Utc::now();
        let failed = fenced(
            outbox::Entity::update_many()
                .col_expr(outbox::Column::State, Expr::value(state::FAILED))
                .col_expr(outbox::Column::LeaseToken, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(outbox::Column::LastError, Expr::value(reason.to_owned()))
                .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
                .col_expr(outbox::Column::UpdatedAt, Expr::value(now)),
            job,
        )
        .exec(&txn)
        .await?;
        if failed.rows_affected != 1 {
            return Ok(LeaseOutcome::LeaseLost);
        }
        order_escalation::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(job.tenant_id),
            order_id: Set(order_id),
            reason: Set(escalation.to_owned()),
            status: Set("open".into()),
            ticket_ref: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(LeaseOutcome::Applied)
    }

    /// The newest job of `kind` about an order (e.g. whether its invoice was voided yet).
    pub async fn job_for_order(&self, tenant: tria_core::TenantId, kind: &str, order_id: Uuid) -> Result<Option<OutboxJob>, StoreError> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(tenant.0))
            .filter(outbox::Column::Kind.eq(kind))
            .filter(outbox::Column::IdempotencyKey.eq(format!("{kind}:{order_id}")))
            .one(self.db)
            .await?
            .records())
    }

    /// Rows per state across all tenants (for metrics and the chaos run).
    pub async fn counts(&self, kind: &str) -> Result<OutboxCounts, StoreError> {
        let rows: Vec<(String, i64)> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::State)
            .column_as(outbox::Column::Id.count(), "n")
            .filter(outbox::Column::Kind.eq(kind))
            .group_by(outbox::Column::State)
            .into_tuple()
            .all(self.db)
            .await?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                state::PENDING => counts.pending = n,
                state::LEASED => counts.leased = n,
                state::DONE => counts.done = n,
                state::FAILED => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Pending and leased rows per kind with the oldest one's age (read-only; for `/metrics`).
    pub async fn backlog(&self) -> Result<Vec<OutboxBacklog>, StoreError> {
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Kind)
            .column_as(outbox::Column::Id.count(), "n")
            .column_as(outbox::Column::CreatedAt.min(), "oldest")
            .filter(outbox::Column::State.is_in([state::PENDING, state::LEASED]))
            .group_by(outbox::Column::Kind)
            .into_tuple()
            .all(self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, n, oldest)| OutboxBacklog { kind, depth: u64::try_from(n).unwrap_or(0), oldest_created_at: oldest })
            .collect())
    }
}

/// Restricts an update to the row as leased by this job's holder.
fn fenced(update: sea_orm::UpdateMany<outbox::Entity>, job: &OutboxJob) -> sea_orm::UpdateMany<outbox::Entity> {
    update
        .filter(outbox::Column::Id.eq(job.id))
        .filter(outbox::Column::State.eq(state::LEASED))
        .filter(outbox::Column::LeaseToken.eq(job.lease_token.clone()))
}

/// `?` placeholders as the backend wants them (`$1, $2, …` on PostgreSQL).
pub(crate) fn numbered_placeholders(sql: &str, backend: DbBackend) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}
