//! Group commit: many exchanges, of any tenants, stored in one transaction. Under load the
//! chat pipeline's writes are what limits throughput (one transaction per reply, and SQLite
//! takes one writer at a time); a batch pays the commit once and writes each table with a few
//! multi-row statements.

/// The tail of both SQLite writers' usage upsert: a day's row gains the batch's totals. A
/// macro, not a `const`, so `concat!` can join it to each writer's own INSERT.
macro_rules! add_to_usage_day {
    () => {
        " ON CONFLICT (tenant_id, day) DO UPDATE SET \
messages = tenant_usage_daily.messages + excluded.messages, \
tokens_in = tenant_usage_daily.tokens_in + excluded.tokens_in, \
tokens_out = tenant_usage_daily.tokens_out + excluded.tokens_out, \
cost_usd = tenant_usage_daily.cost_usd + excluded.cost_usd, \
cache_l1 = tenant_usage_daily.cache_l1 + excluded.cache_l1, \
cache_l2 = tenant_usage_daily.cache_l2 + excluded.cache_l2, \
cache_l3 = tenant_usage_daily.cache_l3 + excluded.cache_l3, \
tokens_saved = tenant_usage_daily.tokens_saved + excluded.tokens_saved, \
updated_at = excluded.updated_at"
    };
}

mod direct;
mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, Set, TransactionTrait};
use tokio::runtime::Handle;
use tria_core::{ConversationStatus, TenantId};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{conversation, message};
use crate::repo::conversations::{ConversationRepo, Exchange, message_row};
use crate::repo::usage::{UsageDelta, UsageTotals, add_totals};
pub(crate) use direct::DirectWriter;

/// Rows per multi-row INSERT: 500 messages × 16 columns stays well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// One exchange of a batch, with its tenant and what it adds to the tenant's day.
#[derive(Clone, Debug)]
pub struct MeteredExchange {
    pub tenant: TenantId,
    pub exchange: Exchange,
    pub usage: Option<UsageDelta>,
}

