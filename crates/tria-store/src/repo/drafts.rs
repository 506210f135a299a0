//! The order draft of a conversation (one row per conversation, replaced as it changes).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use tria_core::{ConversationId, CustomerId, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::order_draft;

/// What a conversation's order draft holds.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftState {
    pub customer: Option<CustomerId>,
    pub target_order: Option<Uuid>,
    pub state: String,
    pub lines: serde_json::Value,
    pub pending: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug)]
pub struct DraftRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl DraftRepo<'_> {
    pub async fn get(&self, tenant: TenantId, conversation: ConversationId) -> Result<Option<DraftState>, StoreError> {
        let row = order_draft::Entity::find()
            .filter(order_draft::Column::TenantId.eq(tenant.0))
            .filter(order_draft::Column::ConversationId.eq(conversation.0))
            .one(self.db)
            .await?;
        Ok(row.map(|r| DraftState {
            customer: r.customer_id.map(CustomerId),
            target_order: r.target_order_id,
            state: r.state,
            lines: r.lines,
            pending: r.pending,
        }))
    }

    /// Stores the conversation's draft, replacing the previous one.
    pub async fn save(&self, tenant: TenantId, conversation: ConversationId, draft: DraftState) -> Result<(), StoreError> {
        let now = Utc::now();
        let existing = order_draft::Entity::find()
            .filter(order_draft::Column::TenantId.eq(tenant.0))
            .filter(order_draft::Column::ConversationId.eq(conversation.0))
            .one(self.db)
            .await?;
        let fill = |row: &mut order_draft::ActiveModel| {
            row.customer_id = Set(draft.customer.map(|c| c.0));
            row.target_order_id = Set(draft.target_order);
            row.state = Set(draft.state.clone());
            row.lines = Set(draft.lines.clone());
            row.pending = Set(draft.pending.clone());
            row.updated_at = Set(now);
        };
        match existing {
            Some(row) => {
                let mut row = order_draft::ActiveModel::from(row);
                fill(&mut row);
                row.update(self.db).await?;
            }
            None => {
                let mut row = order_draft::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    tenant_id: Set(tenant.0),
                    conversation_id: Set(conversation.0),
                    created_at: Set(now),
                    ..Default::default()
                };
                fill(&mut row);
                row.insert(self.db).await?;
            }
        }
        Ok(())
    }

    /// Forgets the conversation's draft (placed, cancelled or abandoned).
    pub async fn clear(&self, tenant: TenantId, conversation: ConversationId) -> Result<(), StoreError> {
        order_draft::Entity::delete_many()
            .filter(order_draft::Column::TenantId.eq(tenant.0))
            .filter(order_draft::Column::ConversationId.eq(conversation.0))
            .exec(self.db)
            .await?;
        Ok(())
    }
}
