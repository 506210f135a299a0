//! What the web widget and the operator console read and write besides the chat pipeline:
//! queues across a set of tenants, operator messages, take-over status, reply feedback and the
//! figures of a tenant's dashboard. Every call takes the tenant(s) it may touch and filters on
//! them in SQL, so an operator's queue can never include a tenant it is not assigned to.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait};
use tria_core::{ConversationId, ConversationStatus, MessageRole, Resolution, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{conversation, escalation, message, message_feedback, policy_chunk, policy_document};
use crate::records::{Conversation, Escalation, Feedback, IntoRecords, StoredMessage};

/// A customer's verdict on one reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Up => "up",
            Rating::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Rating::Up),
            "down" => Some(Rating::Down),
            _ => None,
        }
    }
}

/// Thumbs counted for a tenant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedbackCounts {
    pub up: u64,
    pub down: u64,
}

/// The per-message figures the dashboard aggregates (no content).
#[derive(Clone, Debug, PartialEq, sea_orm::FromQueryResult)]
pub struct MessageFigures {
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub latency_ms: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cache_level: Option<String>,
}

/// What a cited policy chunk is, for showing a citation (title, heading and the start of it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChunkLabel {
    pub id: Uuid,
    pub title: String,
    pub heading: String,
    pub excerpt: String,
}

/// Characters of a chunk shown under a citation.
const EXCERPT_CHARS: usize = 280;

#[derive(Clone, Copy, Debug)]
pub struct ConsoleRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

fn tenant_uuids(tenants: &[TenantId]) -> Vec<Uuid> {
    tenants.iter().map(|t| t.0).collect()
}

