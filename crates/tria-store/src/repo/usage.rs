//! Per-tenant daily usage: messages, LLM tokens and cost, cache hits by level and the tokens
//! they saved. Rows are upserted by adding to the day's totals, in the same transaction as the
//! exchange they count, so the rollup never disagrees with the messages table.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use tria_core::{CacheLevel, TenantId};

use crate::StoreError;
use crate::entity::tenant_usage_daily as usage;

/// What one exchange adds to its tenant's day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageDelta {
    pub messages: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
    /// The cache level that answered (`None` or `Some(CacheLevel::None)`: generated).
    pub cache_level: Option<CacheLevel>,
    pub tokens_saved: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct UsageRepo<'a> {
    pub(crate) db: &'a DatabaseConnection,
}

/// Adds `delta` to the tenant's `day` (creating the row on first use).
pub(crate) async fn add_usage<C: ConnectionTrait>(db: &C, tenant: TenantId, day: NaiveDate, delta: &UsageDelta) -> Result<(), StoreError> {
    let hit = |level: CacheLevel| i64::from(delta.cache_level == Some(level));
    let row = usage::ActiveModel {
        tenant_id: Set(tenant.0),
        day: Set(day),
        messages: Set(delta.messages),
        tokens_in: Set(delta.tokens_in),
        tokens_out: Set(delta.tokens_out),
        cost_usd: Set(delta.cost_usd),
        cache_l1: Set(hit(CacheLevel::L1)),
        cache_l2: Set(hit(CacheLevel::L2)),
        cache_l3: Set(hit(CacheLevel::L3)),
        tokens_saved: Set(delta.tokens_saved),
        updated_at: Set(Utc::now()),
    };
    // `table.col + excluded.col` is the same SQL on SQLite and PostgreSQL.
    let add = |col: &str| Expr::cust(format!("tenant_usage_daily.{col} + excluded.{col}"));
    let mut on_conflict = OnConflict::columns([usage::Column::TenantId, usage::Column::Day]);
    on_conflict
        .value(usage::Column::Messages, add("messages"))
        .value(usage::Column::TokensIn, add("tokens_in"))
        .value(usage::Column::TokensOut, add("tokens_out"))
        .value(usage::Column::CostUsd, add("cost_usd"))
        .value(usage::Column::CacheL1, add("cache_l1"))
        .value(usage::Column::CacheL2, add("cache_l2"))
        .value(usage::Column::CacheL3, add("cache_l3"))
        .value(usage::Column::TokensSaved, add("tokens_saved"))
        .value(usage::Column::UpdatedAt, Expr::cust("excluded.updated_at"));
    usage::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await?;
    Ok(())
}

impl UsageRepo<'_> {
    /// Adds `delta` to the tenant's `day` on its own (exchanges do it in their transaction).
    pub async fn record(&self, tenant: TenantId, day: NaiveDate, delta: &UsageDelta) -> Result<(), StoreError> {
        add_usage(self.db, tenant, day, delta).await
    }

    /// The tenant's days from `from` to `to` inclusive, oldest first; days without traffic have
    /// no row.
    pub async fn range(&self, tenant: TenantId, from: NaiveDate, to: NaiveDate) -> Result<Vec<usage::Model>, StoreError> {
        Ok(usage::Entity::find()
            .filter(usage::Column::TenantId.eq(tenant.0))
            .filter(usage::Column::Day.gte(from))
            .filter(usage::Column::Day.lte(to))
            .order_by_asc(usage::Column::Day)
            .all(self.db)
            .await?)
    }
}
