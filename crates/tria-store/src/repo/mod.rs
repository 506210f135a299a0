//! Repositories: one per aggregate, each borrowing the store's pool. Tenant-owned reads take a
//! `TenantId` and filter on it in SQL.

mod audit;
mod catalogue;
mod console;
mod conversations;
mod customers;
mod drafts;
mod exchanges;
mod insights;
mod jobs;
mod keys;
mod knowledge;
mod ledger;
mod orders;
mod outbox;
mod policies;
mod secrets;
mod tenants;
mod tickets;
mod usage;
mod verifications;
mod xero;

pub use audit::{AuditFilter, AuditRepo, NewAuditEntry};
pub use catalogue::{CatalogueRepo, CatalogueUpload, NewProduct, ProductUpsert, UploadCounts};
pub use console::{ChunkLabel, ConsoleRepo, FeedbackCounts, MessageFigures, Rating};
pub use conversations::{ConversationRepo, ESCALATION_OPEN, Exchange, NewConversation, NewMessage};
pub use customers::{CustomerRepo, CustomerUpload, CustomerUpsert, NewCustomer};
pub use drafts::{DraftRepo, DraftState};
pub(crate) use exchanges::DirectWriter;
pub use exchanges::{BlockingExchangeWriter, ExchangeBatches, MeteredExchange};
pub use insights::{CustomerSignals, InsightRepo};
pub use jobs::{JobRepo, NewJob};
pub use keys::{AuthenticatedKey, KeyInfo, KeyRepo, generate_key, hash_key, key_digest, key_prefix};
pub use knowledge::{KnowledgeChange, KnowledgeRepo, NewDocumentVersion};
pub use ledger::{LedgerKind, LedgerRepo, NewLedgerRow, UsageBucket, UsageGroup};
pub use orders::{CancelOutcome, EMAIL_OUTBOX_KIND, INVOICE_OUTBOX_KIND, NewOrder, NewOrderLine, OrderRepo, VOID_OUTBOX_KIND};
pub use outbox::{LeaseOutcome, OutboxBacklog, OutboxCounts, OutboxRepo, job_order_id, state as outbox_state};
pub use policies::{NewChunk, PolicyRepo};
pub use secrets::{SealedSecret, SecretRepo};
pub use tenants::{NewTenant, TenantPatch, TenantRepo};
pub use tickets::{NewTicketLink, TicketLinkRepo};
pub use usage::{UsageDelta, UsageRepo};
pub use verifications::{VerificationRepo, VerificationScope, VerificationSubject};
pub use xero::{NewXeroConnection, XeroConnectionRepo};

use crate::Store;

impl Store {
    pub fn tenants(&self) -> TenantRepo<'_> {
        TenantRepo { db: self.connection() }
    }
    /// The append-only audit log of admin and operator actions.
    pub fn audit(&self) -> AuditRepo<'_> {
        AuditRepo { db: self.connection() }
    }
    pub fn keys(&self) -> KeyRepo<'_> {
        KeyRepo { db: self.connection() }
    }
    pub fn customers(&self) -> CustomerRepo<'_> {
        CustomerRepo { db: self.connection() }
    }
    pub fn catalogue(&self) -> CatalogueRepo<'_> {
        CatalogueRepo { db: self.connection() }
    }
    pub fn orders(&self) -> OrderRepo<'_> {
        OrderRepo { db: self.connection() }
    }
    pub fn outbox(&self) -> OutboxRepo<'_> {
        OutboxRepo { db: self.connection() }
    }
    pub fn conversations(&self) -> ConversationRepo<'_> {
        ConversationRepo { db: self.connection() }
    }
    /// Batches of exchanges through the group-commit writer: for `record_exchanges` from the
    /// one task that batches them.
    pub fn exchange_batches(&self) -> ExchangeBatches<'_> {
        ExchangeBatches { db: self.connection(), direct: self.exchange_writer() }
    }
    /// On a SQLite file, the group commit's writer for a thread of the caller's own, which then
    /// writes batch after batch with no async hand-off between them; `None` elsewhere.
    pub fn blocking_exchange_writer(&self) -> Option<BlockingExchangeWriter> {
        self.exchange_writer().cloned().map(BlockingExchangeWriter)
    }
    pub fn console(&self) -> ConsoleRepo<'_> {
        ConsoleRepo { db: self.connection() }
    }
    pub fn drafts(&self) -> DraftRepo<'_> {
        DraftRepo { db: self.connection() }
    }
    pub fn insights(&self) -> InsightRepo<'_> {
        InsightRepo { db: self.connection() }
    }
    pub fn ticket_links(&self) -> TicketLinkRepo<'_> {
        TicketLinkRepo { db: self.connection() }
    }
    pub fn policies(&self) -> PolicyRepo<'_> {
        PolicyRepo { db: self.connection() }
    }
    /// The LLM cost ledger (write through [`crate::ledger::LedgerWriter`]).
    pub fn ledger(&self) -> LedgerRepo<'_> {
        LedgerRepo { db: self.connection() }
    }
    pub fn usage(&self) -> UsageRepo<'_> {
        UsageRepo { db: self.connection() }
    }
    pub fn jobs(&self) -> JobRepo<'_> {
        JobRepo { db: self.connection() }
    }
    pub fn knowledge(&self) -> KnowledgeRepo<'_> {
        KnowledgeRepo { db: self.connection() }
    }
    pub fn secrets(&self) -> SecretRepo<'_> {
        SecretRepo { db: self.connection() }
    }
    /// Tenants' own Xero connections and pending authorizations.
    pub fn xero_connections(&self) -> XeroConnectionRepo<'_> {
        XeroConnectionRepo { db: self.connection() }
    }
    pub fn verifications(&self) -> VerificationRepo<'_> {
        VerificationRepo { db: self.connection() }
    }
}
