//! A tenant's customers.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use tria_core::{CustomerId, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::customer;
use crate::records::{Customer, IntoRecords};
use crate::repo::catalogue::UploadCounts;

#[derive(Clone, Debug)]
pub struct NewCustomer {
    pub external_id: String,
    pub name: String,
    pub email: String,
    pub company: String,
}

/// One row of a customer upload, keyed by `customer_number` (the tenant's own id,
/// `external_id`). `None` keeps what the store has for an existing customer. An import job stages
/// it as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomerUpsert {
    pub customer_number: String,
    pub email: String,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
}

/// Every row of one customer upload, written in one transaction (see
/// [`crate::repo::CatalogueUpload`]).
pub struct CustomerUpload {
    txn: DatabaseTransaction,
    tenant: TenantId,
    stamp: DateTime<Utc>,
    counts: UploadCounts,
}

#[derive(Clone, Copy, Debug)]
pub struct CustomerRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl CustomerRepo<'_> {
    /// Inserts the customer, or returns the existing one with the same external id.
    pub async fn upsert(&self, tenant: TenantId, new: NewCustomer) -> Result<Customer, StoreError> {
        if let Some(existing) = self.find_by_external_id(tenant, &new.external_id).await? {
            return Ok(existing);
        }
        Ok(customer::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.0),
            external_id: Set(new.external_id),
            name: Set(new.name),
            email: Set(new.email),
            company: Set(new.company),
            created_at: Set(Utc::now()),
            phone: Set(None),
            active: Set(true),
            updated_at: Set(None),
        }
        .insert(self.db)
        .await?
        .into())
    }

    /// Opens the transaction an upload's batches are written in.
    pub async fn begin_upload(&self, tenant: TenantId) -> Result<CustomerUpload, StoreError> {
        let txn = self.db.begin().await?;
        Ok(CustomerUpload { txn, tenant, stamp: Utc::now().trunc_subsecs(6), counts: UploadCounts::default() })
    }

    pub async fn find_by_external_id(&self, tenant: TenantId, external_id: &str) -> Result<Option<Customer>, StoreError> {
        Ok(customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .filter(customer::Column::ExternalId.eq(external_id))
            .one(self.db)
            .await?
            .records())
    }

    /// As [`Self::find_by_external_id`], but not a customer a `replace` upload retired: what
    /// identifying in chat looks up.
    pub async fn find_active_by_external_id(&self, tenant: TenantId, external_id: &str) -> Result<Option<Customer>, StoreError> {
        Ok(customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .filter(customer::Column::ExternalId.eq(external_id))
            .filter(customer::Column::Active.eq(true))
            .one(self.db)
            .await?
            .records())
    }

    /// Whether the customer is still listed (a `replace` upload that left it out makes it
    /// inactive); `None` when there is no such customer.
    pub async fn is_active(&self, tenant: TenantId, external_id: &str) -> Result<Option<bool>, StoreError> {
        Ok(customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .filter(customer::Column::ExternalId.eq(external_id))
            .one(self.db)
            .await?
            .map(|c| c.active))
    }

    pub async fn get(&self, tenant: TenantId, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        Ok(customer::Entity::find_by_id(id.0).filter(customer::Column::TenantId.eq(tenant.0)).one(self.db).await?.records())
    }

    pub async fn list(&self, tenant: TenantId) -> Result<Vec<Customer>, StoreError> {
        Ok(customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .order_by_asc(customer::Column::ExternalId)
            .all(self.db)
            .await?
            .records())
    }

    pub async fn count(&self, tenant: TenantId) -> Result<u64, StoreError> {
        Ok(customer::Entity::find().filter(customer::Column::TenantId.eq(tenant.0)).count(self.db).await?)
    }
}

impl CustomerUpload {
    /// The upload's transaction, for reads that must see its own writes and not wait on them
    /// (an import job reads its staged rows through it).
    pub(crate) fn transaction(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Upserts one batch by (tenant, customer number): one read of the batch's existing rows,
    /// then one multi-row `INSERT … ON CONFLICT`.
    pub async fn write(&mut self, rows: Vec<CustomerUpsert>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let numbers: Vec<&str> = rows.iter().map(|r| r.customer_number.as_str()).collect();
        let existing: HashMap<String, customer::Model> = customer::Entity::find()
            .filter(customer::Column::TenantId.eq(self.tenant.0))
            .filter(customer::Column::ExternalId.is_in(numbers))
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|m| (m.external_id.clone(), m))
            .collect();
        let mut models = Vec::with_capacity(rows.len());
        for row in rows {
            let old = existing.get(&row.customer_number);
            let merged = customer::Model {
                id: old.map_or_else(Uuid::new_v4, |o| o.id),
                tenant_id: self.tenant.0,
                name: row.name.or_else(|| old.map(|o| o.name.clone())).unwrap_or_default(),
                company: row.company.or_else(|| old.map(|o| o.company.clone())).unwrap_or_default(),
                phone: row.phone.or_else(|| old.and_then(|o| o.phone.clone())),
                created_at: old.map_or(self.stamp, |o| o.created_at),
                active: true,
                updated_at: Some(self.stamp),
                external_id: row.customer_number,
                email: row.email,
            };
            match old {
                None => self.counts.created += 1,
                Some(o) if same_customer(o, &merged) => self.counts.unchanged += 1,
                Some(_) => self.counts.updated += 1,
            }
            models.push(customer::ActiveModel::from(merged));
        }
        use customer::Column as C;
        let on_conflict = OnConflict::columns([C::TenantId, C::ExternalId])
            .update_columns([C::Name, C::Email, C::Company, C::Phone, C::Active, C::UpdatedAt])
            .to_owned();
        customer::Entity::insert_many(models).on_conflict(on_conflict).exec_without_returning(&self.txn).await?;
        Ok(())
    }

    /// Commits the upload; with `replace`, first makes every customer it did not list inactive
    /// (kept for their orders and conversations; they no longer identify in chat).
    pub async fn finish(mut self, replace: bool) -> Result<UploadCounts, StoreError> {
        if replace {
            let retired = customer::Entity::update_many()
                .col_expr(customer::Column::Active, Expr::value(false))
                .col_expr(customer::Column::UpdatedAt, Expr::value(self.stamp))
                .filter(customer::Column::TenantId.eq(self.tenant.0))
                .filter(Condition::any().add(customer::Column::UpdatedAt.is_null()).add(customer::Column::UpdatedAt.ne(self.stamp)))
                .filter(customer::Column::Active.eq(true))
                .exec(&self.txn)
                .await?;
            self.counts.deactivated = retired.rows_affected;
        }
        self.txn.commit().await?;
        Ok(self.counts)
    }
}

fn same_customer(a: &customer::Model, b: &customer::Model) -> bool {
    a.name == b.name && a.email == b.email && a.company == b.company && a.phone == b.phone && a.active == b.active
}
