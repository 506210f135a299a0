//! Per-tenant daily usage: messages, LLM tokens and cost, cache hits by level and the tokens
//! they saved. Rows are upserted by adding to the day's totals, in the same transaction as the
//! exchange they count, so the rollup never disagrees with the messages table.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use tria_core::{CacheLevel, TenantId};

use crate::StoreError;
use crate::entity::tenant_usage_daily as usage;
use crate::records::{DailyUsage, IntoRecords};

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
    pub(crate) db: &'a crate::Db,
}

/// What several exchanges add to one tenant's day, summed so a batch writes one row per day.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub(crate) struct UsageTotals {
    pub(crate) messages: i64,
    pub(crate) tokens_in: i64,
    pub(crate) tokens_out: i64,
    pub(crate) cost_usd: f64,
    pub(crate) cache_l1: i64,
    pub(crate) cache_l2: i64,
    pub(crate) cache_l3: i64,
    pub(crate) tokens_saved: i64,
}

impl UsageTotals {
    /// Whether every figure can travel as a JSON number (a NaN or infinite cost cannot).
    pub(crate) fn finite(&self) -> bool {
        self.cost_usd.is_finite()
    }

    pub(crate) fn add(&mut self, delta: &UsageDelta) {
        let hit = |level: CacheLevel| i64::from(delta.cache_level == Some(level));
        self.messages += delta.messages;
        self.tokens_in += delta.tokens_in;
        self.tokens_out += delta.tokens_out;
        self.cost_usd += delta.cost_usd;
        self.cache_l1 += hit(CacheLevel::L1);
        self.cache_l2 += hit(CacheLevel::L2);
        self.cache_l3 += hit(CacheLevel::L3);
        self.tokens_saved += delta.tokens_saved;
    }
}

/// Adds `delta` to the tenant's `day` (creating the row on first use).
pub(crate) async fn add_usage<C: ConnectionTrait>(db: &C, tenant: TenantId, day: NaiveDate, delta: &UsageDelta) -> Result<(), StoreError> {
    let mut totals = UsageTotals::default();
    totals.add(delta);
    add_totals(db, tenant, day, &totals).await
}

/// Adds `totals` to the tenant's `day` in one upsert.
pub(crate) async fn add_totals<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    day: NaiveDate,
    totals: &UsageTotals,
) -> Result<(), StoreError> {
    let row = usage::ActiveModel {
        tenant_id: Set(tenant.0),
        day: Set(day),
        messages: Set(totals.messages),
        tokens_in: Set(totals.tokens_in),
        tokens_out: Set(totals.tokens_out),
        cost_usd: Set(totals.cost_usd),
        cache_l1: Set(totals.cache_l1),
        cache_l2: Set(totals.cache_l2),
        cache_l3: Set(totals.cache_l3),
        tokens_saved: Set(totals.tokens_saved),
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
    pub async fn range(&self, tenant: TenantId, from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyUsage>, StoreError> {
        Ok(usage::Entity::find()
            .filter(usage::Column::TenantId.eq(tenant.0))
            .filter(usage::Column::Day.gte(from))
            .filter(usage::Column::Day.lte(to))
            .order_by_asc(usage::Column::Day)
            .all(self.db)
            .await?
            .records())
    }
}
