//! `customers`: a tenant's customers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The tenant's own id for the customer (unique per tenant).
    pub external_id: String,
    pub name: String,
    pub email: String,
    pub company: String,
    pub created_at: DateTimeUtc,
    /// From the customer upload (m0009).
    pub phone: Option<String>,
    /// False once a `?mode=replace` upload no longer lists the customer: kept for its orders,
    /// but it no longer identifies in chat.
    pub active: bool,
    /// When an upload last wrote the row (m0009); `None` for rows no upload has touched.
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
