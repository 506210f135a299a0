//! A tenant's product catalogue.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait, sea_query::Expr,
};
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

/// One row of a catalogue upload. `None` keeps what the store has for an existing SKU; a new
/// SKU gets an empty text, no stock and `active`. An import job stages it as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProductUpsert {
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub currency: String,
    pub description: Option<String>,
    pub unit: Option<String>,
    pub stock: Option<i64>,
    /// `None` is `true`: a product an upload lists is sold unless it says otherwise.
    pub active: Option<bool>,
    pub category: Option<String>,
}

/// What an upload did to the rows it wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UploadCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows a `replace` upload no longer lists, now inactive (kept: orders and drafts name them).
    pub deactivated: u64,
}

impl UploadCounts {
    pub fn written(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }
}

/// Every row of one catalogue upload, written in one transaction: all of it or none of it.
/// Dropped without [`CatalogueUpload::finish`], nothing is written.
pub struct CatalogueUpload {
    txn: DatabaseTransaction,
    tenant: TenantId,
    /// Written into every row the upload lists, so `replace` finds the others without the
    /// upload's keys held in memory. Truncated to microseconds, what PostgreSQL keeps.
    stamp: DateTime<Utc>,
    counts: UploadCounts,
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
                    category: Set(None),
                    updated_at: Set(Utc::now()),
                }
                .insert(self.db)
                .await?;
                Ok(true)
            }
        }
    }

    /// Opens the transaction an upload's batches are written in.
    pub async fn begin_upload(&self, tenant: TenantId) -> Result<CatalogueUpload, StoreError> {
        let txn = self.db.begin().await?;
        Ok(CatalogueUpload { txn, tenant, stamp: Utc::now().trunc_subsecs(6), counts: UploadCounts::default() })
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

impl CatalogueUpload {
    /// The upload's transaction, for reads that must see its own writes and not wait on them
    /// (an import job reads its staged rows through it).
    pub(crate) fn transaction(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Upserts one batch by (tenant, SKU): one read of the batch's existing rows (to keep what
    /// the upload leaves out and to count), then one multi-row `INSERT … ON CONFLICT`. SKUs are
    /// unique within an upload (the importer checks), so a batch never names a row twice.
    pub async fn write(&mut self, rows: Vec<ProductUpsert>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
        let existing: HashMap<String, product::Model> = product::Entity::find()
            .filter(product::Column::TenantId.eq(self.tenant.0))
            .filter(product::Column::Sku.is_in(skus))
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|m| (m.sku.clone(), m))
            .collect();
        let mut models = Vec::with_capacity(rows.len());
        for row in rows {
            if row.unit_price_minor < 0 || row.stock.is_some_and(|s| s < 0) {
                return Err(StoreError::Invalid(format!("product {}: price and stock must not be negative", row.sku)));
            }
            let old = existing.get(&row.sku);
            let merged = product::Model {
                id: old.map_or_else(Uuid::new_v4, |o| o.id),
                tenant_id: self.tenant.0,
                description: row.description.or_else(|| old.map(|o| o.description.clone())).unwrap_or_default(),
                unit: row.unit.or_else(|| old.map(|o| o.unit.clone())).unwrap_or_default(),
                stock: row.stock.or_else(|| old.map(|o| o.stock)).unwrap_or(0),
                category: row.category.or_else(|| old.and_then(|o| o.category.clone())),
                active: row.active.unwrap_or(true),
                sku: row.sku,
                name: row.name,
                unit_price_minor: row.unit_price_minor,
                currency: row.currency,
                updated_at: self.stamp,
            };
            match old {
                None => self.counts.created += 1,
                Some(o) if same_product(o, &merged) => self.counts.unchanged += 1,
                Some(_) => self.counts.updated += 1,
            }
            models.push(product::ActiveModel::from(merged));
        }
        use product::Column as C;
        let on_conflict = OnConflict::columns([C::TenantId, C::Sku])
            .update_columns([
                C::Name,
                C::Description,
                C::Unit,
                C::UnitPriceMinor,
                C::Currency,
                C::Stock,
                C::Active,
                C::Category,
                C::UpdatedAt,
            ])
            .to_owned();
        product::Entity::insert_many(models).on_conflict(on_conflict).exec_without_returning(&self.txn).await?;
        Ok(())
    }

    /// Commits the upload; with `replace`, first makes every product it did not list inactive
    /// (never deleted: order lines and drafts refer to them, and chat says "no longer sold").
    pub async fn finish(mut self, replace: bool) -> Result<UploadCounts, StoreError> {
        if replace {
            let retired = product::Entity::update_many()
                .col_expr(product::Column::Active, Expr::value(false))
                .col_expr(product::Column::UpdatedAt, Expr::value(self.stamp))
                .filter(product::Column::TenantId.eq(self.tenant.0))
                .filter(product::Column::UpdatedAt.ne(self.stamp))
                .filter(product::Column::Active.eq(true))
                .exec(&self.txn)
                .await?;
            self.counts.deactivated = retired.rows_affected;
        }
        self.txn.commit().await?;
        Ok(self.counts)
    }
}

fn same_product(a: &product::Model, b: &product::Model) -> bool {
    a.name == b.name
        && a.description == b.description
        && a.unit == b.unit
        && a.unit_price_minor == b.unit_price_minor
        && a.currency == b.currency
        && a.stock == b.stock
        && a.active == b.active
        && a.category == b.category
}
