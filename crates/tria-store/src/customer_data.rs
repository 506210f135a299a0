//! A customer's data as one export, and its erasure (issue 29). Everything Tria stores about a
//! customer hangs off the `customers` row (the tenant's customer number is `external_id`):
//! conversations with `customer_id` (their messages, escalations, feedback and order draft),
//! drafts and tickets naming the customer, orders (their lines, escalations and outbox jobs),
//! the LLM ledger rows of their conversations and failed verifications of their number.
//! `docs/DATA.md` lists every place and what erasure does to it.
//!
//! Erasure is one transaction. What the law makes the business keep stays: an order with an
//! issued invoice keeps its number, amounts, currency, lines and dates, and points at a customer
//! row emptied of identity (its number replaced by a random one, name, email, company and phone
//! blank); everything else is deleted. A `customer_erasures` row holding only digests
//! remembers the erasure, so a repeated request is a 200 with nothing erased. On SQLite the
//! erasing connection has `secure_delete` on and the WAL is checkpointed (`TRUNCATE`) after
//! the commit, so the erased text is left neither in free pages nor in the log.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Set, Statement, TransactionTrait,
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tria_core::TenantId;
use uuid::Uuid;

use crate::entity::{
    conversation, customer, customer_erasure, escalation, job, llm_ledger, message, message_feedback, order, order_draft, order_escalation,
    order_item, outbox, ticket_link, verification_failure,
};
use crate::{Backend, Store, StoreError};

/// The export's format name (bumped when its shape changes incompatibly).
pub const EXPORT_FORMAT: &str = "tria.customer-export.v1";

/// Outbox kinds whose rows are about one order (`{"order_id"}` payload, `{kind}:{order_id}` key).
const ORDER_JOB_KINDS: [&str; 3] = [crate::repo::INVOICE_OUTBOX_KIND, crate::repo::VOID_OUTBOX_KIND, crate::repo::EMAIL_OUTBOX_KIND];

/// The import job kind whose per-row error report may quote a customer's fields.
const CUSTOMER_IMPORT_JOB: &str = "import_customers";

/// The digest an erasure is remembered by: SHA-256 over a label, the tenant and the value, so
/// equal numbers of two tenants differ and nothing readable is kept.
fn subject_digest(label: &str, tenant: TenantId, value: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [label, &tenant.0.to_string(), value] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn number_digest(tenant: TenantId, number: &str) -> String {
    subject_digest("customer-number", tenant, number)
}

/// Emails compare case-insensitively and without surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn email_digest(tenant: TenantId, email: &str) -> String {
    subject_digest("customer-email", tenant, &normalize_email(email))
}

/// How many rows of each kind an erasure removed, or changed to keep what must be kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErasedCounts {
    pub conversations: u64,
    pub messages: u64,
    pub escalations: u64,
    pub feedback: u64,
    pub order_drafts: u64,
    pub tickets: u64,
    pub orders_deleted: u64,
    pub order_items_deleted: u64,
    pub order_escalations: u64,
    pub outbox_jobs_deleted: u64,
    pub outbox_errors_cleared: u64,
    pub verification_failures: u64,
    pub ledger_rows_unlinked: u64,
    pub import_reports_redacted: u64,
    /// 1 when the customer row was deleted, 0 when it was kept emptied of identity.
    pub customer_rows_deleted: u64,
    pub customer_rows_pseudonymised: u64,
}

impl ErasedCounts {
    /// Nothing at all was erased.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An order kept because its invoice was issued: what stays of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeptInvoice {
    pub order_number: String,
    pub invoice_number: Option<String>,
    pub invoice_id: Option<String>,
    pub total_minor: i64,
    pub currency: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// What became of the WAL after the erasure (SQLite only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WalCheckpoint {
    /// `true` when a reader kept the checkpoint from finishing (the log still holds old pages
    /// until the next checkpoint).
    pub busy: bool,
    pub log_frames: i64,
    pub checkpointed_frames: i64,
}

/// What one customer's erasure did.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ErasureReport {
    /// The customer's internal id (what the audit log names; never the number or email).
    pub customer_id: Uuid,
    pub erased_at: DateTime<Utc>,
    pub erased: ErasedCounts,
    pub kept_invoices: Vec<KeptInvoice>,
    /// SQLite only: the checkpoint run after the commit.
    pub wal_checkpoint: Option<WalCheckpoint>,
}

