//! `audit_log`: one append-only row per admin or operator action (`m0015_audit_log`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub actor_key_id: Option<Uuid>,
    pub actor_role: String,
    pub action: String,
    pub target: String,
    pub request_id: String,
    pub details: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