impl ConversationRepo<'_> {
    /// Stores every exchange of `batch` in one transaction: all of them or none. An exchange
    /// that continues a conversation which does not exist (or is another tenant's) fails the
    /// whole batch with `NotFound`; the caller retries the exchanges one by one to tell which.
    pub async fn record_exchanges(&self, batch: &[MeteredExchange]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let days = usage_by_day(batch);
        let txn = self.db.begin().await?;
        if self.db.get_database_backend() == DbBackend::Sqlite && sqlite::suits(batch, &days) {
            sqlite::write(&txn, batch, &days).await?;
        } else {
            write_portable(&txn, batch).await?;
            for ((tenant, day), totals) in &days {
                add_totals(&txn, TenantId(*tenant), *day, totals).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Batches of exchanges through the store's group-commit writer ([`crate::Store::exchange_batches`]).
pub struct ExchangeBatches<'a> {
    pub(crate) db: &'a crate::Db,
    /// The SQLite file's own writer connection; `None` on PostgreSQL and in-memory SQLite.
    pub(crate) direct: Option<&'a Arc<DirectWriter>>,
}

impl ExchangeBatches<'_> {
    /// Stores every exchange of `batch` in one transaction, as
    /// [`ConversationRepo::record_exchanges`] does. On a SQLite file the batch is written by
    /// the direct writer on tokio's blocking pool (a copy of it: a few µs an exchange against
    /// the tens the sqlx path cost); elsewhere through the pool.
    pub async fn record_exchanges(&self, batch: &[MeteredExchange]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(direct) = self.direct
            && Handle::try_current().is_ok()
        {
            let (direct, items, days) = (direct.clone(), batch.to_vec(), usage_by_day(batch));
            return tokio::task::spawn_blocking(move || direct.write(&items, &days))
                .await
                .map_err(|e| StoreError::Unavailable(format!("the exchange writer stopped: {e}")))?;
        }
        ConversationRepo { db: self.db }.record_exchanges(batch).await
    }
}

/// The group commit's writer on a SQLite file, for a thread of the caller's own: each write
/// blocks until its transaction is committed or rolled back. From [`crate::Store::blocking_exchange_writer`].
#[derive(Clone, Debug)]
pub struct BlockingExchangeWriter(pub(crate) Arc<DirectWriter>);

impl BlockingExchangeWriter {
    /// Stores every exchange of `batch` in one transaction, as
    /// [`ConversationRepo::record_exchanges`] does, blocking the calling thread.
    pub fn record_exchanges(&self, batch: &[MeteredExchange]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.0.write(batch, &usage_by_day(batch))
    }
}

/// The batch's conversations and messages through sea-orm's builders, for any backend.
async fn write_portable(txn: &DatabaseTransaction, batch: &[MeteredExchange]) -> Result<(), StoreError> {
    let opened: Vec<conversation::ActiveModel> = batch
        .iter()
        .filter_map(|item| {
            let new = item.exchange.opens_conversation.as_ref()?;
            Some(conversation::ActiveModel {
                id: Set(item.exchange.conversation.0),
                tenant_id: Set(item.tenant.0),
                customer_id: Set(new.customer.map(|c| c.0)),
                channel: Set(new.channel.clone()),
                status: Set(ConversationStatus::Open.as_str().to_owned()),
                resolution: Set(None),
                started_at: Set(item.exchange.user.created_at),
                updated_at: Set(item.exchange.assistant.created_at),
            })
        })
        .collect();
    for rows in chunked(opened) {
        conversation::Entity::insert_many(rows).exec_without_returning(txn).await?;
    }

    // Writes only: a SQLite transaction that starts with a read gets SQLITE_BUSY at once
    // under concurrency, one that starts with a write waits for the lock.
    for ((tenant, id), at) in continued_conversations(batch) {
        let updated = conversation::Entity::update_many()
            .col_expr(conversation::Column::UpdatedAt, Expr::value(at))
            .filter(conversation::Column::Id.eq(id))
            .filter(conversation::Column::TenantId.eq(tenant))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
    }

    let messages: Vec<message::ActiveModel> = batch
        .iter()
        .flat_map(|item| {
            let Exchange { conversation, user, assistant, .. } = item.exchange.clone();
            [message_row(item.tenant, conversation, user), message_row(item.tenant, conversation, assistant)]
        })
        .collect();
    for rows in chunked(messages) {
        message::Entity::insert_many(rows).exec_without_returning(txn).await?;
    }

    Ok(())
}

/// As sqlx encodes a `DateTime<Utc>` for SQLite (RFC 3339, nanoseconds as needed), for the two
/// SQLite writers that bypass it, so stored times compare and parse alike.
fn sqlite_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// The conversations the batch continues, each with its newest reply time.
fn continued_conversations(batch: &[MeteredExchange]) -> BTreeMap<(Uuid, Uuid), DateTime<Utc>> {
    let mut latest = BTreeMap::new();
    for item in batch.iter().filter(|item| item.exchange.opens_conversation.is_none()) {
        let at = item.exchange.assistant.created_at;
        latest.entry((item.tenant.0, item.exchange.conversation.0)).and_modify(|t: &mut DateTime<Utc>| *t = (*t).max(at)).or_insert(at);
    }
    latest
}

/// Usage per (tenant, day).
type UsageDays = BTreeMap<(Uuid, NaiveDate), UsageTotals>;

/// The batch's usage summed per tenant and day (the day of the reply in UTC).
fn usage_by_day(batch: &[MeteredExchange]) -> UsageDays {
    let mut days: BTreeMap<(Uuid, NaiveDate), UsageTotals> = BTreeMap::new();
    for item in batch {
        if let Some(delta) = &item.usage {
            days.entry((item.tenant.0, item.exchange.assistant.created_at.date_naive())).or_default().add(delta);
        }
    }
    days
}

fn chunked<T>(rows: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let mut rows = rows.into_iter().peekable();
    std::iter::from_fn(move || {
        rows.peek()?;
        Some(rows.by_ref().take(ROWS_PER_INSERT).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::chunked;

    #[test]
    fn rows_are_inserted_in_chunks_of_the_bound_parameter_budget() {
        let sizes: Vec<usize> = chunked((0..1201).collect::<Vec<_>>()).map(|c| c.len()).collect();
        assert_eq!(sizes, [500, 500, 201]);
        assert_eq!(chunked(Vec::<u8>::new()).count(), 0);
    }
}