/// The outcome of an erasure request for one customer number.
#[derive(Clone, Debug, PartialEq)]
pub enum Erasure {
    /// The customer's data was erased now.
    Erased(ErasureReport),
    /// The customer was erased before (this is when); nothing was left to erase.
    AlreadyErased { erased_at: DateTime<Utc> },
    /// No such customer, and none erased under that number.
    NotFound,
}

/// A customer's data: export and erasure, over one store.
#[derive(Clone, Copy, Debug)]
pub struct CustomerData<'a> {
    store: &'a Store,
}

impl Store {
    /// Export and erasure of one customer's data.
    pub fn customer_data(&self) -> CustomerData<'_> {
        CustomerData { store: self }
    }
}

/// Every id linked to one customer, found once and used by both export and erasure.
struct Linked {
    customer: customer::Model,
    conversations: Vec<Uuid>,
    orders: Vec<order::Model>,
}

async fn linked(db: &impl ConnectionTrait, tenant: TenantId, customer: customer::Model) -> Result<Linked, StoreError> {
    let mut conversations: BTreeSet<Uuid> = conversation::Entity::find()
        .filter(conversation::Column::TenantId.eq(tenant.0))
        .filter(conversation::Column::CustomerId.eq(customer.id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    // A draft or a ticket can name the customer in a conversation not (yet) linked to them.
    for draft in order_draft::Entity::find()
        .filter(order_draft::Column::TenantId.eq(tenant.0))
        .filter(order_draft::Column::CustomerId.eq(customer.id))
        .all(db)
        .await?
    {
        conversations.insert(draft.conversation_id);
    }
    for ticket in ticket_link::Entity::find()
        .filter(ticket_link::Column::TenantId.eq(tenant.0))
        .filter(ticket_link::Column::CustomerId.eq(customer.id))
        .all(db)
        .await?
    {
        conversations.extend(ticket.conversation_id);
    }
    // Only conversations of this tenant that exist (a draft may precede its conversation).
    let conversations: Vec<Uuid> = conversation::Entity::find()
        .filter(conversation::Column::TenantId.eq(tenant.0))
        .filter(conversation::Column::Id.is_in(conversations.iter().copied()))
        .order_by_asc(conversation::Column::StartedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let orders = order::Entity::find()
        .filter(order::Column::TenantId.eq(tenant.0))
        .filter(order::Column::CustomerId.eq(customer.id))
        .order_by_asc(order::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(Linked { customer, conversations, orders })
}

fn order_job_keys(orders: &[Uuid]) -> Vec<String> {
    orders.iter().flat_map(|id| ORDER_JOB_KINDS.iter().map(move |kind| format!("{kind}:{id}"))).collect()
}

/// An issued invoice is kept: the order has the accounting system's invoice id or number.
fn invoice_issued(o: &order::Model) -> bool {
    o.invoice_id.is_some() || o.invoice_number.is_some()
}

/// Whether `text` quotes any of `needles` (non-empty ones only).
fn quotes(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| !n.is_empty() && text.contains(n))
}

impl CustomerData<'_> {
    async fn find(&self, tenant: TenantId, number: &str) -> Result<Option<customer::Model>, StoreError> {
        Ok(customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .filter(customer::Column::ExternalId.eq(number))
            .one(self.store.connection())
            .await?)
    }

    /// The customer numbers of the tenant's customers with `email` (compared case-insensitively),
    /// in number order.
    pub async fn numbers_with_email(&self, tenant: TenantId, email: &str) -> Result<Vec<String>, StoreError> {
        let wanted = normalize_email(email);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut numbers: Vec<String> = customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant.0))
            .filter(sea_orm::sea_query::ExprTrait::eq(sea_orm::sea_query::Func::lower(Expr::col(customer::Column::Email)), wanted))
            .all(self.store.connection())
            .await?
            .into_iter()
            .map(|c| c.external_id)
            .collect();
        numbers.sort();
        Ok(numbers)
    }

    /// When a customer with this email was erased, if one was.
    pub async fn erased_email(&self, tenant: TenantId, email: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(customer_erasure::Entity::find()
            .filter(customer_erasure::Column::TenantId.eq(tenant.0))
            .filter(customer_erasure::Column::EmailDigest.eq(email_digest(tenant, email)))
            .order_by_desc(customer_erasure::Column::ErasedAt)
            .one(self.store.connection())
            .await?
            .map(|e| e.erased_at))
    }

    async fn erased_number(&self, tenant: TenantId, number: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(customer_erasure::Entity::find()
            .filter(customer_erasure::Column::TenantId.eq(tenant.0))
            .filter(customer_erasure::Column::NumberDigest.eq(number_digest(tenant, number)))
            .order_by_desc(customer_erasure::Column::ErasedAt)
            .one(self.store.connection())
            .await?
            .map(|e| e.erased_at))
    }

    /// Everything stored about the tenant's customer `number`, as one JSON document
    /// ([`EXPORT_FORMAT`]); `None` when there is no such customer.
    pub async fn export(&self, tenant: TenantId, number: &str) -> Result<Option<Value>, StoreError> {
        let db = self.store.connection();
        let Some(row) = self.find(tenant, number).await? else { return Ok(None) };
        let linked = linked(db, tenant, row).await?;
        let c = &linked.customer;
        let convs = linked.conversations.clone();

        let messages = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::ConversationId.is_in(convs.clone()))
            .order_by_asc(message::Column::CreatedAt)
            .order_by_asc(message::Column::Role)
            .all(db)
            .await?;
        let escalations = escalation::Entity::find()
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .filter(escalation::Column::ConversationId.is_in(convs.clone()))
            .order_by_asc(escalation::Column::CreatedAt)
            .all(db)
            .await?;
        let feedback = message_feedback::Entity::find()
            .filter(message_feedback::Column::TenantId.eq(tenant.0))
            .filter(message_feedback::Column::ConversationId.is_in(convs.clone()))
            .order_by_asc(message_feedback::Column::CreatedAt)
            .all(db)
            .await?;
        let drafts = order_draft::Entity::find()
            .filter(order_draft::Column::TenantId.eq(tenant.0))
            .filter(
                sea_orm::Condition::any()
                    .add(order_draft::Column::ConversationId.is_in(convs.clone()))
                    .add(order_draft::Column::CustomerId.eq(c.id)),
            )
            .all(db)
            .await?;
        let conversations: Vec<Value> = conversation::Entity::find()
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .filter(conversation::Column::Id.is_in(convs.clone()))
            .order_by_asc(conversation::Column::StartedAt)
            .all(db)
            .await?
            .into_iter()
            .map(|conv| {
                json!({
                    "id": conv.id, "channel": conv.channel, "status": conv.status, "resolution": conv.resolution,
                    "started_at": conv.started_at, "updated_at": conv.updated_at,
                    "messages": messages.iter().filter(|m| m.conversation_id == conv.id).map(|m| json!({
                        "id": m.id, "role": m.role, "content": m.content, "intent": m.intent, "confidence": m.confidence,
                        "sentiment": m.sentiment, "sources": m.sources, "cache_level": m.cache_level, "created_at": m.created_at,
                    })).collect::<Vec<_>>(),
                    "escalations": escalations.iter().filter(|e| e.conversation_id == conv.id).map(|e| json!({
                        "id": e.id, "reason": e.reason, "status": e.status, "ticket_ref": e.ticket_ref,
                        "created_at": e.created_at, "updated_at": e.updated_at,
                    })).collect::<Vec<_>>(),
                    "feedback": feedback.iter().filter(|f| f.conversation_id == conv.id).map(|f| json!({
                        "message_id": f.message_id, "rating": f.rating, "comment": f.comment, "created_at": f.created_at,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();

        let order_ids: Vec<Uuid> = linked.orders.iter().map(|o| o.id).collect();
        let items = order_item::Entity::find()
            .filter(order_item::Column::TenantId.eq(tenant.0))
            .filter(order_item::Column::OrderId.is_in(order_ids.clone()))
            .all(db)
            .await?;
        let order_escalations = order_escalation::Entity::find()
            .filter(order_escalation::Column::TenantId.eq(tenant.0))
            .filter(order_escalation::Column::OrderId.is_in(order_ids.clone()))
            .order_by_asc(order_escalation::Column::CreatedAt)
            .all(db)
            .await?;
        let jobs = outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(tenant.0))
            .filter(outbox::Column::IdempotencyKey.is_in(order_job_keys(&order_ids)))
            .order_by_asc(outbox::Column::CreatedAt)
            .all(db)
            .await?;
        let orders: Vec<Value> = linked
            .orders
            .iter()
            .map(|o| {
                json!({
                    "number": o.number, "status": o.status, "subtotal_minor": o.subtotal_minor, "total_minor": o.total_minor,
                    "currency": o.currency, "invoice_id": o.invoice_id, "invoice_number": o.invoice_number,
                    "failure_reason": o.failure_reason, "created_at": o.created_at, "updated_at": o.updated_at,
                    "items": items.iter().filter(|i| i.order_id == o.id).map(|i| json!({
                        "sku": i.sku, "name": i.name, "quantity": i.quantity,
                        "unit_price_minor": i.unit_price_minor, "line_total_minor": i.line_total_minor,
                    })).collect::<Vec<_>>(),
                    "escalations": order_escalations.iter().filter(|e| e.order_id == o.id).map(|e| json!({
                        "reason": e.reason, "status": e.status, "ticket_ref": e.ticket_ref,
                        "created_at": e.created_at, "updated_at": e.updated_at,
                    })).collect::<Vec<_>>(),
                    "integration_jobs": jobs.iter().filter(|j| j.payload.get("order_id").and_then(Value::as_str) == Some(&o.id.to_string())).map(|j| json!({
                        "kind": j.kind, "state": j.state, "attempts": j.attempts, "last_error": j.last_error,
                        "created_at": j.created_at, "updated_at": j.updated_at,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let tickets: Vec<Value> = ticket_link::Entity::find()
            .filter(ticket_link::Column::TenantId.eq(tenant.0))
            .filter(
                sea_orm::Condition::any()
                    .add(ticket_link::Column::CustomerId.eq(c.id))
                    .add(ticket_link::Column::ConversationId.is_in(convs.clone())),
            )
            .order_by_asc(ticket_link::Column::CreatedAt)
            .all(db)
            .await?
            .into_iter()
            .map(|t| {
                json!({
                    "ticket_ref": t.ticket_ref, "source": t.source, "status": t.status, "conversation_id": t.conversation_id,
                    "escalation_id": t.escalation_id, "slack_channel": t.slack_channel, "slack_ts": t.slack_ts,
                    "created_at": t.created_at, "updated_at": t.updated_at,
                })
            })
            .collect();
        let verification_failures = verification_failure::Entity::find()
            .filter(verification_failure::Column::TenantId.eq(tenant.0))
            .filter(verification_failure::Column::Scope.eq("customer_number"))
            .filter(verification_failure::Column::Subject.eq(c.external_id.to_uppercase()))
            .count(db)
            .await?;
        let ledger_rows = if convs.is_empty() {
            0
        } else {
            llm_ledger::Entity::find()
                .filter(llm_ledger::Column::TenantId.eq(tenant.0))
                .filter(llm_ledger::Column::ConversationId.is_in(convs.clone()))
                .count(db)
                .await?
        };
        Ok(Some(json!({
            "format": EXPORT_FORMAT,
            "exported_at": Utc::now(),
            "customer": {
                "customer_number": c.external_id, "name": c.name, "email": c.email, "company": c.company, "phone": c.phone,
                "created_at": c.created_at, "updated_at": c.updated_at,
            },
            "flags": {
                // A `replace` customer upload that left the customer out makes them inactive:
                // they no longer identify in chat.
                "active": c.active,
                "failed_verifications_of_number": verification_failures,
            },
            "conversations": conversations,
            "order_drafts": drafts.iter().map(|d| json!({
                "conversation_id": d.conversation_id, "state": d.state, "lines": d.lines, "pending": d.pending,
                "target_order_id": d.target_order_id, "created_at": d.created_at, "updated_at": d.updated_at,
            })).collect::<Vec<_>>(),
            "orders": orders,
            "tickets": tickets,
            "llm_ledger_rows": ledger_rows,
            "held_elsewhere": [
                "the helpdesk holds each ticket's own copy (ticket_ref) of the hand-off",
                "the accounting system holds the invoice and its contact (invoice_id)",
            ],
        })))
    }

    /// Erases the tenant's customer `number` (see the module's documentation for what is kept).
    /// `request_id` is remembered with the erasure.
    pub async fn erase(&self, tenant: TenantId, number: &str, request_id: &str) -> Result<Erasure, StoreError> {
        let Some(row) = self.find(tenant, number).await? else {
            return Ok(match self.erased_number(tenant, number).await? {
                Some(erased_at) => Erasure::AlreadyErased { erased_at },
                None => Erasure::NotFound,
            });
        };
        let db = self.store.connection();
        let txn = db.begin().await?;
        if self.store.backend() == Backend::Sqlite {
            // Deleted and overwritten content is zeroed, so it survives in no free page.
            txn.execute_unprepared("PRAGMA secure_delete = ON").await?;
        }
        let result = erase_in(&txn, tenant, row, request_id).await;
        let mut report = match result {
            Ok(report) => report,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        };
        txn.commit().await?;
        if self.store.backend() == Backend::Sqlite {
            report.wal_checkpoint = Some(self.checkpoint().await?);
        }
        Ok(Erasure::Erased(report))
    }

    /// Copies the WAL into the database file and truncates it (SQLite; a no-op elsewhere).
    pub async fn checkpoint(&self) -> Result<WalCheckpoint, StoreError> {
        let db = self.store.connection();
        if self.store.backend() != Backend::Sqlite {
            return Ok(WalCheckpoint { busy: false, log_frames: 0, checkpointed_frames: 0 });
        }
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)"))
            .await?
            .ok_or_else(|| StoreError::Invalid("wal_checkpoint returned no row".into()))?;
        let busy: i64 = row.try_get_by_index(0)?;
        let log_frames: i64 = row.try_get_by_index(1)?;
        let checkpointed_frames: i64 = row.try_get_by_index(2)?;
        Ok(WalCheckpoint { busy: busy != 0, log_frames, checkpointed_frames })
    }
}

async fn erase_in(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    row: customer::Model,
    request_id: &str,
) -> Result<ErasureReport, StoreError> {
    let now = Utc::now();
    let t = tenant.0;
    let linked = linked(txn, tenant, row).await?;
    let c = &linked.customer;
    let convs = linked.conversations.clone();
    // Filled in as each kind is erased below.
    let mut n = ErasedCounts { feedback: 0, ..ErasedCounts::default() };

    // Conversations: feedback, escalations, messages, drafts, tickets, then the rows themselves.
    n.feedback = message_feedback::Entity::delete_many()
        .filter(message_feedback::Column::TenantId.eq(t))
        .filter(message_feedback::Column::ConversationId.is_in(convs.clone()))
        .exec(txn)
        .await?
        .rows_affected;
    n.escalations = escalation::Entity::delete_many()
        .filter(escalation::Column::TenantId.eq(t))
        .filter(escalation::Column::ConversationId.is_in(convs.clone()))
        .exec(txn)
        .await?
        .rows_affected;
    n.ledger_rows_unlinked = llm_ledger::Entity::update_many()
        .col_expr(llm_ledger::Column::ConversationId, Expr::value(Option::<Uuid>::None))
        .col_expr(llm_ledger::Column::MessageId, Expr::value(Option::<Uuid>::None))
        .filter(llm_ledger::Column::TenantId.eq(t))
        .filter(llm_ledger::Column::ConversationId.is_in(convs.clone()))
        .exec(txn)
        .await?
        .rows_affected;
    n.messages = message::Entity::delete_many()
        .filter(message::Column::TenantId.eq(t))
        .filter(message::Column::ConversationId.is_in(convs.clone()))
        .exec(txn)
        .await?
        .rows_affected;
    n.order_drafts = order_draft::Entity::delete_many()
        .filter(order_draft::Column::TenantId.eq(t))
        .filter(
            sea_orm::Condition::any()
                .add(order_draft::Column::ConversationId.is_in(convs.clone()))
                .add(order_draft::Column::CustomerId.eq(c.id)),
        )
        .exec(txn)
        .await?
        .rows_affected;
    n.tickets = ticket_link::Entity::delete_many()
        .filter(ticket_link::Column::TenantId.eq(t))
        .filter(
            sea_orm::Condition::any()
                .add(ticket_link::Column::CustomerId.eq(c.id))
                .add(ticket_link::Column::ConversationId.is_in(convs.clone())),
        )
        .exec(txn)
        .await?
        .rows_affected;
    let conv_ids: Vec<String> = convs.iter().map(Uuid::to_string).collect();
    n.verification_failures = verification_failure::Entity::delete_many()
        .filter(verification_failure::Column::TenantId.eq(t))
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(verification_failure::Column::Scope.eq("customer_number"))
                        .add(verification_failure::Column::Subject.eq(c.external_id.to_uppercase())),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(verification_failure::Column::Scope.eq("session"))
                        .add(verification_failure::Column::Subject.is_in(conv_ids)),
                ),
        )
        .exec(txn)
        .await?
        .rows_affected;
    n.conversations = conversation::Entity::delete_many()
        .filter(conversation::Column::TenantId.eq(t))
        .filter(conversation::Column::Id.is_in(convs.clone()))
        .exec(txn)
        .await?
        .rows_affected;

    // Orders: an issued invoice's order stays (number, amounts, lines, dates); the rest go.
    let (kept, gone): (Vec<&order::Model>, Vec<&order::Model>) = linked.orders.iter().partition(|o| invoice_issued(o));
    let all_ids: Vec<Uuid> = linked.orders.iter().map(|o| o.id).collect();
    let kept_ids: Vec<Uuid> = kept.iter().map(|o| o.id).collect();
    let gone_ids: Vec<Uuid> = gone.iter().map(|o| o.id).collect();
    n.order_escalations = order_escalation::Entity::delete_many()
        .filter(order_escalation::Column::TenantId.eq(t))
        .filter(order_escalation::Column::OrderId.is_in(all_ids.clone()))
        .exec(txn)
        .await?
        .rows_affected;
    // Jobs of deleted orders go, and so does a kept order's pending invoice email: the person
    // asked to be forgotten, not mailed.
    let kept_emails: Vec<String> = kept_ids.iter().map(|id| format!("{}:{id}", crate::repo::EMAIL_OUTBOX_KIND)).collect();
    n.outbox_jobs_deleted = outbox::Entity::delete_many()
        .filter(outbox::Column::TenantId.eq(t))
        .filter(
            sea_orm::Condition::any().add(outbox::Column::IdempotencyKey.is_in(order_job_keys(&gone_ids))).add(
                sea_orm::Condition::all()
                    .add(outbox::Column::IdempotencyKey.is_in(kept_emails))
                    .add(outbox::Column::State.is_in([crate::repo::outbox_state::PENDING, crate::repo::outbox_state::LEASED])),
            ),
        )
        .exec(txn)
        .await?
        .rows_affected;
    // The accounting system's error text may quote the contact.
    n.outbox_errors_cleared = outbox::Entity::update_many()
        .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
        .filter(outbox::Column::TenantId.eq(t))
        .filter(outbox::Column::IdempotencyKey.is_in(order_job_keys(&kept_ids)))
        .filter(outbox::Column::LastError.is_not_null())
        .exec(txn)
        .await?
        .rows_affected;
    if !kept_ids.is_empty() {
        order::Entity::update_many()
            .col_expr(order::Column::FailureReason, Expr::value(Option::<String>::None))
            .filter(order::Column::TenantId.eq(t))
            .filter(order::Column::Id.is_in(kept_ids.clone()))
            .exec(txn)
            .await?;
    }
    n.order_items_deleted = order_item::Entity::delete_many()
        .filter(order_item::Column::TenantId.eq(t))
        .filter(order_item::Column::OrderId.is_in(gone_ids.clone()))
        .exec(txn)
        .await?
        .rows_affected;
    n.orders_deleted = order::Entity::delete_many()
        .filter(order::Column::TenantId.eq(t))
        .filter(order::Column::Id.is_in(gone_ids))
        .exec(txn)
        .await?
        .rows_affected;

    // A failed customer upload's report may quote the customer's fields.
    let needles = [c.external_id.as_str(), c.email.as_str(), c.name.as_str()];
    for j in job::Entity::find().filter(job::Column::TenantId.eq(t)).filter(job::Column::Kind.eq(CUSTOMER_IMPORT_JOB)).all(txn).await? {
        if quotes(&j.errors.to_string(), &needles) {
            let redacted: Vec<Value> = match &j.errors {
                Value::Array(rows) => rows
                    .iter()
                    .map(|r| if quotes(&r.to_string(), &needles) { json!({ "redacted": "customer erased" }) } else { r.clone() })
                    .collect(),
                _ => vec![json!({ "redacted": "customer erased" })],
            };
            let mut active: job::ActiveModel = j.into();
            active.errors = Set(Value::Array(redacted));
            active.update(txn).await?;
            n.import_reports_redacted += 1;
        }
    }

    // The customer row: kept only as the anonymous owner of kept invoices.
    if kept.is_empty() {
        n.customer_rows_deleted = customer::Entity::delete_many()
            .filter(customer::Column::TenantId.eq(t))
            .filter(customer::Column::Id.eq(c.id))
            .exec(txn)
            .await?
            .rows_affected;
    } else {
        n.customer_rows_pseudonymised = customer::Entity::update_many()
            .col_expr(customer::Column::ExternalId, Expr::value(format!("erased-{}", Uuid::new_v4())))
            .col_expr(customer::Column::Name, Expr::value(""))
            .col_expr(customer::Column::Email, Expr::value(""))
            .col_expr(customer::Column::Company, Expr::value(""))
            .col_expr(customer::Column::Phone, Expr::value(Option::<String>::None))
            .col_expr(customer::Column::Active, Expr::value(false))
            .col_expr(customer::Column::UpdatedAt, Expr::value(Some(now)))
            .filter(customer::Column::TenantId.eq(t))
            .filter(customer::Column::Id.eq(c.id))
            .exec(txn)
            .await?
            .rows_affected;
    }
    let kept_invoices: Vec<KeptInvoice> = kept
        .iter()
        .map(|o| KeptInvoice {
            order_number: o.number.clone(),
            invoice_number: o.invoice_number.clone(),
            invoice_id: o.invoice_id.clone(),
            total_minor: o.total_minor,
            currency: o.currency.clone(),
            status: o.status.clone(),
            created_at: o.created_at,
        })
        .collect();
    let report = ErasureReport { customer_id: c.id, erased_at: now, erased: n, kept_invoices, wal_checkpoint: None };
    customer_erasure::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(t),
        number_digest: Set(number_digest(tenant, &c.external_id)),
        email_digest: Set((!c.email.trim().is_empty()).then(|| email_digest(tenant, &c.email))),
        request_id: Set(request_id.chars().take(128).collect()),
        report: Set(json!({ "erased": report.erased, "kept_invoices": report.kept_invoices.len() })),
        erased_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_per_tenant_and_emails_ignore_case_and_spaces() {
        let (a, b) = (TenantId(Uuid::from_u128(1)), TenantId(Uuid::from_u128(2)));
        assert_ne!(number_digest(a, "C-1"), number_digest(b, "C-1"));
        assert_ne!(number_digest(a, "C-1"), email_digest(a, "C-1"));
        assert_eq!(email_digest(a, " Ada@Example.COM "), email_digest(a, "ada@example.com"));
        assert_eq!(number_digest(a, "C-1").len(), 64);
    }

    #[test]
    fn only_orders_with_an_issued_invoice_are_kept() {
        let now = Utc::now();
        let mut o = order::Model {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            customer_id: Uuid::nil(),
            number: "ORD-1".into(),
            status: "cancelled".into(),
            subtotal_minor: 1,
            total_minor: 1,
            currency: "USD".into(),
            idempotency_key: "k".into(),
            invoice_id: None,
            invoice_number: None,
            failure_reason: None,
            created_at: now,
            updated_at: now,
        };
        assert!(!invoice_issued(&o));
        o.invoice_number = Some("INV-1".into());
        assert!(invoice_issued(&o));
        assert_eq!(order_job_keys(&[Uuid::nil()]).len(), 3);
    }
}
