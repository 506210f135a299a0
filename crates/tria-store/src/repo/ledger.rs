//! The LLM cost ledger: rows written in batches ([`crate::ledger::LedgerWriter`]) and the usage
//! report read from them, grouped by day, intent or model, for one tenant or all.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::Serialize;
use tria_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::llm_ledger as ledger;

/// What a ledger row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// A model call (one `LlmClient` call; its HTTP retries are `attempts`).
    Call,
    /// An answer served from the cache: no model cost, `saved` = what it cost when generated.
    CacheHit,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Call => "call",
            LedgerKind::CacheHit => "cache_hit",
        }
    }
}

/// One row to write.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLedgerRow {
    pub id: Uuid,
    pub tenant: Option<TenantId>,
    pub conversation: Option<Uuid>,
    pub message: Option<Uuid>,
    pub intent: Option<String>,
    pub kind: LedgerKind,
    pub provider: String,
    pub model: String,
    pub attempts: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    /// Counted locally (cl100k) because the provider did not report usage.
    pub tokens_estimated: bool,
    /// `used`, `discarded_by_validation`, `regenerated`, `timeout`, `cancelled`, `error`, or
    /// `cache_hit`.
    pub outcome: String,
    /// The price in force, micro-dollars per million tokens: input, output, cached input.
    pub price_micro_per_mtok: [u64; 3],
    pub cost_micro_usd: u64,
    pub saved_micro_usd: u64,
    pub latency_ms: u32,
    pub at: DateTime<Utc>,
}

/// How the usage report groups rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageGroup {
    Day,
    Intent,
    Model,
}

impl UsageGroup {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Self::Day),
            "intent" => Some(Self::Intent),
            "model" => Some(Self::Model),
            _ => None,
        }
    }
}

/// One group's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct UsageBucket {
    /// The day (`YYYY-MM-DD`), intent label (`none` when unclassified) or model.
    pub key: String,
    /// Model calls, every outcome.
    pub calls: i64,
    /// Model calls whose reply was not used (discarded, regenerated, timed out, cancelled, failed).
    pub wasted_calls: i64,
    /// Calls whose tokens were estimated rather than reported.
    pub estimated_calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cost_micro_usd: i64,
    pub cache_hits: i64,
    pub saved_micro_usd: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct LedgerRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn active(row: &NewLedgerRow) -> ledger::ActiveModel {
    ledger::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant.map(|t| t.0)),
        conversation_id: Set(row.conversation),
        message_id: Set(row.message),
        intent: Set(row.intent.clone()),
        kind: Set(row.kind.as_str().to_owned()),
        provider: Set(row.provider.clone()),
        model: Set(row.model.clone()),
        attempts: Set(i32::try_from(row.attempts).unwrap_or(i32::MAX)),
        input_tokens: Set(clamp(row.input_tokens)),
        output_tokens: Set(clamp(row.output_tokens)),
        cached_input_tokens: Set(clamp(row.cached_input_tokens)),
        tokens_estimated: Set(row.tokens_estimated),
        outcome: Set(row.outcome.clone()),
        price_input_per_mtok_micro: Set(clamp(row.price_micro_per_mtok[0])),
        price_output_per_mtok_micro: Set(clamp(row.price_micro_per_mtok[1])),
        price_cached_input_per_mtok_micro: Set(clamp(row.price_micro_per_mtok[2])),
        cost_micro_usd: Set(clamp(row.cost_micro_usd)),
        saved_micro_usd: Set(clamp(row.saved_micro_usd)),
        latency_ms: Set(i32::try_from(row.latency_ms).unwrap_or(i32::MAX)),
        day: Set(row.at.date_naive().format("%Y-%m-%d").to_string()),
        created_at: Set(row.at),
    }
}

/// `SUM(expr)` as a BIGINT on both backends (PostgreSQL's SUM of a bigint is a numeric).
fn sum(expr: &str) -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"))
}

impl LedgerRepo<'_> {
    /// Writes `rows` in one statement per 200 (an id already written is skipped, so a batch
    /// retried after an unclear failure does not count twice).
    pub async fn insert(&self, rows: &[NewLedgerRow]) -> Result<(), StoreError> {
        for chunk in rows.chunks(200) {
            let on_conflict = sea_orm::sea_query::OnConflict::column(ledger::Column::Id).do_nothing().to_owned();
            ledger::Entity::insert_many(chunk.iter().map(active)).on_conflict(on_conflict).exec_without_returning(self.db).await?;
        }
        Ok(())
    }

    /// Totals from `from` to `to` (UTC days, inclusive) for `tenant` (or every tenant), one
    /// bucket per `group` key, ordered by key.
    pub async fn usage(
        &self,
        tenant: Option<TenantId>,
        from: NaiveDate,
        to: NaiveDate,
        group: UsageGroup,
    ) -> Result<Vec<UsageBucket>, StoreError> {
        let key = match group {
            UsageGroup::Day => "day",
            UsageGroup::Intent => "COALESCE(intent, 'none')",
            UsageGroup::Model => "model",
        };
        let mut query = ledger::Entity::find()
            .select_only()
            .column_as(Expr::cust(key), "key")
            .column_as(sum("CASE WHEN kind = 'call' THEN 1 ELSE 0 END"), "calls")
            .column_as(sum("CASE WHEN kind = 'call' AND outcome <> 'used' THEN 1 ELSE 0 END"), "wasted_calls")
            .column_as(sum("CASE WHEN kind = 'call' AND tokens_estimated THEN 1 ELSE 0 END"), "estimated_calls")
            .column_as(sum("input_tokens"), "input_tokens")
            .column_as(sum("output_tokens"), "output_tokens")
            .column_as(sum("cached_input_tokens"), "cached_input_tokens")
            .column_as(sum("cost_micro_usd"), "cost_micro_usd")
            .column_as(sum("CASE WHEN kind = 'cache_hit' THEN 1 ELSE 0 END"), "cache_hits")
            .column_as(sum("saved_micro_usd"), "saved_micro_usd")
            .filter(ledger::Column::Day.gte(from.format("%Y-%m-%d").to_string()))
            .filter(ledger::Column::Day.lte(to.format("%Y-%m-%d").to_string()));
        if let Some(tenant) = tenant {
            query = query.filter(ledger::Column::TenantId.eq(tenant.0));
        }
        Ok(query.group_by(Expr::cust(key)).order_by_asc(Expr::cust(key)).into_model::<UsageBucket>().all(self.db).await?)
    }
}
