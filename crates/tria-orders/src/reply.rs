//! The words of order replies. Every figure comes from a priced summary, the catalogue or a
//! stored order row — nothing here invents a number.

use tria_core::{OrderStatus, OrderSummary};
use tria_store::records::{Order, Product};

use super::draft::{LineProblem, Question};
use super::rules::OrderRules;
use crate::money::money;

pub(crate) const CONFIRM_HINT: &str = "Reply \"Confirm\" to place the order, or tell me what to change.";

pub(crate) fn lines_text(summary: &OrderSummary) -> String {
    summary
        .lines
        .iter()
        .map(|l| {
            let unit = if l.unit.is_empty() { String::new() } else { format!(" ({})", l.unit) };
            format!(
                "- {} × {} [{}]{unit} at {} = {}",
                l.quantity,
                l.name,
                l.sku,
                money(l.unit_price_minor, &summary.currency),
                money(l.line_total_minor, &summary.currency)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Delivery terms from the tenant's settings, so the quoted threshold is the tenant's own.
pub(crate) fn delivery_terms(rules: &OrderRules, summary: &OrderSummary) -> String {
    match rules.free_shipping_threshold_minor {
        Some(threshold) if summary.total_minor >= threshold => format!(
            "Delivery: standard delivery is free on orders of {} or more, so this order qualifies; see our shipping policy for dispatch times.",
            money(threshold, &summary.currency)
        ),
        Some(threshold) => format!(
            "Delivery: standard delivery is free from {}; below that a delivery charge applies as set out in our shipping policy.",
            money(threshold, &summary.currency)
        ),
        None => "Delivery: as set out in our shipping policy.".to_owned(),
    }
}

pub(crate) fn summary_text(summary: &OrderSummary, rules: &OrderRules, heading: &str) -> String {
    let mut text = format!(
        "{heading}\n{}\nTotal: {} (before tax).\n{}",
        lines_text(summary),
        money(summary.total_minor, &summary.currency),
        delivery_terms(rules, summary)
    );
    if rules.needs_approval(summary.total_minor)
        && let Some(threshold) = rules.approval_threshold_minor
    {
        text.push_str(&format!(
            "\nOrders above {} need approval from our team: once you confirm, a person reviews it before it is processed.",
            money(threshold, &summary.currency)
        ));
    }
    text
}

pub(crate) fn problem_text(problem: &LineProblem) -> String {
    match problem {
        LineProblem::NotPositive { name } => format!("The quantity for {name} must be at least 1."),
        LineProblem::OverLineMaximum { name, max } => {
            format!("One order line can have at most {max} units of {name}; for more, our team can prepare a quote.")
        }
        LineProblem::NotEnoughStock { name, sku, in_stock: 0 } => format!("{name} [{sku}] is out of stock right now."),
        LineProblem::NotEnoughStock { name, sku, in_stock } => format!("We only have {in_stock} of {name} [{sku}] in stock."),
        LineProblem::NoLongerSold { name, sku } => format!("{name} [{sku}] is no longer sold."),
        LineProblem::Missing { sku } => format!("{sku} is not in our catalogue."),
    }
}

pub(crate) fn question_text(question: &Question, candidates: &[&Product], currency: &str) -> String {
    let options: Vec<String> = candidates
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}. {} [{}], {} per {}", i + 1, p.name, p.sku, money(p.unit_price_minor, currency), p.unit))
        .collect();
    let asked = excerpt(&question.phrase).map_or_else(|| "that".to_owned(), |q| format!("\"{q}\""));
    format!("Which product do you mean by {asked}?\n{}\nReply with the number or the SKU.", options.join("\n"))
}

pub(crate) fn unknown_text(phrase: &str) -> String {
    match excerpt(phrase) {
        Some(quoted) => format!("I couldn't find \"{quoted}\" in our catalogue. Could you check the name or give me the SKU?"),
        None => "I couldn't find that product in our catalogue. Could you check the name or give me the SKU?".to_owned(),
    }
}

/// Longest excerpt of the customer's words a reply quotes back.
const MAX_EXCERPT_CHARS: usize = 40;

/// What a reply may quote of the customer's words: no control, bidi or zero-width characters,
/// no markup or link syntax and no links, at most [`MAX_EXCERPT_CHARS`] cut at a word boundary
/// with an ellipsis; `None` when nothing is left. A reply that repeats whatever was typed lets
/// anyone put their text (a phishing link, reordered text) in the tenant's voice.
pub(crate) fn excerpt(text: &str) -> Option<String> {
    let is_hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}' | '\u{00AD}')
    };
    let is_markup =
        |c: char| matches!(c, '<' | '>' | '[' | ']' | '(' | ')' | '{' | '}' | '*' | '_' | '`' | '~' | '#' | '|' | '\\' | '"' | '!');
    let cleaned: String = text.chars().filter(|&c| !is_hidden(c)).map(|c| if is_markup(c) { ' ' } else { c }).collect();
    let is_link = |w: &str| {
        let w = w.to_ascii_lowercase();
        w.contains("://") || w.starts_with("www.") || w.starts_with("mailto:") || w.contains('@')
    };
    let words: Vec<&str> = cleaned.split_whitespace().filter(|w| !is_link(w)).collect();
    let mut out = String::new();
    for word in &words {
        let extra = usize::from(!out.is_empty()) + word.chars().count();
        if out.chars().count() + extra > MAX_EXCERPT_CHARS {
            if out.is_empty() {
                out = word.chars().take(MAX_EXCERPT_CHARS).collect();
            }
            out.push('…');
            return Some(out);
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    (!out.is_empty()).then_some(out)
}

pub(crate) fn status_word(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Draft => "waiting for approval",
        OrderStatus::Confirmed => "confirmed",
        OrderStatus::Invoiced => "invoiced",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Failed => "failed",
    }
}

/// What a confirmation says about the invoice. Only a tenant whose invoices the accounting system
/// emails (`invoicing.email_invoices`) promises an email; the others say what is true: an invoice
/// is issued (its number shows in the order's status once it exists).
pub(crate) fn invoice_promise(email_invoices: bool, invoicing_degraded: bool) -> &'static str {
    match (email_invoices, invoicing_degraded) {
        (true, false) => "Your invoice will follow by email.",
        (true, true) => "Our invoicing system is catching up at the moment, so your invoice will follow by email a little later.",
        (false, false) => "An invoice will be issued for it; ask me about the order to see its invoice number.",
        (false, true) => "Our invoicing system is catching up at the moment, so its invoice will be issued a little later.",
    }
}

/// One order's status in a sentence, with what follows from it. `email_invoices`: the tenant's
/// invoices are emailed to the customer (see [`invoice_promise`]).
pub(crate) fn status_text(order: &Order, invoicing_degraded: bool, email_invoices: bool, void_note: Option<&str>) -> String {
    let status = OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Failed);
    let placed = order.created_at.format("%Y-%m-%d");
    let total = money(order.total_minor, &order.currency);
    let mut text = format!("Order {} (placed {placed}, total {total}) is {}.", order.number, status_word(status));
    match status {
        OrderStatus::Draft => text.push_str(" A member of our team reviews it before it is processed."),
        OrderStatus::Confirmed if invoicing_degraded && email_invoices => {
            text.push_str(" Our invoicing system is catching up at the moment; the invoice will follow by email a little later.")
        }
        OrderStatus::Confirmed if invoicing_degraded => {
            text.push_str(" Our invoicing system is catching up at the moment; the invoice will be issued a little later.")
        }
        OrderStatus::Confirmed => text.push_str(" Its invoice is being prepared."),
        OrderStatus::Invoiced => match &order.invoice_number {
            Some(number) if email_invoices => text.push_str(&format!(" Invoice {number} has been issued and is sent to you by email.")),
            Some(number) => text.push_str(&format!(" Invoice {number} has been issued.")),
            None => {}
        },
        OrderStatus::Cancelled => {
            if let Some(note) = void_note {
                text.push(' ');
                text.push_str(note);
            }
        }
        OrderStatus::Failed => text.push_str(" It could not be processed; a member of our team is following up and nothing was charged."),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{excerpt, invoice_promise, status_text, unknown_text};
    use chrono::{TimeZone, Utc};
    use tria_store::records::Order;

    fn order(status: &str, invoice_number: Option<&str>, total_minor: i64, currency: &str) -> Order {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single().unwrap_or_default();
        Order {
            id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            customer_id: uuid::Uuid::nil(),
            number: "ORD-1".into(),
            status: status.into(),
            subtotal_minor: total_minor,
            total_minor,
            currency: currency.into(),
            idempotency_key: "k".into(),
            invoice_id: invoice_number.map(|_| "inv-id".to_owned()),
            invoice_number: invoice_number.map(str::to_owned),
            failure_reason: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn only_a_tenant_that_emails_invoices_promises_an_email() {
        for degraded in [false, true] {
            assert!(invoice_promise(true, degraded).contains("by email"), "{degraded}");
            assert!(!invoice_promise(false, degraded).contains("email"), "{degraded}");
        }
        assert_eq!(invoice_promise(true, false), "Your invoice will follow by email.");
        assert_eq!(invoice_promise(false, false), "An invoice will be issued for it; ask me about the order to see its invoice number.");
        assert_eq!(
            invoice_promise(false, true),
            "Our invoicing system is catching up at the moment, so its invoice will be issued a little later."
        );
    }

    #[test]
    fn an_orders_status_mentions_email_only_when_the_tenant_emails_invoices() {
        let confirmed = order("confirmed", None, 120_000, "JPY");
        assert_eq!(
            status_text(&confirmed, true, false, None),
            "Order ORD-1 (placed 2026-03-02, total ¥120000) is confirmed. Our invoicing system is catching up at the moment; the invoice will be issued a little later."
        );
        assert!(status_text(&confirmed, true, true, None).ends_with("the invoice will follow by email a little later."));
        assert!(status_text(&confirmed, false, true, None).ends_with("Its invoice is being prepared."));
        let invoiced = order("invoiced", Some("INV-0007"), 1_234, "KWD");
        assert_eq!(
            status_text(&invoiced, false, false, None),
            "Order ORD-1 (placed 2026-03-02, total 1.234 KWD) is invoiced. Invoice INV-0007 has been issued."
        );
        assert!(status_text(&invoiced, false, true, None).ends_with("Invoice INV-0007 has been issued and is sent to you by email."));
    }

    #[test]
    fn a_quoted_excerpt_is_short_plain_and_cut_at_a_word() {
        assert_eq!(excerpt("  tractor tyres "), Some("tractor tyres".into()));
        assert_eq!(
            excerpt("tractor tyres with reinforced sidewalls and a deep tread").as_deref(),
            Some("tractor tyres with reinforced sidewalls…")
        );
        assert_eq!(excerpt("[click](https://evil.example) <b>now</b>").as_deref(), Some("click b now /b"));
        assert_eq!(excerpt("abc\u{202E}exe.pdf\u{202C}\u{200B}\u{0007}").as_deref(), Some("abcexe.pdf"));
        assert_eq!(excerpt(&"x".repeat(100)).map(|e| e.chars().count()), Some(41));
        assert_eq!(excerpt("https://evil.example www.evil.example me@evil.example"), None);
        assert_eq!(excerpt("\u{202E}<>[]"), None);
        assert_eq!(unknown_text("<>"), "I couldn't find that product in our catalogue. Could you check the name or give me the SKU?");
    }
}
