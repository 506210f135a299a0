//! `messages`: every message of a conversation, with what the pipeline decided.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    /// Cited chunk ids as a JSON array.
    pub sources: Json,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub latency_ms: i64,
    pub cache_level: Option<String>,
    /// The prompt template version that wrote an assistant reply (none: cache or offline).
    pub prompt_version: Option<String>,
    pub cost_usd: f64,
    /// The customer's sentiment on a user message (`negative`, `neutral`, `positive`).
    pub sentiment: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
