//! Failed customer verifications, counted per subject (a session, a customer number, a client)
//! over a time window. A check records its failure rows *before* it compares number and email
//! and takes them back when the pair was right, so concurrent guesses see each other and no
//! more than the limit are ever compared, on any number of instances.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use tria_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::verification_failure;

/// Longest subject stored; longer ones are cut (customer numbers are short, and cutting only
/// merges what a guesser typed into fewer, fuller counts).
const MAX_SUBJECT_CHARS: usize = 128;

/// What a failure counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerificationScope {
    Session,
    CustomerNumber,
    Client,
}

impl VerificationScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::CustomerNumber => "customer_number",
            Self::Client => "client",
        }
    }
}

/// One thing a failure counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VerificationSubject {
    pub scope: VerificationScope,
    pub subject: String,
}

impl VerificationSubject {
    pub fn new(scope: VerificationScope, subject: &str) -> Self {
        Self { scope, subject: subject.chars().take(MAX_SUBJECT_CHARS).collect() }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct VerificationRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl VerificationRepo<'_> {
    /// Records one failure against each subject at `at`; the row ids, for [`Self::forget`].
    pub async fn record(&self, tenant: TenantId, subjects: &[VerificationSubject], at: DateTime<Utc>) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<verification_failure::ActiveModel> = subjects
            .iter()
            .map(|s| verification_failure::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(tenant.0),
                scope: Set(s.scope.as_str().to_owned()),
                subject: Set(s.subject.clone()),
                failed_at: Set(at),
            })
            .collect();
        let ids = rows.iter().filter_map(|r| r.id.clone().take()).collect();
        if !rows.is_empty() {
            verification_failure::Entity::insert_many(rows).exec(self.db).await?;
        }
        Ok(ids)
    }

    /// Failures recorded against `subject` at or after `since`.
    pub async fn failures_since(&self, tenant: TenantId, subject: &VerificationSubject, since: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(verification_failure::Entity::find()
            .filter(verification_failure::Column::TenantId.eq(tenant.0))
            .filter(verification_failure::Column::Scope.eq(subject.scope.as_str()))
            .filter(verification_failure::Column::Subject.eq(subject.subject.as_str()))
            .filter(verification_failure::Column::FailedAt.gte(since))
            .count(self.db)
            .await?)
    }

    /// Takes back rows [`Self::record`] wrote (the attempt turned out right, or was refused).
    pub async fn forget(&self, tenant: TenantId, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        verification_failure::Entity::delete_many()
            .filter(verification_failure::Column::TenantId.eq(tenant.0))
            .filter(verification_failure::Column::Id.is_in(ids.iter().copied()))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Drops the tenant's failures older than `before` (no window reaches back that far).
    pub async fn prune(&self, tenant: TenantId, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(verification_failure::Entity::delete_many()
            .filter(verification_failure::Column::TenantId.eq(tenant.0))
            .filter(verification_failure::Column::FailedAt.lt(before))
            .exec(self.db)
            .await?
            .rows_affected)
    }
}
