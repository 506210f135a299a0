//! The store's rows this crate reads, named once: a change of the store's types is an edit here.

pub(crate) use tria_store::records::{Conversation, Customer, Escalation, Order, StoredMessage};
