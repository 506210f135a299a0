//! Conversations and their messages.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait};
use tria_core::{CacheLevel, ConversationId, ConversationStatus, CustomerId, IntentLabel, MessageRole, Resolution, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{conversation, escalation, message};
use crate::records::{Conversation, Escalation, IntoRecords, StoredMessage};
use crate::repo::usage::{UsageDelta, add_usage};

/// One message to store, with what the pipeline decided about it.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Chosen by the caller so it can name the stored message (e.g. `ChatReply.message_id`).
    pub id: Uuid,
    pub role: MessageRole,
    pub content: String,
    pub intent: Option<(IntentLabel, f32)>,
    pub sources: Vec<String>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub latency_ms: i64,
    pub cache_level: Option<CacheLevel>,
    pub created_at: DateTime<Utc>,
    /// The prompt version that wrote an assistant reply.
    pub prompt_version: Option<String>,
    pub cost_usd: f64,
    /// A user message's sentiment (`negative`, `neutral`, `positive`).
    pub sentiment: Option<String>,
}

impl NewMessage {
    pub fn new(role: MessageRole, content: impl Into<String>) -> Self {
        Self {
            // Time-ordered: messages are the table written on every exchange (see
            // `ConversationId::new_ordered`).
            id: Uuid::now_v7(),
            role,
            content: content.into(),
            intent: None,
            sources: Vec::new(),
            tokens_in: 0,
            tokens_out: 0,
            latency_ms: 0,
            cache_level: None,
            created_at: Utc::now(),
            prompt_version: None,
            cost_usd: 0.0,
            sentiment: None,
        }
    }
}

/// A customer message and the reply to it, stored together or not at all.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub conversation: ConversationId,
    /// `Some` when this exchange opens the conversation.
    pub opens_conversation: Option<NewConversation>,
    pub user: NewMessage,
    pub assistant: NewMessage,
}

#[derive(Clone, Debug)]
pub struct NewConversation {
    pub customer: Option<CustomerId>,
    pub channel: String,
}

#[derive(Clone, Copy, Debug)]
pub struct ConversationRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

pub(crate) fn message_row(tenant: TenantId, conversation: ConversationId, m: NewMessage) -> message::ActiveModel {
    message::ActiveModel {
        id: Set(m.id),
        tenant_id: Set(tenant.0),
        conversation_id: Set(conversation.0),
        role: Set(m.role.as_str().to_owned()),
        content: Set(m.content),
        intent: Set(m.intent.map(|(label, _)| label.as_str().to_owned())),
        confidence: Set(m.intent.map(|(_, c)| f64::from(c))),
        sources: Set(serde_json::json!(m.sources)),
        tokens_in: Set(m.tokens_in),
        tokens_out: Set(m.tokens_out),
        latency_ms: Set(m.latency_ms),
        cache_level: Set(m.cache_level.map(|c| c.as_str().to_owned())),
        created_at: Set(m.created_at),
        prompt_version: Set(m.prompt_version),
        cost_usd: Set(m.cost_usd),
        sentiment: Set(m.sentiment),
    }
}

