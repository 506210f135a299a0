//! `policy_chunks`: retrieval units cut from policy documents.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "policy_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub document_id: Uuid,
    pub ordinal: i32,
    /// Headings from the document root to this chunk, joined with ` › `.
    pub heading_path: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub token_count: i32,
    /// Little-endian f32 vector, `None` until indexed.
    pub embedding: Option<Vec<u8>>,
    pub embedding_model: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
