//! Conversations written down as a customer reads them, for the reply snapshots
//! (`replies.rs`, `order_replies.rs`): each message, the reply, and the intent, hand-off, order
//! and sources shown with it. What changes from run to run (ids, new order numbers, dates) is
//! replaced by a placeholder, so a snapshot only changes when a reply's wording does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use tria_agent::Agent;
use tria_core::{ChatReply, ChatRequest, TenantContext};
use tria_testkit::TestDb;

/// A seeded database and the fixture tenant with this slug (`northwind`, `velo`).
pub(crate) async fn seeded_tenant(slug: &str) -> (TestDb, TenantContext) {
    let db = tria_testkit::sqlite().await;
    let seeded = tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &BTreeMap::new()).await.expect("seed");
    let tenant = seeded.into_iter().find(|t| t.tenant.slug == slug).expect("fixture tenant").tenant;
    (db, tenant)
}

/// `text` with what differs between runs replaced: UUIDs, the eight-digit numbers of orders
/// placed during the test (seeded orders keep their five-digit numbers) and dates.
pub(crate) fn normalise(text: &str) -> String {
    static UUID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").expect("regex"));
    static NEW_ORDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bORD-\d{8}\b").expect("regex"));
    static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{4}-\d{2}-\d{2}\b").expect("regex"));
    let text = UUID.replace_all(text, "<uuid>");
    let text = NEW_ORDER.replace_all(&text, "ORD-<new>");
    DATE.replace_all(&text, "<date>").into_owned()
}

/// One conversation with the agent, recorded turn by turn.
pub(crate) struct Transcript<'a> {
    agent: &'a Agent,
    tenant: &'a TenantContext,
    session: Option<String>,
    customer: Option<String>,
    text: String,
}

impl<'a> Transcript<'a> {
    /// A new conversation from an anonymous visitor (as the web widget starts one).
    pub(crate) fn new(agent: &'a Agent, tenant: &'a TenantContext) -> Self {
        Self { agent, tenant, session: None, customer: None, text: String::new() }
    }

    /// A new conversation whose requests name this customer (as an API caller that knows them).
    pub(crate) fn as_customer(agent: &'a Agent, tenant: &'a TenantContext, customer: &str) -> Self {
        Self { customer: Some(customer.to_owned()), ..Self::new(agent, tenant) }
    }

    /// Sends `message` in this conversation and writes the turn down.
    pub(crate) async fn say(&mut self, message: &str) -> ChatReply {
        let request = ChatRequest { message: message.to_owned(), session_id: self.session.clone(), customer_id: self.customer.clone() };
        let reply = self.agent.chat(self.tenant, request).await.expect("chat answers");
        self.session = Some(reply.session_id.clone());
        self.record(message, &reply);
        reply
    }

    fn record(&mut self, message: &str, reply: &ChatReply) {
        let mut turn = format!("> {message}\n");
        for (i, line) in reply.reply.lines().enumerate() {
            let _ = writeln!(turn, "{} {line}", if i == 0 { "<" } else { " " });
        }
        let mut facts = vec![reply.intent.label.to_string()];
        if reply.handoff {
            facts.push("handed off".to_owned());
        }
        if let Some(order) = &reply.order {
            let number = order.order_number.as_deref().unwrap_or("without a number");
            let waiting = if order.awaiting_confirmation { ", awaiting confirmation" } else { "" };
            let lines = if order.lines.len() == 1 { "line" } else { "lines" };
            facts.push(format!(
                "order {number}: {}{waiting}, {} {lines}, total {} {}",
                order.status.as_str(),
                order.lines.len(),
                order.total_minor,
                order.currency
            ));
        }
        let _ = writeln!(turn, "  [{}]", facts.join("; "));
        for source in &reply.sources {
            let _ = writeln!(turn, "  source: {} › {}", source.title, source.heading);
        }
        self.text.push_str(&normalise(&turn));
        self.text.push('\n');
    }

    /// Everything said so far.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}
