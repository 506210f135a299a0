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

/// One order's status in a sentence, with what follows from it.
pub(crate) fn status_text(order: &Order, invoicing_degraded: bool, void_note: Option<&str>) -> String {
    let status = OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Failed);
    let placed = order.created_at.format("%Y-%m-%d");
    let total = money(order.total_minor, &order.currency);
    let mut text = format!("Order {} (placed {placed}, total {total}) is {}.", order.number, status_word(status));
    match status {
        OrderStatus::Draft => text.push_str(" A member of our team reviews it before it is processed."),
        OrderStatus::Confirmed if invoicing_degraded => {
            text.push_str(" Our invoicing system is catching up at the moment; the invoice will follow by email.")
        }
        OrderStatus::Confirmed => text.push_str(" Its invoice is being prepared."),
        OrderStatus::Invoiced => {
            if let Some(number) = &order.invoice_number {
                text.push_str(&format!(" Invoice {number} has been issued."));
            }
        }
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
    use super::{excerpt, unknown_text};

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
