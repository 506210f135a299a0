//! What is known about one customer across orders, tickets and conversations: the signals a
//! profile and a churn score are computed from, and a fingerprint that changes whenever the
//! customer's orders or tickets change (so a cached profile can tell it is stale).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tria_core::{CustomerId, MessageRole, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{conversation, escalation, message, order, ticket_link};

/// Messages looked at for recent sentiment.
const RECENT_MESSAGES: u64 = 20;

/// The customer's conversation signals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerSignals {
    /// Customer messages classified as complaints.
    pub complaints: u64,
    /// Sentiment of the customer's recent messages (`negative|neutral|positive`), newest first.
    pub recent_sentiments: Vec<String>,
    pub last_contact: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug)]
pub struct InsightRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl InsightRepo<'_> {
    pub async fn customer_signals(&self, tenant: TenantId, customer: CustomerId) -> Result<CustomerSignals, StoreError> {
        let conversations: Vec<Uuid> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Id)
            .filter(conversation::Column::TenantId.eq(tenant.0))
            .filter(conversation::Column::CustomerId.eq(customer.0))
            .into_tuple()
            .all(self.db)
            .await?;
        if conversations.is_empty() {
            return Ok(CustomerSignals::default());
        }
        let user_messages = || {
            message::Entity::find()
                .filter(message::Column::TenantId.eq(tenant.0))
                .filter(message::Column::ConversationId.is_in(conversations.clone()))
                .filter(message::Column::Role.eq(MessageRole::User.as_str()))
        };
        let complaints = sea_orm::PaginatorTrait::count(user_messages().filter(message::Column::Intent.eq("complaint")), self.db).await?;
        let recent = user_messages().order_by_desc(message::Column::CreatedAt).limit(RECENT_MESSAGES).all(self.db).await?;
        Ok(CustomerSignals {
            complaints,
            last_contact: recent.first().map(|m| m.created_at),
            recent_sentiments: recent.into_iter().filter_map(|m| m.sentiment).collect(),
        })
    }

    /// Changes whenever one of the customer's orders or tickets is created or updated.
    pub async fn fingerprint(&self, tenant: TenantId, customer: CustomerId) -> Result<String, StoreError> {
        let orders: Vec<DateTime<Utc>> = order::Entity::find()
            .select_only()
            .column(order::Column::UpdatedAt)
            .filter(order::Column::TenantId.eq(tenant.0))
            .filter(order::Column::CustomerId.eq(customer.0))
            .into_tuple()
            .all(self.db)
            .await?;
        let tickets: Vec<DateTime<Utc>> = ticket_link::Entity::find()
            .select_only()
            .column(ticket_link::Column::UpdatedAt)
            .filter(ticket_link::Column::TenantId.eq(tenant.0))
            .filter(ticket_link::Column::CustomerId.eq(customer.0))
            .into_tuple()
            .all(self.db)
            .await?;
        let part = |stamps: &[DateTime<Utc>]| {
            format!("{}@{}", stamps.len(), stamps.iter().map(DateTime::timestamp_micros).max().unwrap_or_default())
        };
        Ok(format!("o{}-t{}", part(&orders), part(&tickets)))
    }

    /// Marks a conversation escalation resolved (e.g. its ticket was closed).
    pub async fn resolve_escalation(&self, tenant: TenantId, escalation_id: Uuid) -> Result<bool, StoreError> {
        let updated = escalation::Entity::update_many()
            .col_expr(escalation::Column::Status, Expr::value("resolved"))
            .col_expr(escalation::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(escalation::Column::TenantId.eq(tenant.0))
            .filter(escalation::Column::Id.eq(escalation_id))
            .exec(self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }
}
