//! Plain domain types the repositories return and take, one per table the rest of Tria reads.
//! They mirror the rows field for field; the sea-orm entities behind them never leave this crate,
//! so a schema change stays a change inside `tria-store` (each `From<entity::…::Model>` is here).

mod audit;
mod conversations;
mod jobs;
mod orders;
mod secrets;
mod tenancy;
mod xero;

pub use audit::AuditEntry;
pub use conversations::{Conversation, Escalation, Feedback, StoredMessage};
pub use jobs::{Job, JobStatus, KnowledgeDocument, KnowledgeVersion};
pub use orders::{Customer, Order, OrderEscalation, OrderItem, OutboxJob, Product};
pub use secrets::TenantSecret;
pub use tenancy::{ApiKeyRow, DailyUsage, PolicyChunk, PolicyDocument, TicketLink};
pub use xero::{XeroConnectState, XeroConnection};

/// Rows read through sea-orm turned into their records, in one call at the end of a query.
pub(crate) trait IntoRecords<T> {
    fn records(self) -> T;
}

impl<M, T: From<M>> IntoRecords<Vec<T>> for Vec<M> {
    fn records(self) -> Vec<T> {
        self.into_iter().map(T::from).collect()
    }
}

impl<M, T: From<M>> IntoRecords<Option<T>> for Option<M> {
    fn records(self) -> Option<T> {
        self.map(T::from)
    }
}
