//! `order_drafts`: the order a conversation is building, one row per conversation. Kept in the
//! database (not in process memory) so the next message may reach any instance.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "order_drafts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub conversation_id: Uuid,
    /// The customer the order is for, once known.
    pub customer_id: Option<Uuid>,
    /// Set when the draft changes an existing order instead of placing a new one.
    pub target_order_id: Option<Uuid>,
    /// What the conversation waits for (the agent's vocabulary, e.g. `awaiting_confirmation`).
    pub state: String,
    /// `[{"sku", "quantity"}]`.
    pub lines: Json,
    /// A question still open (e.g. candidates for an ambiguous product).
    pub pending: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
