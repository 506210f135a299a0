//! `xero_connections`: a tenant's own Xero organisation, connected through OAuth (the refresh
//! token is a sealed `tenant_secrets` row; this row holds the claim that serialises refreshes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "xero_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub connection_id: String,
    pub xero_tenant_id: String,
    pub org_name: String,
    /// `connected` or `revoked`.
    pub status: String,
    pub client_id: String,
    pub token_generation: i64,
    pub refresh_holder: Option<String>,
    pub refresh_lease_until: Option<DateTimeUtc>,
    pub connected_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
