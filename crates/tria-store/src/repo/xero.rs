//! Per-tenant Xero connections and pending authorizations.
//!
//! A refresh token is used once (Xero rotates it), so two replicas must never refresh with the
//! same one. A refresh is therefore *claimed* first: [`XeroConnectionRepo::claim_refresh`] takes a
//! lease on the row only if its `token_generation` is still the one the caller read and no live
//! lease is held; [`XeroConnectionRepo::complete_refresh`] then writes the new (sealed) refresh
//! token and bumps the generation in one transaction, only for the lease's holder. A caller that
//! loses the claim re-reads the row and the token instead of refreshing with a stale one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};
use tria_core::TenantId;

use crate::StoreError;
use crate::entity::{tenant_secret, xero_connect_state, xero_connection};
use crate::records::{IntoRecords, XeroConnectState, XeroConnection};
use crate::repo::SealedSecret;
use crate::repo::secrets::put_on;

/// What the callback learnt about the organisation it connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewXeroConnection {
    pub connection_id: String,
    pub xero_tenant_id: String,
    pub org_name: String,
    pub client_id: String,
}

#[derive(Clone, Copy, Debug)]
pub struct XeroConnectionRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl XeroConnectionRepo<'_> {
    /// Records a pending authorization; expired ones are purged on the way.
    pub async fn insert_state(
        &self,
        tenant: TenantId,
        state_hash: &str,
        organisation: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        xero_connect_state::Entity::delete_many().filter(xero_connect_state::Column::ExpiresAt.lt(now)).exec(self.db).await?;
        xero_connect_state::ActiveModel {
            state_hash: Set(state_hash.to_owned()),
            tenant_id: Set(tenant.0),
            organisation: Set(organisation.map(str::to_owned)),
            expires_at: Set(expires_at),
            created_at: Set(now),
        }
        .insert(self.db)
        .await?;
        Ok(())
    }

    /// Takes the pending authorization with this hash: it is deleted, so a second take (a
    /// replayed callback) finds nothing. An expired row is taken too; the caller checks
    /// `expires_at`.
    pub async fn take_state(&self, state_hash: &str) -> Result<Option<XeroConnectState>, StoreError> {
        let Some(row) = xero_connect_state::Entity::find_by_id(state_hash.to_owned()).one(self.db).await? else {
            return Ok(None);
        };
        let deleted =
            xero_connect_state::Entity::delete_many().filter(xero_connect_state::Column::StateHash.eq(state_hash)).exec(self.db).await?;
        // Two callbacks with the same state: only the one whose delete took the row goes on.
        Ok((deleted.rows_affected == 1).then(|| row.into()))
    }

    /// Stores a new (or renewed) connection and its refresh token together. A reconnection
    /// replaces the organisation, clears a revocation and bumps the generation, so a refresh in
    /// flight from the old tokens cannot complete.
    pub async fn connect(
        &self,
        tenant: TenantId,
        new: NewXeroConnection,
        refresh_secret_name: &str,
        refresh_token: SealedSecret,
    ) -> Result<XeroConnection, StoreError> {
        let now = Utc::now();
        let txn = self.db.begin().await?;
        // Write first (SQLite: a transaction that starts with a write waits for the lock).
        let updated = xero_connection::Entity::update_many()
            .col_expr(xero_connection::Column::ConnectionId, Expr::value(new.connection_id.clone()))
            .col_expr(xero_connection::Column::XeroTenantId, Expr::value(new.xero_tenant_id.clone()))
            .col_expr(xero_connection::Column::OrgName, Expr::value(new.org_name.clone()))
            .col_expr(xero_connection::Column::ClientId, Expr::value(new.client_id.clone()))
            .col_expr(xero_connection::Column::Status, Expr::value(XeroConnection::CONNECTED))
            .col_expr(xero_connection::Column::TokenGeneration, Expr::col(xero_connection::Column::TokenGeneration).add(1))
            .col_expr(xero_connection::Column::RefreshHolder, Expr::value(Option::<String>::None))
            .col_expr(xero_connection::Column::RefreshLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(xero_connection::Column::ConnectedAt, Expr::value(now))
            .col_expr(xero_connection::Column::RevokedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(xero_connection::Column::UpdatedAt, Expr::value(now))
            .filter(xero_connection::Column::TenantId.eq(tenant.0))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            xero_connection::ActiveModel {
                tenant_id: Set(tenant.0),
                connection_id: Set(new.connection_id),
                xero_tenant_id: Set(new.xero_tenant_id),
                org_name: Set(new.org_name),
                status: Set(XeroConnection::CONNECTED.to_owned()),
                client_id: Set(new.client_id),
                token_generation: Set(0),
                refresh_holder: Set(None),
                refresh_lease_until: Set(None),
                connected_at: Set(now),
                revoked_at: Set(None),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        put_on(&txn, tenant, refresh_secret_name, refresh_token).await?;
        txn.commit().await?;
        self.get(tenant).await?.ok_or_else(|| StoreError::NotFound("xero connection".into()))
    }

    pub async fn get(&self, tenant: TenantId) -> Result<Option<XeroConnection>, StoreError> {
        Ok(xero_connection::Entity::find_by_id(tenant.0).one(self.db).await?.records())
    }

    /// Every tenant's connection (the directory's health view), oldest first.
    pub async fn list(&self) -> Result<Vec<XeroConnection>, StoreError> {
        Ok(xero_connection::Entity::find().order_by_asc(xero_connection::Column::ConnectedAt).all(self.db).await?.records())
    }

    /// Claims the right to refresh from `generation` until `lease_until`: `false` when the row
    /// moved on (another holder refreshed), is leased by someone else, or is not connected.
    pub async fn claim_refresh(
        &self,
        tenant: TenantId,
        generation: i64,
        holder: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let result = xero_connection::Entity::update_many()
            .col_expr(xero_connection::Column::RefreshHolder, Expr::value(holder))
            .col_expr(xero_connection::Column::RefreshLeaseUntil, Expr::value(lease_until))
            .filter(xero_connection::Column::TenantId.eq(tenant.0))
            .filter(xero_connection::Column::TokenGeneration.eq(generation))
            .filter(xero_connection::Column::Status.eq(XeroConnection::CONNECTED))
            .filter(
                Condition::any()
                    .add(xero_connection::Column::RefreshLeaseUntil.is_null())
                    .add(xero_connection::Column::RefreshLeaseUntil.lt(now)),
            )
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Persists the refresh token a claimed refresh got back and moves the generation on, in
    /// one transaction; `false` (nothing written) when `holder` no longer holds the claim.
    pub async fn complete_refresh(
        &self,
        tenant: TenantId,
        generation: i64,
        holder: &str,
        refresh_secret_name: &str,
        refresh_token: SealedSecret,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let moved = xero_connection::Entity::update_many()
            .col_expr(xero_connection::Column::TokenGeneration, Expr::value(generation + 1))
            .col_expr(xero_connection::Column::RefreshHolder, Expr::value(Option::<String>::None))
            .col_expr(xero_connection::Column::RefreshLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(xero_connection::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(xero_connection::Column::TenantId.eq(tenant.0))
            .filter(xero_connection::Column::TokenGeneration.eq(generation))
            .filter(xero_connection::Column::RefreshHolder.eq(holder))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        put_on(&txn, tenant, refresh_secret_name, refresh_token).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Gives a claim back without refreshing (the token endpoint was unreachable).
    pub async fn release_refresh(&self, tenant: TenantId, generation: i64, holder: &str) -> Result<(), StoreError> {
        xero_connection::Entity::update_many()
            .col_expr(xero_connection::Column::RefreshHolder, Expr::value(Option::<String>::None))
            .col_expr(xero_connection::Column::RefreshLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(xero_connection::Column::TenantId.eq(tenant.0))
            .filter(xero_connection::Column::TokenGeneration.eq(generation))
            .filter(xero_connection::Column::RefreshHolder.eq(holder))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Marks the connection of generation `generation` revoked (Xero refused its refresh token);
    /// `true` only for the call that changed it, so exactly one caller opens the escalation.
    pub async fn mark_revoked(&self, tenant: TenantId, generation: i64) -> Result<bool, StoreError> {
        let now = Utc::now();
        let result = xero_connection::Entity::update_many()
            .col_expr(xero_connection::Column::Status, Expr::value(XeroConnection::REVOKED))
            .col_expr(xero_connection::Column::RevokedAt, Expr::value(now))
            .col_expr(xero_connection::Column::RefreshHolder, Expr::value(Option::<String>::None))
            .col_expr(xero_connection::Column::RefreshLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(xero_connection::Column::UpdatedAt, Expr::value(now))
            .filter(xero_connection::Column::TenantId.eq(tenant.0))
            .filter(xero_connection::Column::TokenGeneration.eq(generation))
            .filter(xero_connection::Column::Status.eq(XeroConnection::CONNECTED))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Removes the connection and its refresh token; the removed row, if there was one.
    pub async fn disconnect(&self, tenant: TenantId, refresh_secret_name: &str) -> Result<Option<XeroConnection>, StoreError> {
        let Some(row) = self.get(tenant).await? else { return Ok(None) };
        let txn = self.db.begin().await?;
        xero_connection::Entity::delete_many().filter(xero_connection::Column::TenantId.eq(tenant.0)).exec(&txn).await?;
        tenant_secret::Entity::delete_many()
            .filter(tenant_secret::Column::TenantId.eq(tenant.0))
            .filter(tenant_secret::Column::Name.eq(refresh_secret_name))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Some(row))
    }
}
