//! `products`: a tenant's catalogue.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub sku: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub unit: String,
    /// Price in minor units (cents).
    pub unit_price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub active: bool,
    /// Free text from the catalogue upload (m0009).
    pub category: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