impl ConsoleRepo<'_> {
    /// Conversations of `tenants`, most recently active first; `status` narrows the list.
    pub async fn conversations(
        &self,
        tenants: &[TenantId],
        status: Option<ConversationStatus>,
        limit: u64,
    ) -> Result<Vec<Conversation>, StoreError> {
        let mut query = conversation::Entity::find().filter(conversation::Column::TenantId.is_in(tenant_uuids(tenants)));
        if let Some(status) = status {
            query = query.filter(conversation::Column::Status.eq(status.as_str()));
        }
        Ok(query.order_by_desc(conversation::Column::UpdatedAt).limit(limit).all(self.db).await?.records())
    }

    /// One conversation, if it belongs to one of `tenants`.
    pub async fn conversation(&self, tenants: &[TenantId], id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        Ok(conversation::Entity::find_by_id(id.0)
            .filter(conversation::Column::TenantId.is_in(tenant_uuids(tenants)))
            .one(self.db)
            .await?
            .records())
    }

    /// The messages of several conversations of `tenants`, oldest first (for queue rows).
    pub async fn messages_of(&self, tenants: &[TenantId], conversations: &[Uuid]) -> Result<Vec<StoredMessage>, StoreError> {
        if conversations.is_empty() {
            return Ok(Vec::new());
        }
        Ok(message::Entity::find()
            .filter(message::Column::TenantId.is_in(tenant_uuids(tenants)))
            .filter(message::Column::ConversationId.is_in(conversations.to_vec()))
            .order_by_asc(message::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }

    /// A conversation's escalations, oldest first.
    pub async fn escalations(&self, tenant: TenantId, conversation: ConversationId) -> Result<Vec<Escalation>, StoreError> {
        Ok(escalation::Entity::find()
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .filter(escalation::Column::ConversationId.eq(conversation.0))
            .order_by_asc(escalation::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }

    /// The conversations of `tenants` that have an escalation (for the handoff flag).
    pub async fn escalated_conversations(&self, tenants: &[TenantId]) -> Result<Vec<Uuid>, StoreError> {
        Ok(escalation::Entity::find()
            .select_only()
            .column(escalation::Column::ConversationId)
            .filter(escalation::Column::TenantId.is_in(tenant_uuids(tenants)))
            .into_tuple::<Uuid>()
            .all(self.db)
            .await?)
    }

    /// Escalations of a tenant still waiting for a person.
    pub async fn open_escalations(&self, tenant: TenantId) -> Result<u64, StoreError> {
        Ok(escalation::Entity::find()
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .filter(escalation::Column::Status.eq("open"))
            .count(self.db)
            .await?)
    }

    /// Sets who answers: `handed_off` (a person took over; resolution becomes `handed_off`
    /// unless one is already recorded) or `open` (the bot answers again).
    pub async fn set_status(&self, tenant: TenantId, id: ConversationId, status: ConversationStatus) -> Result<Conversation, StoreError> {
        let txn = self.db.begin().await?;
        let mut update = conversation::Entity::update_many()
            .col_expr(conversation::Column::Status, Expr::value(status.as_str()))
            .col_expr(conversation::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(conversation::Column::Id.eq(id.0))
            .filter(conversation::Column::TenantId.eq(tenant.0));
        if status == ConversationStatus::HandedOff {
            update = update.col_expr(
                conversation::Column::Resolution,
                Expr::from(Func::coalesce([Expr::col(conversation::Column::Resolution), Expr::val(Resolution::HandedOff.as_str())])),
            );
        }
        if update.exec(&txn).await?.rows_affected == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
        let row = conversation::Entity::find_by_id(id.0).one(&txn).await?.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Stores a message written by an operator (role `operator`) and marks the conversation
    /// active. The caller checks the conversation is handed off.
    pub async fn add_operator_message(&self, tenant: TenantId, id: ConversationId, content: &str) -> Result<StoredMessage, StoreError> {
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let touched = conversation::Entity::update_many()
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(id.0))
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .exec(&txn)
            .await?;
        if touched.rows_affected == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
        let row = message::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.0),
            conversation_id: Set(id.0),
            role: Set(MessageRole::Operator.as_str().to_owned()),
            content: Set(content.to_owned()),
            intent: Set(None),
            confidence: Set(None),
            sources: Set(serde_json::json!([])),
            tokens_in: Set(0),
            tokens_out: Set(0),
            latency_ms: Set(0),
            cache_level: Set(None),
            prompt_version: Set(None),
            cost_usd: Set(0.0),
            sentiment: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Marks the channel a conversation came through (e.g. `web` for the widget), which decides
    /// who may read it later.
    pub async fn set_channel(&self, tenant: TenantId, id: ConversationId, channel: &str) -> Result<(), StoreError> {
        conversation::Entity::update_many()
            .col_expr(conversation::Column::Channel, Expr::value(channel))
            .filter(conversation::Column::Id.eq(id.0))
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Records (or replaces) the verdict on one of the tenant's assistant or operator replies.
    /// Returns the reply's conversation; another tenant's message or a customer's own message
    /// is not found.
    pub async fn record_feedback(
        &self,
        tenant: TenantId,
        message_id: Uuid,
        rating: Rating,
        comment: Option<&str>,
    ) -> Result<ConversationId, StoreError> {
        let txn = self.db.begin().await?;
        let reply = message::Entity::find_by_id(message_id)
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::Role.is_in([MessageRole::Assistant.as_str(), MessageRole::Operator.as_str()]))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("message {message_id}")))?;
        message_feedback::Entity::delete_many().filter(message_feedback::Column::MessageId.eq(message_id)).exec(&txn).await?;
        message_feedback::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.0),
            conversation_id: Set(reply.conversation_id),
            message_id: Set(message_id),
            rating: Set(rating.as_str().to_owned()),
            comment: Set(comment.map(str::to_owned)),
            created_at: Set(Utc::now()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(ConversationId(reply.conversation_id))
    }

    /// The feedback on a set of messages of one tenant: message id → rating.
    pub async fn feedback_on(&self, tenant: TenantId, messages: &[Uuid]) -> Result<Vec<Feedback>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        Ok(message_feedback::Entity::find()
            .filter(message_feedback::Column::TenantId.eq(tenant.0))
            .filter(message_feedback::Column::MessageId.is_in(messages.to_vec()))
            .all(self.db)
            .await?
            .records())
    }

    /// Thumbs up and down a tenant's replies received.
    pub async fn feedback_counts(&self, tenant: TenantId) -> Result<FeedbackCounts, StoreError> {
        let rows: Vec<(String, i64)> = message_feedback::Entity::find()
            .select_only()
            .column(message_feedback::Column::Rating)
            .column_as(message_feedback::Column::Id.count(), "n")
            .filter(message_feedback::Column::TenantId.eq(tenant.0))
            .group_by(message_feedback::Column::Rating)
            .into_tuple()
            .all(self.db)
            .await?;
        let mut counts = FeedbackCounts::default();
        for (rating, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match Rating::parse(&rating) {
                Some(Rating::Up) => counts.up += n,
                Some(Rating::Down) => counts.down += n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// How many of a tenant's conversations ended each way (`None` = still unresolved).
    pub async fn resolutions(&self, tenant: TenantId) -> Result<Vec<(Option<String>, u64)>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Resolution)
            .column_as(conversation::Column::Id.count(), "n")
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .group_by(conversation::Column::Resolution)
            .into_tuple()
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(|(r, n)| (r, u64::try_from(n).unwrap_or(0))).collect())
    }

    /// The figures of a tenant's messages since `since`, oldest first.
    pub async fn message_figures(&self, tenant: TenantId, since: DateTime<Utc>) -> Result<Vec<MessageFigures>, StoreError> {
        Ok(message::Entity::find()
            .select_only()
            .columns([
                message::Column::Role,
                message::Column::CreatedAt,
                message::Column::LatencyMs,
                message::Column::TokensIn,
                message::Column::TokensOut,
                message::Column::CacheLevel,
            ])
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::CreatedAt.gte(since))
            .order_by_asc(message::Column::CreatedAt)
            .into_model::<MessageFigures>()
            .all(self.db)
            .await?)
    }

    /// Titles, headings and excerpts of the tenant's chunks among `ids` (others are skipped).
    pub async fn chunk_labels(&self, tenant: TenantId, ids: &[Uuid]) -> Result<Vec<ChunkLabel>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let chunks = policy_chunk::Entity::find()
            .filter(policy_chunk::Column::TenantId.eq(tenant.0))
            .filter(policy_chunk::Column::Id.is_in(ids.to_vec()))
            .all(self.db)
            .await?;
        let documents: Vec<Uuid> = chunks.iter().map(|c| c.document_id).collect();
        let titles: std::collections::HashMap<Uuid, String> = policy_document::Entity::find()
            .filter(policy_document::Column::TenantId.eq(tenant.0))
            .filter(policy_document::Column::Id.is_in(documents))
            .all(self.db)
            .await?
            .into_iter()
            .map(|d| (d.id, d.title))
            .collect();
        Ok(chunks
            .into_iter()
            .map(|c| ChunkLabel {
                id: c.id,
                title: titles.get(&c.document_id).cloned().unwrap_or_default(),
                heading: c.heading_path,
                excerpt: c.text.chars().take(EXCERPT_CHARS).collect(),
            })
            .collect())
    }

    /// The conversation of one of the tenant's assistant or operator replies.
    pub async fn reply_conversation(&self, tenant: TenantId, message_id: Uuid) -> Result<Option<Conversation>, StoreError> {
        let Some(reply) = message::Entity::find_by_id(message_id)
            .filter(message::Column::TenantId.eq(tenant.0))
            .filter(message::Column::Role.is_in([MessageRole::Assistant.as_str(), MessageRole::Operator.as_str()]))
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(conversation::Entity::find_by_id(reply.conversation_id)
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .one(self.db)
            .await?
            .records())
    }
}
