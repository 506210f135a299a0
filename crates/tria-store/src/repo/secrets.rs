//! Sealed tenant secrets: put (insert or replace), get, list, delete, and the rotation's two
//! calls — rows not under a key, and a re-wrap that applies only if the row is still as read.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tria_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::tenant_secret;
use crate::records::{IntoRecords, TenantSecret};

/// A secret as sealed, ready to store.
#[derive(Clone, Debug)]
pub struct SealedSecret {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub hint: String,
}

/// Inserts or replaces `name` for `tenant` on `conn` (the pool, or a transaction that must write
/// the secret together with something else).
pub(crate) async fn put_on<C: ConnectionTrait>(conn: &C, tenant: TenantId, name: &str, sealed: SealedSecret) -> Result<(), StoreError> {
    let model = tenant_secret::ActiveModel {
        tenant_id: Set(tenant.0),
        name: Set(name.to_owned()),
        key_id: Set(sealed.key_id),
        nonce: Set(sealed.nonce),
        ciphertext: Set(sealed.ciphertext),
        hint: Set(sealed.hint),
        updated_at: Set(Utc::now()),
    };
    tenant_secret::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([tenant_secret::Column::TenantId, tenant_secret::Column::Name])
                .update_columns([
                    tenant_secret::Column::KeyId,
                    tenant_secret::Column::Nonce,
                    tenant_secret::Column::Ciphertext,
                    tenant_secret::Column::Hint,
                    tenant_secret::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub struct SecretRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl SecretRepo<'_> {
    /// Stores `name` for `tenant`, replacing what was there.
    pub async fn put(&self, tenant: TenantId, name: &str, sealed: SealedSecret) -> Result<TenantSecret, StoreError> {
        put_on(self.db, tenant, name, sealed).await?;
        self.get(tenant, name).await?.ok_or_else(|| StoreError::NotFound(format!("secret {name}")))
    }

    pub async fn get(&self, tenant: TenantId, name: &str) -> Result<Option<TenantSecret>, StoreError> {
        Ok(tenant_secret::Entity::find_by_id((tenant.0, name.to_owned())).one(self.db).await?.records())
    }

    /// The tenant's secrets by name (the caller shows names and hints only).
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<TenantSecret>, StoreError> {
        Ok(tenant_secret::Entity::find()
            .filter(tenant_secret::Column::TenantId.eq(tenant.0))
            .order_by_asc(tenant_secret::Column::Name)
            .all(self.db)
            .await?
            .records())
    }

    /// `false` when there was no such secret.
    pub async fn delete(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        let result = tenant_secret::Entity::delete_many()
            .filter(tenant_secret::Column::TenantId.eq(tenant.0))
            .filter(tenant_secret::Column::Name.eq(name))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Up to `limit` rows, of any tenant, sealed under a key other than `key_id`, in a stable
    /// order (tenant, name) starting after `after`, so a rotation walks the table in batches.
    pub async fn not_under_key(&self, key_id: &str, after: Option<(Uuid, String)>, limit: u64) -> Result<Vec<TenantSecret>, StoreError> {
        let mut query = tenant_secret::Entity::find().filter(tenant_secret::Column::KeyId.ne(key_id));
        if let Some((tenant, name)) = after {
            query =
                query.filter(sea_orm::Condition::any().add(tenant_secret::Column::TenantId.gt(tenant)).add(
                    sea_orm::Condition::all().add(tenant_secret::Column::TenantId.eq(tenant)).add(tenant_secret::Column::Name.gt(name)),
                ));
        }
        Ok(query
            .order_by_asc(tenant_secret::Column::TenantId)
            .order_by_asc(tenant_secret::Column::Name)
            .limit(limit)
            .all(self.db)
            .await?
            .records())
    }

    /// Replaces the sealed bytes of `row` with `sealed` (same value, another key) only if the row
    /// still holds what was read — a secret changed meanwhile is left as its writer set it.
    /// The hint and `updated_at` stay: the value did not change. `false` when the row changed.
    pub async fn rewrap(&self, row: &TenantSecret, sealed: SealedSecret) -> Result<bool, StoreError> {
        let result = tenant_secret::Entity::update_many()
            .col_expr(tenant_secret::Column::KeyId, sea_orm::sea_query::Expr::value(sealed.key_id))
            .col_expr(tenant_secret::Column::Nonce, sea_orm::sea_query::Expr::value(sealed.nonce))
            .col_expr(tenant_secret::Column::Ciphertext, sea_orm::sea_query::Expr::value(sealed.ciphertext))
            .filter(tenant_secret::Column::TenantId.eq(row.tenant_id))
            .filter(tenant_secret::Column::Name.eq(row.name.as_str()))
            .filter(tenant_secret::Column::KeyId.eq(row.key_id.as_str()))
            .filter(tenant_secret::Column::Nonce.eq(row.nonce.clone()))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// How many rows each key id seals (the rotation's progress and its final check).
    pub async fn count_by_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(tenant_secret::Entity::find()
            .select_only()
            .column(tenant_secret::Column::KeyId)
            .column_as(tenant_secret::Column::Name.count(), "rows")
            .group_by(tenant_secret::Column::KeyId)
            .order_by_asc(tenant_secret::Column::KeyId)
            .into_tuple::<(String, i64)>()
            .all(self.db)
            .await?)
    }
}
