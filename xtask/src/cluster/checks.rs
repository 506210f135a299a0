//! After the faults, from the store (SQL on the cluster's database) and the Xero fake: every 200
//! reply's exchange stored exactly once, every conversation's turns in order and none
//! interleaved, every confirmed order invoiced exactly once, and the per-customer rate limit
//! not exceeded by more than one request per replica.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use tria_integrations::xero::fake::FakeXero;
use tria_store::Store;

use super::load::Ledger;

/// How long after the backends' termination an interleaving counts as the lock lost with them:
/// a turn that held its lock then runs on unlocked for at most its own length.
const LOCK_LOSS_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(15);

pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) pass: bool,
    /// Passed, but only because what went wrong is a documented limitation (shown as KNOWN).
    pub(crate) known: bool,
    pub(crate) detail: String,
}

async fn rows(store: &Store, sql: &str) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    store.connection().query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned())).await.with_context(|| sql.to_owned())
}

fn text(row: &sea_orm::QueryResult, col: &str) -> String {
    row.try_get::<Option<String>>("", col).ok().flatten().unwrap_or_default()
}

/// Waits until no invoice job is pending or leased (the outbox drained); returns how long.
pub(crate) async fn wait_for_invoices(store: &Store, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let left = rows(
            store,
            "SELECT count(*)::text AS n FROM integration_outbox WHERE kind = 'xero.invoice' AND state IN ('pending', 'leased')",
        )
        .await?;
        if left.first().map(|r| text(r, "n")).as_deref() == Some("0") || started.elapsed() > within {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

struct Message {
    id: String,
    created_at: String,
    conversation: String,
    role: String,
    content: String,
}

/// Messages of the conversations opened since `since` (RFC 3339), in stored order.
async fn messages(store: &Store, since: &str) -> anyhow::Result<Vec<Message>> {
    let sql = format!(
        "SELECT m.id::text AS id, m.conversation_id::text AS conversation, m.role, m.content, \
         to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id WHERE c.started_at >= '{since}'::timestamptz \
         ORDER BY m.conversation_id, m.created_at, m.id"
    );
    Ok(rows(store, &sql)
        .await?
        .iter()
        .map(|r| Message {
            id: text(r, "id"),
            created_at: text(r, "created_at"),
            conversation: text(r, "conversation"),
            role: text(r, "role"),
            content: text(r, "content"),
        })
        .collect())
}

/// Every 200 reply is the stored assistant message it names, in its session; no session holds
/// more exchanges than were sent to it (none stored twice), and one whose every send was
/// answered holds exactly those.
pub(crate) async fn exchanges(store: &Store, ledger: &Ledger, since: &str) -> anyhow::Result<Vec<Check>> {
    let stored = messages(store, since).await?;
    let by_id: HashMap<&str, &Message> = stored.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut assistants: HashMap<&str, u32> = HashMap::new();
    for m in stored.iter().filter(|m| m.role == "assistant") {
        *assistants.entry(m.conversation.as_str()).or_default() += 1;
    }
    let (mut missing, mut no_id) = (Vec::new(), 0u32);
    let mut served_per_session: HashMap<&str, u32> = HashMap::new();
    for s in &ledger.served {
        *served_per_session.entry(s.session.as_str()).or_default() += 1;
        let Some(id) = &s.message_id else {
            no_id += 1;
            if !stored.iter().any(|m| m.conversation == s.session && m.role == "assistant" && m.content == s.reply) {
                missing.push(format!("{} (no message id): {:.60}", s.session, s.reply));
            }
            continue;
        };
        match by_id.get(id.as_str()) {
            Some(m) if m.conversation == s.session && m.role == "assistant" && m.content == s.reply => {}
            Some(m) => {
                missing.push(format!("{id}: stored as {} in {} `{:.40}`, answered `{:.40}`", m.role, m.conversation, m.content, s.reply))
            }
            None => missing.push(format!("{id} in {}: not stored", s.session)),
        }
    }
    let (mut extra, mut exact_sessions, mut uncertain) = (Vec::new(), 0u32, 0u32);
    for (session, served) in &served_per_session {
        let sent = ledger.sent.get(*session).copied().unwrap_or(0);
        let held = assistants.get(session).copied().unwrap_or(0);
        if sent == *served {
            exact_sessions += 1;
            if held != *served {
                extra.push(format!("{session}: {served} answered, every send answered, {held} stored"));
            }
        } else {
            uncertain += 1;
            if held < *served || held > sent {
                extra.push(format!("{session}: {served} answered of {sent} sent, {held} stored"));
            }
        }
    }
    let known: HashSet<&str> = served_per_session.keys().copied().collect();
    let orphans = stored.iter().filter(|m| m.role == "user").map(|m| m.conversation.as_str()).collect::<HashSet<_>>();
    let orphans = orphans.iter().filter(|c| !known.contains(**c)).count();
    let orphan_ok = orphans as u32 <= ledger.unknown_new;
    Ok(vec![
        Check {
            name: "every 200 reply stored",
            pass: missing.is_empty(),
            known: false,
            detail: format!(
                "{} replies, {} with a message id checked by id, {no_id} by content; {} not as answered{}",
                ledger.served.len(),
                ledger.served.len() as u32 - no_id,
                missing.len(),
                first(&missing)
            ),
        },
        Check {
            name: "no exchange stored twice",
            pass: extra.is_empty() && orphan_ok,
            known: false,
            detail: format!(
                "{} sessions: {exact_sessions} with every send answered (stored = answered), {uncertain} with a resend \
                 (answered <= stored <= sent); {} off{}; {orphans} conversations opened by sends whose answer was lost \
                 (at most {} such sends)",
                served_per_session.len(),
                extra.len(),
                first(&extra),
                ledger.unknown_new
            ),
        },
    ])
}

/// Every conversation alternates user, assistant (operators' messages aside) from its first
/// message to its last; each clean burst's answers showed 3, 5, 7, 9 and 11 cases and its
/// order holds 11. An interleaving that starts within `LOCK_LOSS_WINDOW` after the replicas'
/// PostgreSQL backends were terminated (`terminated`) is the turn lock's documented gap
/// (crates/tria-store/src/turn_locks.rs: a turn whose lock backend is terminated finishes
/// unlocked): it is counted and shown as KNOWN, not failed; any other fails the check.
pub(crate) async fn turn_order(
    store: &Store,
    ledger: &Ledger,
    since: &str,
    terminated: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<Vec<Check>> {
    let stored = messages(store, since).await?;
    let mut roles: BTreeMap<&str, Vec<&Message>> = BTreeMap::new();
    for m in stored.iter().filter(|m| m.role != "operator") {
        roles.entry(m.conversation.as_str()).or_default().push(m);
    }
    let (mut bad, mut known) = (Vec::new(), Vec::new());
    for (conversation, ms) in &roles {
        let Some(at) = ms.chunks(2).position(|pair| pair.len() != 2 || pair[0].role != "user" || pair[1].role != "assistant") else {
            continue;
        };
        let first_wrong = ms[at * 2].created_at.as_str();
        let line = format!(
            "{conversation}: {} (out of turn from {first_wrong})",
            ms.iter().map(|m| if m.role == "user" { "u" } else { "a" }).collect::<String>()
        );
        let after_termination = terminated.zip(chrono::DateTime::parse_from_rfc3339(first_wrong).ok()).is_some_and(|(t, w)| {
            let since_t = w.with_timezone(&chrono::Utc) - t;
            since_t >= -chrono::TimeDelta::seconds(1) && since_t <= LOCK_LOSS_WINDOW
        });
        if after_termination { known.push(line) } else { bad.push(line) }
    }
    let operator_rows = stored.iter().filter(|m| m.role == "operator").count();

    let mut burst_bad = Vec::new();
    let clean: Vec<_> = ledger.bursts.iter().filter(|b| b.clean).collect();
    for b in &clean {
        let mut seen = b.seen.clone();
        seen.sort_unstable();
        if seen != [3, 5, 7, 9, 11] {
            burst_bad.push(format!("{}: answers showed {seen:?}", b.session));
        }
        if let Some(number) = &b.order_number {
            let sql = format!(
                "SELECT i.quantity::text AS q FROM order_items i JOIN orders o ON o.id = i.order_id \
                 WHERE o.number = '{}' AND i.sku = 'NW-MLK-OAT'",
                number.replace('\'', "")
            );
            let q = rows(store, &sql).await?.first().map(|r| text(r, "q")).unwrap_or_default();
            if q != "11" {
                burst_bad.push(format!("{number}: order holds {q} cases, not 11"));
            }
        }
    }
    Ok(vec![
        Check {
            name: "turns in order, none interleaved",
            pass: bad.is_empty(),
            known: !known.is_empty(),
            detail: format!(
                "{} conversations, {} messages ({operator_rows} by operators); {} not user/assistant alternating{}; \
                 {} interleaved right after the backends were terminated (turn lock lost with its backend){}",
                roles.len(),
                stored.len(),
                bad.len(),
                first(&bad),
                known.len(),
                first(&known)
            ),
        },
        Check {
            name: "concurrent adds serialised",
            pass: burst_bad.is_empty() && !clean.is_empty(),
            known: false,
            detail: format!(
                "{} bursts of 5 concurrent \"add 2 cases\" ({} answered on first send, checked): {} wrong{}",
                ledger.bursts.len(),
                clean.len(),
                burst_bad.len(),
                first(&burst_bad)
            ),
        },
    ])
}

/// Every order placed during the run is invoiced, with exactly one invoice in Xero (the fake),
/// and every order number a 200 reply gave is one of them.
pub(crate) async fn invoices(store: &Store, ledger: &Ledger, fake: &FakeXero, since: &str, drained_in: Duration) -> anyhow::Result<Check> {
    let sql = format!(
        "SELECT number, status, invoice_id FROM orders WHERE created_at >= '{since}'::timestamptz \
         AND status IN ('confirmed', 'invoiced', 'failed')"
    );
    let orders = rows(store, &sql).await?;
    let per_reference = fake.invoices_per_reference();
    let mut bad = Vec::new();
    let mut numbers = HashSet::new();
    for o in &orders {
        let (number, status) = (text(o, "number"), text(o, "status"));
        let invoices = per_reference.get(&number).copied().unwrap_or(0);
        if status != "invoiced" || text(o, "invoice_id").is_empty() || invoices != 1 {
            bad.push(format!("{number}: {status}, {invoices} invoices in Xero"));
        }
        numbers.insert(number);
    }
    for (reference, n) in &per_reference {
        if !numbers.contains(reference) {
            bad.push(format!("invoice for unknown reference {reference} ({n})"));
        }
    }
    // What the outbox and the fake say about the first few, for whoever looks into them.
    let mut evidence = Vec::new();
    for line in bad.iter().take(5) {
        let number: String =
            line.split(':').next().unwrap_or_default().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        let sql = format!(
            "SELECT x.state, x.attempts::text AS attempts, left(coalesce(x.last_error, ''), 160) AS last_error, \
             to_char(x.updated_at, 'HH24:MI:SS.MS') AS updated FROM integration_outbox x JOIN orders r \
             ON x.payload::text LIKE '%' || r.id::text || '%' WHERE r.number = '{number}' AND x.kind = 'xero.invoice'"
        );
        for row in rows(store, &sql).await.unwrap_or_default() {
            evidence.push(format!(
                "{number}: outbox {} after {} attempts at {}, last error `{}`",
                text(&row, "state"),
                text(&row, "attempts"),
                text(&row, "updated"),
                text(&row, "last_error")
            ));
        }
        for invoice in fake.invoices().iter().filter(|i| i.get("Reference").and_then(serde_json::Value::as_str) == Some(number.as_str())) {
            evidence.push(format!("{number}: fake invoice {} {}", invoice["InvoiceID"], invoice["Status"]));
        }
    }
    let unseen: Vec<&String> = ledger.orders_seen.iter().filter(|n| !numbers.contains(*n)).collect();
    for n in &unseen {
        bad.push(format!("{n}: confirmed in a reply, not in the store"));
    }
    Ok(Check {
        name: "every confirmed order invoiced once",
        pass: bad.is_empty() && !orders.is_empty(),
        known: false,
        detail: format!(
            "{} orders placed in the whole run (the fault run's replies confirmed {}), {} invoices in the fake, outbox drained {:.1} s after the load; {} wrong{}",
            orders.len(),
            ledger.orders_seen.len(),
            per_reference.values().sum::<usize>(),
            drained_in.as_secs_f64(),
            bad.len(),
            if bad.is_empty() {
                String::new()
            } else {
                format!(
                    ":\n      {}\n      {}",
                    bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n      "),
                    evidence.join("\n      ")
                )
            }
        ),
    })
}

/// `requests` chat requests for one customer sent `concurrency` at a time through the balancer.
pub(crate) async fn rate_limit(base: &str, key: &str, replicas: usize, per_second: f64, burst: u64) -> anyhow::Result<Check> {
    let http = reqwest::Client::new();
    let customer = format!("rate-probe-{}", std::process::id());
    let requests = 60usize;
    let started = Instant::now();
    let statuses = futures::future::join_all((0..requests).map(|i| {
        let (http, customer) = (http.clone(), customer.clone());
        async move {
            // Spread over ~2 s so the refill counts too.
            tokio::time::sleep(Duration::from_millis(35 * i as u64)).await;
            let body = json!({ "message": "Do you accept SEPA direct debit?", "customer_id": customer });
            http.post(format!("{base}/api/chat")).bearer_auth(key).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok = statuses.iter().filter(|s| **s == 200).count() as u64;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let allowed = burst + (per_second * elapsed).floor() as u64;
    let bound = allowed + replicas as u64;
    Ok(Check {
        name: "customer rate limit held",
        pass: ok <= bound && limited > 0,
        known: false,
        detail: format!(
            "{requests} requests for one customer in {elapsed:.1} s: {ok} answered, {limited} limited (429); the limit allows {allowed} \
             (burst {burst} + {per_second}/s), bound {bound} with one extra per replica"
        ),
    })
}

fn first(items: &[String]) -> String {
    items.first().map_or_else(String::new, |f| format!(" (first: {f})"))
}
