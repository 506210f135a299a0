//! The store's rows this crate reads, named once: a change of the store's types is an edit here.

pub(crate) use tria_store::entity::conversation::Model as Conversation;
pub(crate) use tria_store::entity::customer::Model as Customer;
pub(crate) use tria_store::entity::escalation::Model as Escalation;
pub(crate) use tria_store::entity::message::Model as StoredMessage;
pub(crate) use tria_store::entity::order::Model as Order;
