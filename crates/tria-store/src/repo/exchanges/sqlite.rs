//! The SQLite shape of a batch write: each table gets one statement whose rows arrive as a
//! single JSON array and are unpacked by SQLite itself (`jsonb_each`, SQLite ≥ 3.45: the array
//! is parsed once into JSONB and each `value ->> 'field'` is a lookup in a binary slice;
//! `json_each` hands each row over as text that every `->>` parses again, which cost more in
//! SQLite than the binding it replaced). The statement text never
//! changes, so it is prepared once per connection and kept; the generic path builds a
//! multi-row INSERT whose text (and bound-parameter count) changes with every batch size, and
//! building and binding those thousands of parameters was a third of the hit path's CPU.
//!
//! Values are written exactly as sqlx binds them, so rows read back the same through sea-orm:
//! UUIDs as 16-byte BLOBs (`unhex` of the simple hex form), timestamps as RFC 3339 text with
//! nanoseconds as needed (`SecondsFormat::AutoSi`), JSON columns as compact JSON text.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use serde::Serialize;
use tria_core::ConversationStatus;
use uuid::Uuid;

use super::{MeteredExchange, continued_conversations};
use crate::StoreError;
use crate::repo::conversations::NewMessage;

const INSERT_CONVERSATIONS: &str = "INSERT INTO conversations \
    (id, tenant_id, customer_id, channel, status, resolution, started_at, updated_at) \
    SELECT unhex(value ->> 'id'), unhex(value ->> 'tenant'), unhex(value ->> 'customer'), value ->> 'channel', \
    value ->> 'status', NULL, value ->> 'started_at', value ->> 'updated_at' FROM jsonb_each(?)";

/// `UPDATE … FROM` (SQLite ≥ 3.33) touches every continued conversation in one statement; a
/// conversation that does not exist or is another tenant's matches no row, which the caller
/// sees as fewer rows changed than asked for.
const TOUCH_CONVERSATIONS: &str = "UPDATE conversations SET updated_at = touched.at FROM \
    (SELECT unhex(value ->> 'id') AS id, unhex(value ->> 'tenant') AS tenant, value ->> 'at' AS at FROM jsonb_each(?)) AS touched \
    WHERE conversations.id = touched.id AND conversations.tenant_id = touched.tenant";

const INSERT_MESSAGES: &str = "INSERT INTO messages \
    (id, tenant_id, conversation_id, role, content, intent, confidence, sources, tokens_in, tokens_out, latency_ms, \
    cache_level, created_at, prompt_version, cost_usd, sentiment) \
    SELECT unhex(value ->> 'id'), unhex(value ->> 'tenant'), unhex(value ->> 'conversation'), value ->> 'role', \
    value ->> 'content', value ->> 'intent', value ->> 'confidence', value -> 'sources', value ->> 'tokens_in', \
    value ->> 'tokens_out', value ->> 'latency_ms', value ->> 'cache_level', value ->> 'created_at', \
    value ->> 'prompt_version', value ->> 'cost_usd', value ->> 'sentiment' FROM jsonb_each(?)";

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

fn hex(id: Uuid) -> String {
    id.simple().to_string()
}

/// As sqlx encodes a `DateTime<Utc>` for SQLite, so stored times compare and parse alike.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Whether the batch can take this path. JSON text cannot carry what SQLite's JSON functions
/// would alter: a NUL inside a string (SQLite's text stops there) or a non-finite number
/// (serialised as `null`, which a NOT NULL column rejects); such a batch takes the generic path.
pub(super) fn suits(batch: &[MeteredExchange]) -> bool {
    batch.iter().all(|item| {
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

async fn run(txn: &DatabaseTransaction, sql: &str, rows: &impl Serialize) -> Result<u64, StoreError> {
    let json = serde_json::to_string(rows).map_err(|e| StoreError::Invalid(format!("encoding a batch: {e}")))?;
    let result = txn.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, [json.into()])).await?;
    Ok(result.rows_affected())
}

/// Writes the batch's conversations and messages inside `txn` (usage is the caller's).
pub(super) async fn write(txn: &DatabaseTransaction, batch: &[MeteredExchange]) -> Result<(), StoreError> {
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
    // Writes only, and a write first: a SQLite transaction that starts with a read gets
    // SQLITE_BUSY at once under concurrency, one that starts with a write waits for the lock.
    if !opened.is_empty() {
        run(txn, INSERT_CONVERSATIONS, &opened).await?;
    }

    let continued = continued_conversations(batch);
    if !continued.is_empty() {
        let touched: Vec<TouchRow> =
            continued.iter().map(|((tenant, id), at)| TouchRow { id: hex(*id), tenant: hex(*tenant), at: timestamp(*at) }).collect();
        let changed = run(txn, TOUCH_CONVERSATIONS, &touched).await?;
        if changed < touched.len() as u64 {
            let what = match continued.keys().next() {
                Some((_, id)) if continued.len() == 1 => format!("session {id}"),
                _ => format!("{} of {} sessions", continued.len() as u64 - changed, continued.len()),
            };
            return Err(StoreError::NotFound(what));
        }
    }

    let messages: Vec<MessageRow<'_>> =
        batch.iter().flat_map(|item| [message_row(item, &item.exchange.user), message_row(item, &item.exchange.assistant)]).collect();
    run(txn, INSERT_MESSAGES, &messages).await?;
    Ok(())
}
