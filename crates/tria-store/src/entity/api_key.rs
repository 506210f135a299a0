//! `api_keys`: API keys, stored as SHA-256 digests; the plaintext is never kept.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `None` for admin keys.
    pub tenant_id: Option<Uuid>,
    /// First characters of the key, indexed, to find candidates without scanning.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
    pub role: String,
    pub label: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
