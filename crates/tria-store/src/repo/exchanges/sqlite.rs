//! The SQLite shape of a batch write: the whole batch — conversations opened, conversations
//! continued, messages, usage — in one statement text and one round trip to sqlx's SQLite
//! worker thread. Each table's rows arrive as one JSON array that SQLite unpacks itself
//! (`jsonb_each`, SQLite ≥ 3.45: the array is parsed once into JSONB and each
//! `value ->> 'field'` is a lookup in a binary slice; `json_each` hands each row over as text
//! that every `->>` parses again, which cost more in SQLite than the binding it replaced).
//! The text never changes, so it is prepared once per connection and kept; the generic path
//! builds a multi-row INSERT whose text and thousands of bound parameters change with every
//! batch size (a third of the cache-hit path's CPU), and pays a thread hand-off per statement.
//!
//! Values are written exactly as sqlx binds them, so rows read back the same through sea-orm:
//! UUIDs as 16-byte BLOBs (`unhex` of the simple hex form), timestamps as RFC 3339 text with
//! nanoseconds as needed (`SecondsFormat::AutoSi`), JSON columns as compact JSON text.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use serde::Serialize;
use tria_core::ConversationStatus;
use uuid::Uuid;

use super::{MeteredExchange, UsageDays, continued_conversations, sqlite_timestamp as timestamp};
use crate::StoreError;
use crate::repo::conversations::NewMessage;
use crate::repo::usage::UsageTotals;

/// The whole batch in one round trip to sqlx's SQLite worker thread: four statements, each
/// reading its rows from one JSON array parameter (`$1`–`$4`: sqlx binds a named parameter by
/// its number across the statements of one query; `?4` would not do — SQLite gives the fourth
/// statement four slots, sqlx counts the three unnamed ones as arguments used, and `?4` is left
/// NULL). An empty array writes nothing. Every statement, and so the round trip, reports the
/// rows it changed; [`write`] checks the sum.
const WRITE_BATCH: &str = concat!(
    "\
INSERT INTO conversations (id, tenant_id, customer_id, channel, status, resolution, started_at, updated_at) \
SELECT unhex(value ->> 'id'), unhex(value ->> 'tenant'), unhex(value ->> 'customer'), value ->> 'channel', \
value ->> 'status', NULL, value ->> 'started_at', value ->> 'updated_at' FROM jsonb_each($1);
UPDATE conversations SET updated_at = touched.at FROM \
(SELECT unhex(value ->> 'id') AS id, unhex(value ->> 'tenant') AS tenant, value ->> 'at' AS at FROM jsonb_each($2)) AS touched \
WHERE conversations.id = touched.id AND conversations.tenant_id = touched.tenant;
INSERT INTO messages (id, tenant_id, conversation_id, role, content, intent, confidence, sources, tokens_in, tokens_out, \
latency_ms, cache_level, created_at, prompt_version, cost_usd, sentiment) \
SELECT unhex(value ->> 'id'), unhex(value ->> 'tenant'), unhex(value ->> 'conversation'), value ->> 'role', \
value ->> 'content', value ->> 'intent', value ->> 'confidence', value -> 'sources', value ->> 'tokens_in', \
value ->> 'tokens_out', value ->> 'latency_ms', value ->> 'cache_level', value ->> 'created_at', \
value ->> 'prompt_version', value ->> 'cost_usd', value ->> 'sentiment' FROM jsonb_each($3) \
WHERE EXISTS (SELECT 1 FROM conversations AS c \
WHERE c.id = unhex(value ->> 'conversation') AND c.tenant_id = unhex(value ->> 'tenant'));
INSERT INTO tenant_usage_daily (tenant_id, day, messages, tokens_in, tokens_out, cost_usd, cache_l1, cache_l2, cache_l3, \
tokens_saved, updated_at) \
SELECT unhex(value ->> 'tenant'), value ->> 'day', value ->> 'messages', value ->> 'tokens_in', value ->> 'tokens_out', \
value ->> 'cost_usd', value ->> 'cache_l1', value ->> 'cache_l2', value ->> 'cache_l3', value ->> 'tokens_saved', \
value ->> 'updated_at' FROM jsonb_each($4) WHERE true",
    add_to_usage_day!()
);

#[derive(Serialize)]
struct ConversationRow<'a> {
    id: String,
    tenant: String,
    customer: Option<String>,
    channel: &'a str,
    status: &'static str,
    started_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct TouchRow {
    id: String,
    tenant: String,
    at: String,
}

#[derive(Serialize)]
struct MessageRow<'a> {
    id: String,
    tenant: String,
    conversation: String,
    role: &'static str,
    content: &'a str,
    intent: Option<&'static str>,
    confidence: Option<f64>,
    sources: &'a [String],
    tokens_in: i64,
    tokens_out: i64,
    latency_ms: i64,
    cache_level: Option<&'static str>,
    created_at: String,
    prompt_version: Option<&'a str>,
    cost_usd: f64,
    sentiment: Option<&'a str>,
}

