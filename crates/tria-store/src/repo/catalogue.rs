//! A tenant's product catalogue.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use tria_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::product;
use crate::records::{IntoRecords, Product};

#[derive(Clone, Debug)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub unit_price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub active: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct CatalogueRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl CatalogueRepo<'_> {
    /// Inserts or updates the product with this SKU. Returns whether anything changed.
    pub async fn upsert(&self, tenant: TenantId, new: NewProduct) -> Result<bool, StoreError> {
        if new.unit_price_minor < 0 || new.stock < 0 {
            return Err(StoreError::Invalid(format!("product {}: price and stock must not be negative", new.sku)));
        }
        match self.sku_row(tenant, &new.sku).await? {
            Some(existing) => {
                let same = existing.name == new.name
                    && existing.description == new.description
                    && existing.unit == new.unit
                    && existing.unit_price_minor == new.unit_price_minor
                    && existing.currency == new.currency
                    && existing.stock == new.stock
                    && existing.active == new.active;
                if same {
                    return Ok(false);
                }
                let mut row: product::ActiveModel = existing.into();
                row.name = Set(new.name);
                row.description = Set(new.description);
                row.unit = Set(new.unit);
                row.unit_price_minor = Set(new.unit_price_minor);
                row.currency = Set(new.currency);
                row.stock = Set(new.stock);
                row.active = Set(new.active);
                row.updated_at = Set(Utc::now());
                row.update(self.db).await?;
                Ok(true)
            }
            None => {
                product::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    tenant_id: Set(tenant.0),
                    sku: Set(new.sku),
                    name: Set(new.name),
                    description: Set(new.description),
                    unit: Set(new.unit),
                    unit_price_minor: Set(new.unit_price_minor),
                    currency: Set(new.currency),
                    stock: Set(new.stock),
                    active: Set(new.active),
                    updated_at: Set(Utc::now()),
                }
                .insert(self.db)
                .await?;
                Ok(true)
            }
        }
    }

    pub async fn find_by_sku(&self, tenant: TenantId, sku: &str) -> Result<Option<Product>, StoreError> {
        Ok(self.sku_row(tenant, sku).await?.records())
    }

    async fn sku_row(&self, tenant: TenantId, sku: &str) -> Result<Option<product::Model>, StoreError> {
        Ok(product::Entity::find().filter(product::Column::TenantId.eq(tenant.0)).filter(product::Column::Sku.eq(sku)).one(self.db).await?)
    }

    /// Every product, active or not, by SKU.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<Product>, StoreError> {
        Ok(product::Entity::find()
            .filter(product::Column::TenantId.eq(tenant.0))
            .order_by_asc(product::Column::Sku)
            .all(self.db)
            .await?
            .records())
    }
}
