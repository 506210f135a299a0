//! sea-orm entities, one module per table. Status columns hold the wire strings of the enums in
//! `tria-core` so both SQLite and PostgreSQL store them the same way. Entities never leave this
//! crate: repositories hand out the plain records of `crate::records` instead.

// sea-orm's derives generate `pub` items (Entity, Column, ActiveModel, …); the module is
// crate-private, so they are reachable only from inside tria-store.
#![allow(unreachable_pub)]

pub(crate) mod api_key;
pub(crate) mod audit_log;
pub(crate) mod conversation;
pub(crate) mod customer;
pub(crate) mod customer_erasure;
pub(crate) mod escalation;
pub(crate) mod job;
pub(crate) mod job_input;
pub(crate) mod knowledge_document;
pub(crate) mod knowledge_version;
pub(crate) mod knowledge_version_document;
pub(crate) mod llm_ledger;
pub(crate) mod message;
pub(crate) mod message_feedback;
pub(crate) mod operator_tenant;
pub(crate) mod order;
pub(crate) mod order_draft;
pub(crate) mod order_escalation;
pub(crate) mod order_item;
pub(crate) mod outbox;
pub(crate) mod policy_chunk;
pub(crate) mod policy_document;
pub(crate) mod product;
pub(crate) mod tenant;
pub(crate) mod tenant_knowledge;
pub(crate) mod tenant_secret;
pub(crate) mod tenant_usage_daily;
pub(crate) mod ticket_link;
pub(crate) mod verification_failure;
pub(crate) mod xero_connect_state;
pub(crate) mod xero_connection;
