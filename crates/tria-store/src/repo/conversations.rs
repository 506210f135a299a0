//! Conversations and their messages.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use tria_core::{CacheLevel, ConversationId, ConversationStatus, CustomerId, IntentLabel, MessageRole, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{conversation, message};

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
}

impl NewMessage {
    pub fn new(role: MessageRole, content: impl Into<String>) -> Self {
        Self {
            id: Uuid::new_v4(),
            role,
            content: content.into(),
            intent: None,
            sources: Vec::new(),
            tokens_in: 0,
            tokens_out: 0,
            latency_ms: 0,
            cache_level: None,
            created_at: Utc::now(),
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
    pub(crate) db: &'a DatabaseConnection,
}

fn message_row(tenant: TenantId, conversation: ConversationId, m: NewMessage) -> message::ActiveModel {
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
    }
}

impl ConversationRepo<'_> {
    /// The conversation if it exists *and* belongs to `tenant`; another tenant's id is `None`.
    pub async fn get(&self, tenant: TenantId, id: ConversationId) -> Result<Option<conversation::Model>, StoreError> {
        Ok(conversation::Entity::find_by_id(id.0).filter(conversation::Column::TenantId.eq(tenant.0)).one(self.db).await?)
    }

    /// Stores both messages (and the conversation when new) in one transaction.
    pub async fn record_exchange(&self, tenant: TenantId, exchange: Exchange) -> Result<(), StoreError> {
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
        txn.commit().await?;
        Ok(())
    }

    /// All messages of a conversation, oldest first; empty for another tenant's conversation.
    pub async fn messages(&self, tenant: TenantId, id: ConversationId) -> Result<Vec<message::Model>, StoreError> {
        Ok(message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::ConversationId.eq(id.0))
            .order_by_asc(message::Column::CreatedAt)
            .order_by_asc(message::Column::Role) // a user message and its reply can share a timestamp
            .all(self.db)
            .await?)
    }

    /// The latest `limit` messages, oldest first.
    pub async fn recent_messages(&self, tenant: TenantId, id: ConversationId, limit: u64) -> Result<Vec<message::Model>, StoreError> {
        let mut rows = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::ConversationId.eq(id.0))
            .order_by_desc(message::Column::CreatedAt)
            .limit(limit)
            .all(self.db)
            .await?;
        rows.reverse();
        Ok(rows)
    }

    pub async fn set_status(&self, tenant: TenantId, id: ConversationId, status: ConversationStatus) -> Result<(), StoreError> {
        let row = self.get(tenant, id).await?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
        let mut active: conversation::ActiveModel = row.into();
        active.status = Set(status.as_str().to_owned());
        active.updated_at = Set(Utc::now());
        active.update(self.db).await?;
        Ok(())
    }
}
