//! The background job queue: uploads that index or import are jobs any replica may run. A
//! worker *claims* a job with a lease (a fresh owner token and an expiry written in one atomic
//! statement, as the outbox does), so two workers never run the same job; a job whose worker died
//! becomes claimable again when its lease expires and is retried from the start (each kind makes
//! its steps safe to redo). Progress and the final status are written only by the lease holder.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, Set, Statement, TransactionTrait, Value};
use tria_core::TenantId;
use uuid::Uuid;

use super::LeaseOutcome;
use super::outbox::numbered_placeholders;
use crate::StoreError;
use crate::entity::{job, job_input};
use crate::records::{IntoRecords, Job, JobStatus};

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    pub tenant: TenantId,
    pub payload: serde_json::Value,
    /// Work units expected (0 when unknown until it runs).
    pub total: i64,
    /// The raw input (an uploaded body), kept apart from the job row.
    pub input: Option<Vec<u8>>,
}

#[derive(Clone, Copy, Debug)]
pub struct JobRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl JobRepo<'_> {
    /// Writes a queued job and its input in one transaction.
    pub async fn enqueue(&self, new: NewJob) -> Result<Job, StoreError> {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let txn = self.db.begin().await?;
        let row = job::ActiveModel {
            id: Set(id),
            kind: Set(new.kind),
            tenant_id: Set(new.tenant.0),
            status: Set(JobStatus::Queued.as_str().to_owned()),
            progress_done: Set(0),
            progress_total: Set(new.total),
            errors: Set(serde_json::json!([])),
            payload: Set(new.payload),
            attempts: Set(0),
            lease_owner: Set(None),
            lease_expires_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            finished_at: Set(None),
        }
        .insert(&txn)
        .await?;
        if let Some(body) = new.input {
            job_input::ActiveModel { job_id: Set(id), body: Set(body) }.insert(&txn).await?;
        }
        txn.commit().await?;
        Ok(row.into())
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<Job>, StoreError> {
        Ok(job::Entity::find_by_id(id).one(self.db).await?.records())
    }

    /// The job's raw input, if it has one (it is dropped when the job finishes).
    pub async fn input(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(job_input::Entity::find_by_id(id).one(self.db).await?.map(|row| row.body))
    }

    /// Claims the oldest claimable job of one of `kinds` for `lease_for`: a queued one, or a
    /// running one whose lease has expired (its worker died). Counts an attempt. On PostgreSQL
    /// `FOR UPDATE SKIP LOCKED` lets replicas pass each other; SQLite runs the one UPDATE under
    /// its single writer lock.
    pub async fn claim(&self, kinds: &[&str], lease_for: Duration, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let backend = self.db.get_database_backend();
        let owner = Uuid::new_v4().to_string();
        let expires = now + chrono_duration(lease_for);
        let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let kind_list = vec!["?"; kinds.len()].join(", ");
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?, updated_at = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE kind IN ({kind_list}) \
               AND (status = 'queued' OR (status = 'running' AND lease_expires_at <= ?)) \
               ORDER BY created_at LIMIT 1{lock}) \
             RETURNING *"
        );
        let mut values: Vec<Value> = vec![owner.into(), expires.into(), now.into()];
        values.extend(kinds.iter().map(|k| Value::from((*k).to_owned())));
        values.push(now.into());
        let stmt = Statement::from_sql_and_values(backend, numbered_placeholders(&sql, backend), values);
        Ok(job::Entity::find().from_raw_sql(stmt).one(self.db).await?.records())
    }

    /// Records progress and extends the lease (the worker is alive).
    pub async fn progress(&self, held: &Job, done: i64, total: i64, lease_for: Duration) -> Result<LeaseOutcome, StoreError> {
        let now = Utc::now();
        let update = job::Entity::update_many()
            .col_expr(job::Column::ProgressDone, Expr::value(done))
            .col_expr(job::Column::ProgressTotal, Expr::value(total))
            .col_expr(job::Column::LeaseExpiresAt, Expr::value(now + chrono_duration(lease_for)))
            .col_expr(job::Column::UpdatedAt, Expr::value(now));
        let result = fenced(update, held).exec(self.db).await?;
        Ok(outcome(result.rows_affected))
    }

    /// Extends the lease without touching the progress: the worker is alive but between
    /// progress points (a long validation pass, the swap, the reload after publishing).
    pub async fn renew(&self, held: &Job, lease_for: Duration) -> Result<LeaseOutcome, StoreError> {
        let now = Utc::now();
        let update = job::Entity::update_many()
            .col_expr(job::Column::LeaseExpiresAt, Expr::value(now + chrono_duration(lease_for)))
            .col_expr(job::Column::UpdatedAt, Expr::value(now));
        let result = fenced(update, held).exec(self.db).await?;
        Ok(outcome(result.rows_affected))
    }

    /// Marks the job succeeded and drops its input.
    pub async fn succeed(&self, held: &Job) -> Result<LeaseOutcome, StoreError> {
        self.finish(held, JobStatus::Succeeded, None).await
    }

    /// Marks the job failed with `errors` (a JSON array) and drops its input.
    pub async fn fail(&self, held: &Job, errors: serde_json::Value) -> Result<LeaseOutcome, StoreError> {
        self.finish(held, JobStatus::Failed, Some(errors)).await
    }

    async fn finish(&self, held: &Job, status: JobStatus, errors: Option<serde_json::Value>) -> Result<LeaseOutcome, StoreError> {
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let mut update = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(status.as_str()))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::UpdatedAt, Expr::value(now));
        if let Some(errors) = errors {
            update = update.col_expr(job::Column::Errors, Expr::value(errors));
        }
        let result = fenced(update, held).exec(&txn).await?;
        if result.rows_affected != 1 {
            return Ok(LeaseOutcome::LeaseLost);
        }
        job_input::Entity::delete_by_id(held.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(LeaseOutcome::Applied)
    }

    /// Jobs not finished yet, every tenant (for tests and metrics).
    pub async fn unfinished(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(job::Entity::find()
            .filter(job::Column::Status.is_in([JobStatus::Queued.as_str(), JobStatus::Running.as_str()]))
            .count(self.db)
            .await?)
    }
}

fn outcome(rows: u64) -> LeaseOutcome {
    if rows == 1 { LeaseOutcome::Applied } else { LeaseOutcome::LeaseLost }
}

/// Restricts an update to the job as claimed by this holder.
fn fenced(update: sea_orm::UpdateMany<job::Entity>, held: &Job) -> sea_orm::UpdateMany<job::Entity> {
    update
        .filter(job::Column::Id.eq(held.id))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LeaseOwner.eq(held.lease_owner.clone()))
}
