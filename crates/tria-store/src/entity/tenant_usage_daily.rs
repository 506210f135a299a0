//! `tenant_usage_daily`: one row per tenant per UTC day, upserted with every exchange — what the
//! tenant's assistant cost and how much the cache saved.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_usage_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// Customer messages answered (a hand-off notice counts too).
    pub messages: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
    pub cache_l1: i64,
    pub cache_l2: i64,
    pub cache_l3: i64,
    /// LLM tokens cache hits did not spend.
    pub tokens_saved: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
