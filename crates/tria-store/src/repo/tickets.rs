//! Links between helpdesk tickets and where they came from.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use tria_core::{ConversationId, CustomerId, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::ticket_link;
use crate::records::{IntoRecords, TicketLink};

/// Where a new ticket came from.
#[derive(Clone, Debug, Default)]
pub struct NewTicketLink {
    pub ticket_ref: String,
    pub source: String,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
    pub conversation: Option<ConversationId>,
    pub customer: Option<CustomerId>,
    pub escalation: Option<Uuid>,
}

#[derive(Clone, Copy, Debug)]
pub struct TicketLinkRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl TicketLinkRepo<'_> {
    pub async fn create(&self, tenant: TenantId, new: NewTicketLink) -> Result<TicketLink, StoreError> {
        let now = Utc::now();
        Ok(ticket_link::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.0),
            ticket_ref: Set(new.ticket_ref),
            source: Set(new.source),
            slack_channel: Set(new.slack_channel),
            slack_ts: Set(new.slack_ts),
            conversation_id: Set(new.conversation.map(|c| c.0)),
            customer_id: Set(new.customer.map(|c| c.0)),
            escalation_id: Set(new.escalation),
            status: Set("open".into()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db)
        .await?
        .into())
    }

    /// The newest ticket made from a Slack message, if any.
    pub async fn find_by_slack_message(&self, tenant: TenantId, channel: &str, ts: &str) -> Result<Option<TicketLink>, StoreError> {
        Ok(ticket_link::Entity::find()
            .filter(ticket_link::Column::TenantId.eq(tenant.0))
            .filter(ticket_link::Column::SlackChannel.eq(channel))
            .filter(ticket_link::Column::SlackTs.eq(ts))
            .order_by_desc(ticket_link::Column::CreatedAt)
            .one(self.db)
            .await?
            .records())
    }

    /// Marks the link closed; `false` when it was not open.
    pub async fn close(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        let result = ticket_link::Entity::update_many()
            .col_expr(ticket_link::Column::Status, Expr::value("closed"))
            .col_expr(ticket_link::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(ticket_link::Column::TenantId.eq(tenant.0))
            .filter(ticket_link::Column::Id.eq(id))
            .filter(ticket_link::Column::Status.eq("open"))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Open tickets of a customer.
    pub async fn open_for_customer(&self, tenant: TenantId, customer: CustomerId) -> Result<u64, StoreError> {
        Ok(ticket_link::Entity::find()
            .filter(ticket_link::Column::TenantId.eq(tenant.0))
            .filter(ticket_link::Column::CustomerId.eq(customer.0))
            .filter(ticket_link::Column::Status.eq("open"))
            .count(self.db)
            .await?)
    }

    /// Every ticket of a customer (open or closed), newest first.
    pub async fn for_customer(&self, tenant: TenantId, customer: CustomerId) -> Result<Vec<TicketLink>, StoreError> {
        Ok(ticket_link::Entity::find()
            .filter(ticket_link::Column::TenantId.eq(tenant.0))
            .filter(ticket_link::Column::CustomerId.eq(customer.0))
            .order_by_desc(ticket_link::Column::CreatedAt)
            .all(self.db)
            .await?
            .records())
    }
}
