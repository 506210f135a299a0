//! A tenant's customers.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use tria_core::{CustomerId, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::customer;
use crate::records::{Customer, IntoRecords};

#[derive(Clone, Debug)]
pub struct NewCustomer {
    pub external_id: String,
    pub name: String,
    pub email: String,
    pub company: String,
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
        }
        .insert(self.db)
        .await?
        .into())
    }

    pub async fn find_by_external_id(&self, tenant: TenantId, external_id: &str) -> Result<Option<Customer>, StoreError> {
        Ok(customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .filter(customer::Column::ExternalId.eq(external_id))
            .one(self.db)
            .await?
            .records())
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