#[derive(Serialize)]
struct UsageRow<'a> {
    tenant: String,
    /// As sqlx encodes a `NaiveDate` for SQLite.
    day: String,
    #[serde(flatten)]
    totals: &'a UsageTotals,
    updated_at: String,
}

fn hex(id: Uuid) -> String {
    id.simple().to_string()
}

/// Whether the batch can take this path. JSON text cannot carry what SQLite's JSON functions
/// would alter: a NUL inside a string (SQLite's text stops there) or a non-finite number
/// (serialised as `null`, which a NOT NULL column rejects); such a batch takes the generic path.
pub(super) fn suits(batch: &[MeteredExchange], days: &UsageDays) -> bool {
    days.values().all(UsageTotals::finite)
        && batch.iter().all(|item| {
            let e = &item.exchange;
            [&e.user, &e.assistant].into_iter().all(plain) && e.opens_conversation.as_ref().is_none_or(|c| !c.channel.contains('\0'))
        })
}

fn plain(m: &NewMessage) -> bool {
    let texts = [Some(m.content.as_str()), m.prompt_version.as_deref(), m.sentiment.as_deref()];
    texts.into_iter().flatten().chain(m.sources.iter().map(String::as_str)).all(|t| !t.contains('\0'))
        && m.cost_usd.is_finite()
        && m.intent.is_none_or(|(_, c)| c.is_finite())
}

fn message_row<'a>(item: &'a MeteredExchange, m: &'a NewMessage) -> MessageRow<'a> {
    MessageRow {
        id: hex(m.id),
        tenant: hex(item.tenant.0),
        conversation: hex(item.exchange.conversation.0),
        role: m.role.as_str(),
        content: &m.content,
        intent: m.intent.map(|(label, _)| label.as_str()),
        confidence: m.intent.map(|(_, c)| f64::from(c)),
        sources: &m.sources,
        tokens_in: m.tokens_in,
        tokens_out: m.tokens_out,
        latency_ms: m.latency_ms,
        cache_level: m.cache_level.map(|c| c.as_str()),
        created_at: timestamp(m.created_at),
        prompt_version: m.prompt_version.as_deref(),
        cost_usd: m.cost_usd,
        sentiment: m.sentiment.as_deref(),
    }
}

fn encode(rows: &impl Serialize) -> Result<sea_orm::Value, StoreError> {
    let json = serde_json::to_string(rows).map_err(|e| StoreError::Invalid(format!("encoding a batch: {e}")))?;
    Ok(json.into())
}

/// Writes the batch's conversations, messages and usage (`days`) inside `txn`.
pub(super) async fn write(txn: &DatabaseTransaction, batch: &[MeteredExchange], days: &UsageDays) -> Result<(), StoreError> {
    let opened: Vec<ConversationRow<'_>> = batch
        .iter()
        .filter_map(|item| {
            let new = item.exchange.opens_conversation.as_ref()?;
            Some(ConversationRow {
                id: hex(item.exchange.conversation.0),
                tenant: hex(item.tenant.0),
                customer: new.customer.map(|c| hex(c.0)),
                channel: &new.channel,
                status: ConversationStatus::Open.as_str(),
                started_at: timestamp(item.exchange.user.created_at),
                updated_at: timestamp(item.exchange.assistant.created_at),
            })
        })
        .collect();
    let continued = continued_conversations(batch);
    let touched: Vec<TouchRow> =
        continued.iter().map(|((tenant, id), at)| TouchRow { id: hex(*id), tenant: hex(*tenant), at: timestamp(*at) }).collect();
    let messages: Vec<MessageRow<'_>> =
        batch.iter().flat_map(|item| [message_row(item, &item.exchange.user), message_row(item, &item.exchange.assistant)]).collect();
    let now = timestamp(Utc::now());
    let usage: Vec<UsageRow<'_>> = days
        .iter()
        .map(|((tenant, day), totals)| UsageRow {
            tenant: hex(*tenant),
            day: day.format("%F").to_string(),
            totals,
            updated_at: now.clone(),
        })
        .collect();

    // The transaction's first statement is a write (an INSERT, even when it inserts nothing):
    // a SQLite transaction that starts with a read gets SQLITE_BUSY at once under concurrency,
    // one that starts with a write waits for the lock.
    let values = [encode(&opened)?, encode(&touched)?, encode(&messages)?, encode(&usage)?];
    let changed = txn.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, WRITE_BATCH, values)).await?.rows_affected();
    // Every row asked for changes exactly one row or fails its statement, except where a
    // continued conversation does not exist (or is another tenant's): its UPDATE matches
    // nothing and its messages are skipped (`WHERE EXISTS`, rather than a foreign-key error
    // that would not say which). A short sum is that, and fails the batch like the portable
    // path's per-conversation check; the transaction is rolled back when dropped.
    let asked = (opened.len() + touched.len() + messages.len() + usage.len()) as u64;
    if changed < asked {
        let what = match continued.keys().next() {
            Some((_, id)) if continued.len() == 1 => format!("session {id}"),
            _ => format!("a session of the {} continued", continued.len()),
        };
        return Err(StoreError::NotFound(what));
    }
    Ok(())
}
