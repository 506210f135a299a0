//! `knowledge_documents`: one version of an uploaded document (its chunks hang off the
//! `policy_documents` row with the same id).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub doc_id: String,
    pub version: i32,
    pub title: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub chunk_count: i32,
    pub job_id: Uuid,
    pub knowledge_version: Option<i32>,
    pub indexed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