impl ConversationRepo<'_> {
    /// The conversation if it exists *and* belongs to `tenant`; another tenant's id is `None`.
    pub async fn get(&self, tenant: TenantId, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        Ok(conversation::Entity::find_by_id(id.0).filter(conversation::Column::TenantId.eq(tenant.0)).one(self.db).await?.records())
    }

    /// Stores both messages (and the conversation when new) in one transaction.
    pub async fn record_exchange(&self, tenant: TenantId, exchange: Exchange) -> Result<(), StoreError> {
        self.record_exchange_metered(tenant, exchange, None).await
    }

    /// [`ConversationRepo::record_exchange`] that also adds `usage` to the tenant's day
    /// (`tenant_usage_daily`, the day of the reply in UTC) in the same transaction.
    pub async fn record_exchange_metered(
        &self,
        tenant: TenantId,
        exchange: Exchange,
        usage: Option<&UsageDelta>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let now = exchange.assistant.created_at;
        match exchange.opens_conversation {
            Some(new) => {
                conversation::ActiveModel {
                    id: Set(exchange.conversation.0),
                    tenant_id: Set(tenant.0),
                    customer_id: Set(new.customer.map(|c| c.0)),
                    channel: Set(new.channel),
                    status: Set(ConversationStatus::Open.as_str().to_owned()),
                    resolution: Set(None),
                    started_at: Set(exchange.user.created_at),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
            None => {
                // One UPDATE, not read-then-write: on SQLite a deferred transaction that reads
                // first and then writes gets SQLITE_BUSY at once under concurrency (no busy
                // wait); a transaction that starts with a write waits for the lock instead.
                let updated = conversation::Entity::update_many()
                    .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
                    .filter(conversation::Column::Id.eq(exchange.conversation.0))
                    .filter(conversation::Column::TenantId.eq(tenant.0))
                    .exec(&txn)
                    .await?;
                if updated.rows_affected == 0 {
                    return Err(StoreError::NotFound(format!("session {}", exchange.conversation)));
                }
            }
        }
        message::Entity::insert_many([
            message_row(tenant, exchange.conversation, exchange.user),
            message_row(tenant, exchange.conversation, exchange.assistant),
        ])
        .exec(&txn)
        .await?;
        if let Some(usage) = usage {
            add_usage(&txn, tenant, now.date_naive(), usage).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// All messages of a conversation, oldest first; empty for another tenant's conversation.
    pub async fn messages(&self, tenant: TenantId, id: ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::ConversationId.eq(id.0))
            .order_by_asc(message::Column::CreatedAt)
            .order_by_asc(message::Column::Role) // a user message and its reply can share a timestamp
            .all(self.db)
            .await?
            .records())
    }

    /// The latest `limit` messages, oldest first.
    pub async fn recent_messages(&self, tenant: TenantId, id: ConversationId, limit: u64) -> Result<Vec<StoredMessage>, StoreError> {
        let mut rows = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::ConversationId.eq(id.0))
            .order_by_desc(message::Column::CreatedAt)
            .limit(limit)
            .all(self.db)
            .await?;
        rows.reverse();
        Ok(rows.records())
    }

    /// Links the conversation to `customer` once they have been identified in it; a
    /// conversation that already has a customer keeps theirs (returns `false`).
    pub async fn identify_customer(&self, tenant: TenantId, id: ConversationId, customer: CustomerId) -> Result<bool, StoreError> {
        let result = conversation::Entity::update_many()
            .col_expr(conversation::Column::CustomerId, Expr::value(customer.0))
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .filter(conversation::Column::Id.eq(id.0))
            .filter(conversation::Column::CustomerId.is_null())
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    pub async fn set_status(&self, tenant: TenantId, id: ConversationId, status: ConversationStatus) -> Result<(), StoreError> {
        let row = conversation::Entity::find_by_id(id.0)
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .one(self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
        let mut active: conversation::ActiveModel = row.into();
        active.status = Set(status.as_str().to_owned());
        active.updated_at = Set(Utc::now());
        active.update(self.db).await?;
        Ok(())
    }

    /// Hands the conversation to a person: status and resolution `handed_off` and an `open`
    /// escalation with `reason`, in one transaction. Handing off a conversation that already is
    /// returns its open escalation instead of opening a second one.
    pub async fn hand_off(&self, tenant: TenantId, id: ConversationId, reason: &str) -> Result<Escalation, StoreError> {
        let txn = self.db.begin().await?;
        let now = Utc::now();
        // The write comes first (see record_exchange on SQLite locking).
        let updated = conversation::Entity::update_many()
            .col_expr(conversation::Column::Status, Expr::value(ConversationStatus::HandedOff.as_str()))
            .col_expr(conversation::Column::Resolution, Expr::value(Resolution::HandedOff.as_str()))
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(id.0))
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
        let open = escalation::Entity::find()
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .filter(escalation::Column::ConversationId.eq(id.0))
            .filter(escalation::Column::Status.eq(ESCALATION_OPEN))
            .one(&txn)
            .await?;
        let row = match open {
            Some(row) => row,
            None => {
                escalation::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    tenant_id: Set(tenant.0),
                    conversation_id: Set(id.0),
                    reason: Set(reason.to_owned()),
                    ticket_ref: Set(None),
                    status: Set(ESCALATION_OPEN.to_owned()),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?
            }
        };
        txn.commit().await?;
        Ok(row.into())
    }

    /// Records the ticket a hand-off notifier opened for an escalation.
    pub async fn set_escalation_ticket(&self, tenant: TenantId, escalation_id: Uuid, ticket_ref: &str) -> Result<(), StoreError> {
        let updated = escalation::Entity::update_many()
            .col_expr(escalation::Column::TicketRef, Expr::value(ticket_ref))
            .col_expr(escalation::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(escalation::Column::Id.eq(escalation_id))
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .exec(self.db)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::NotFound(format!("escalation {escalation_id}")));
        }
        Ok(())
    }

    /// The escalations of one conversation, oldest first.
    pub async fn escalations(&self, tenant: TenantId, id: ConversationId) -> Result<Vec<Escalation>, StoreError> {
        Ok(escalation::Entity::find()
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .filter(escalation::Column::ConversationId.eq(id.0))
            .order_by_asc(escalation::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }

    /// Sets how the conversation ended (or is ending); `close` also sets status `closed`.
    /// A handed-off conversation keeps its `handed_off` resolution and status.
    pub async fn set_resolution(
        &self,
        tenant: TenantId,
        id: ConversationId,
        resolution: Resolution,
        close: bool,
    ) -> Result<bool, StoreError> {
        let mut update = conversation::Entity::update_many()
            .col_expr(conversation::Column::Resolution, Expr::value(resolution.as_str()))
            .filter(conversation::Column::Id.eq(id.0))
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .filter(conversation::Column::Status.ne(ConversationStatus::HandedOff.as_str()));
        if close {
            update = update.col_expr(conversation::Column::Status, Expr::value(ConversationStatus::Closed.as_str()));
        }
        Ok(update.exec(self.db).await?.rows_affected > 0)
    }

    /// Open conversations (any tenant) whose last activity is before `idle_since`, oldest first:
    /// what the resolution job settles. The caller acts per row with the row's own tenant.
    pub async fn idle_open(&self, idle_since: DateTime<Utc>, limit: u64) -> Result<Vec<Conversation>, StoreError> {
        Ok(conversation::Entity::find()
            .filter(conversation::Column::Status.eq(ConversationStatus::Open.as_str()))
            .filter(conversation::Column::UpdatedAt.lt(idle_since))
            .order_by_asc(conversation::Column::UpdatedAt)
            .limit(limit)
            .all(self.db)
            .await?
            .records())
    }
}

/// `escalations.status` of a hand-off nobody has closed yet.
pub const ESCALATION_OPEN: &str = "open";
