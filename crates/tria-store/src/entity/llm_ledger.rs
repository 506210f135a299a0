//! `llm_ledger`: one row per LLM call or cache hit, with its tokens, price and cost
//! (`m0014_llm_ledger`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "llm_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub intent: Option<String>,
    pub kind: String,
    pub provider: String,
    pub model: String,
    pub attempts: i32,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub tokens_estimated: bool,
    pub outcome: String,
    pub price_input_per_mtok_micro: i64,
    pub price_output_per_mtok_micro: i64,
    pub price_cached_input_per_mtok_micro: i64,
    pub cost_micro_usd: i64,
    pub saved_micro_usd: i64,
    pub latency_ms: i32,
    pub day: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
