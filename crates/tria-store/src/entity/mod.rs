//! sea-orm entities, one module per table. Status columns hold the wire strings of the enums in
//! `tria-core` so both SQLite and PostgreSQL store them the same way.

pub mod api_key;
pub mod conversation;
pub mod customer;
pub mod escalation;
pub mod message;
pub mod message_feedback;
pub mod operator_tenant;
pub mod order;
pub mod order_draft;
pub mod order_escalation;
pub mod order_item;
pub mod outbox;
pub mod policy_chunk;
pub mod policy_document;
pub mod product;
pub mod tenant;
pub mod tenant_usage_daily;
pub mod ticket_link;
pub mod verification_failure;
