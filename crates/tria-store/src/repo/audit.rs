//! The append-only audit log: [`AuditRepo::append`] and a filtered, paged read. There is no
//! update or delete here (and `m0015_audit_log`'s trigger refuses `UPDATE` in the database).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tria_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::audit_log;
use crate::records::{AuditEntry, IntoRecords};

/// Longest `target` and `request_id` kept (longer ones are cut, never refused: an action must
/// not fail for want of an audit line).
const MAX_TARGET_CHARS: usize = 255;
const MAX_REQUEST_ID_CHARS: usize = 128;

/// One action to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    pub tenant: Option<(TenantId, String)>,
    pub actor_key_id: Option<Uuid>,
    pub actor_role: String,
    pub action: String,
    pub target: String,
    pub request_id: String,
    pub details: serde_json::Value,
}

/// Which entries to read: all filters optional; `after` is the `seq` of the last entry of the
/// previous page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditFilter {
    pub tenant: Option<TenantId>,
    pub actor: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<i64>,
    pub limit: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct AuditRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl AuditRepo<'_> {
    pub async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let (tenant_id, tenant_slug) = entry.tenant.map_or((None, None), |(id, slug)| (Some(id.0), Some(slug)));
        Ok(audit_log::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            tenant_slug: Set(tenant_slug),
            actor_key_id: Set(entry.actor_key_id),
            actor_role: Set(entry.actor_role),
            action: Set(entry.action),
            target: Set(entry.target.chars().take(MAX_TARGET_CHARS).collect()),
            request_id: Set(entry.request_id.chars().take(MAX_REQUEST_ID_CHARS).collect()),
            details: Set(entry.details),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(self.db)
        .await?
        .into())
    }

    /// Entries matching `filter`, oldest first, at most `filter.limit`.
    pub async fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut query = audit_log::Entity::find();
        if let Some(tenant) = filter.tenant {
            query = query.filter(audit_log::Column::TenantId.eq(tenant.0));
        }
        if let Some(actor) = filter.actor {
            query = query.filter(audit_log::Column::ActorKeyId.eq(actor));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_log::Column::CreatedAt.gte(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_log::Column::CreatedAt.lt(to));
        }
        if let Some(after) = filter.after {
            query = query.filter(audit_log::Column::Seq.gt(after));
        }
        Ok(query.order_by_asc(audit_log::Column::Seq).limit(filter.limit).all(self.db).await?.records())
    }
}
