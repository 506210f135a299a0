//! `orders`: customer orders; totals in minor units.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub customer_id: Uuid,
    /// Human order number, `ORD-…`, unique per tenant.
    pub number: String,
    pub status: String,
    pub subtotal_minor: i64,
    pub total_minor: i64,
    pub currency: String,
    /// Unique per tenant: the same request never creates two orders.
    pub idempotency_key: String,
    pub invoice_id: Option<String>,
    pub invoice_number: Option<String>,
    /// Why invoicing gave up, when the order is `failed`.
    #[sea_orm(column_type = "Text", nullable)]
    pub failure_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
