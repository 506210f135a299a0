//! `ticket_links`: a helpdesk ticket and where it came from (a Slack message, a conversation,
//! a customer), so a Slack reaction can find the ticket to resolve and a profile can count open
//! tickets.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The helpdesk's ticket id.
    pub ticket_ref: String,
    /// `slack`, `handoff`, …
    pub source: String,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
    pub conversation_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub escalation_id: Option<Uuid>,
    /// `open` or `closed`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
