//! Tenants: the client businesses a deployment serves.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use tria_core::{TenantContext, TenantId, ToneProfile};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::tenant;

#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: String,
    pub slug: String,
    pub currency: String,
    pub tone: ToneProfile,
    pub settings: serde_json::Value,
}

/// Fields an admin may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub tone: Option<ToneProfile>,
    pub settings: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug)]
pub struct TenantRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

pub(crate) fn to_context(row: tenant::Model) -> TenantContext {
    TenantContext {
        id: TenantId(row.id),
        slug: row.slug,
        name: row.name,
        // A tone that no longer parses falls back to the default voice rather than failing chat.
        tone: serde_json::from_value(row.tone).unwrap_or_default(),
        settings: row.settings,
    }
}

impl TenantRepo<'_> {
    pub async fn create(&self, new: NewTenant) -> Result<TenantContext, StoreError> {
        let row = tenant::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(new.name),
            slug: Set(new.slug),
            currency: Set(new.currency),
            tone: Set(serde_json::to_value(&new.tone).map_err(|e| StoreError::Invalid(e.to_string()))?),
            settings: Set(new.settings),
            created_at: Set(Utc::now()),
        }
        .insert(self.db)
        .await?;
        Ok(to_context(row))
    }

    /// Applies `patch`; `NotFound` when the tenant does not exist.
    pub async fn update(&self, id: TenantId, patch: TenantPatch) -> Result<TenantContext, StoreError> {
        let row = tenant::Entity::find_by_id(id.0).one(self.db).await?.ok_or_else(|| StoreError::NotFound(format!("tenant {id}")))?;
        let mut active: tenant::ActiveModel = row.into();
        if let Some(name) = patch.name {
            active.name = Set(name);
        }
        if let Some(tone) = patch.tone {
            active.tone = Set(serde_json::to_value(&tone).map_err(|e| StoreError::Invalid(e.to_string()))?);
        }
        if let Some(settings) = patch.settings {
            active.settings = Set(settings);
        }
        Ok(to_context(active.update(self.db).await?))
    }

    pub async fn get(&self, id: TenantId) -> Result<Option<TenantContext>, StoreError> {
        Ok(tenant::Entity::find_by_id(id.0).one(self.db).await?.map(to_context))
    }

    pub async fn find_by_slug(&self, slug: &str) -> Result<Option<TenantContext>, StoreError> {
        Ok(tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(self.db).await?.map(to_context))
    }

    pub async fn list(&self) -> Result<Vec<TenantContext>, StoreError> {
        let rows = tenant::Entity::find().order_by_asc(tenant::Column::Slug).all(self.db).await?;
        Ok(rows.into_iter().map(to_context).collect())
    }

    pub async fn count(&self) -> Result<u64, StoreError> {
        Ok(tenant::Entity::find().count(self.db).await?)
    }

    /// The tenant's currency code.
    pub async fn currency(&self, id: TenantId) -> Result<String, StoreError> {
        tenant::Entity::find_by_id(id.0).one(self.db).await?.map(|t| t.currency).ok_or_else(|| StoreError::NotFound(format!("tenant {id}")))
    }
}
