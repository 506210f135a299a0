//! Entities that change what an answer may say: order numbers, SKUs, quantities, amounts, dates
//! and emails. Product mentions by name are the catalogue index's job (tria-rag `ProductIndex`).

use std::sync::LazyLock;

use regex::Regex;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entities {
    /// Normalised to upper case, e.g. `ORD-10001`.
    pub order_numbers: Vec<String>,
    /// Upper case product codes such as `NW-CUP-12OZ`.
    pub skus: Vec<String>,
    pub emails: Vec<String>,
    pub quantities: Vec<u32>,
    /// Money as written, normalised: `$12.50`, `€30`, `250 USD`.
    pub amounts: Vec<String>,
    /// Dates as written: `2025-03-04`, `03/04/2025`, `March 4`, `next Tuesday`, `tomorrow`.
    pub dates: Vec<String>,
}

fn regex(pattern: &str) -> Regex {
    // The patterns below are constants covered by tests; an invalid one is a programming error.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("static regex")
}

static ORDER: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\bord[-\s#]?(\d{3,})\b"));
static SKU: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b([a-z]{2,4}(?:-[a-z0-9]+){1,4})\b"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b"));
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(\d{1,5})\s*(?:x\b|[a-z])"));
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)(?:[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:[.,]\d{1,2})?\s?(?:usd|eur|gbp|dollars?|euros?|€)(?:\b|$))")
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*|today|tomorrow|yesterday|(?:next |last |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:next|last|this) (?:week|month))\b",
    )
});

pub fn extract_entities(message: &str) -> Entities {
    let mut entities = Entities::default();
    for cap in ORDER.captures_iter(message) {
        let number = format!("ORD-{}", &cap[1]);
        if !entities.order_numbers.contains(&number) {
            entities.order_numbers.push(number);
        }
    }
    for cap in SKU.captures_iter(message) {
        let sku = cap[1].to_uppercase();
        // A SKU has a digit or at least two dashes; "e-mail" and "follow-up" are words.
        let looks_like_code = sku.chars().any(|c| c.is_ascii_digit()) || sku.matches('-').count() >= 2;
        if looks_like_code && !sku.starts_with("ORD-") && !sku.starts_with("INV-") && !entities.skus.contains(&sku) {
            entities.skus.push(sku);
        }
    }
    entities.emails = EMAIL.find_iter(message).map(|m| m.as_str().to_lowercase()).collect();
    entities.amounts = AMOUNT.find_iter(message).map(|m| m.as_str().trim().replace(' ', "")).collect();
    entities.dates = DATE.find_iter(message).map(|m| m.as_str().to_owned()).collect();
    let without_codes = SKU.replace_all(&ORDER.replace_all(message, " "), " ").into_owned();
    let without_amounts = AMOUNT.replace_all(&without_codes, " ");
    entities.quantities = QUANTITY.captures_iter(&without_amounts.to_lowercase()).filter_map(|c| c[1].parse().ok()).collect();
    entities
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_order_numbers_in_any_spelling() {
        let e = extract_entities("where is ord-10001 and ORD 10002, also ORD#10001?");
        assert_eq!(e.order_numbers, ["ORD-10001", "ORD-10002"]);
        assert!(extract_entities("order 12").order_numbers.is_empty());
    }

    #[test]
    fn finds_emails_and_quantities() {
        let e = extract_entities("Send 12 boxes and 3 bags to Ana@Cafe.example");
        assert_eq!(e.emails, ["ana@cafe.example"]);
        assert_eq!(e.quantities, [12, 3]);
    }

    #[test]
    fn finds_skus_amounts_and_dates() {
        let e = extract_entities("Add 2x nw-cup-12oz and 1 VP-CHN-11S to ORD-10004, total $172.50, deliver next Tuesday or 2025-03-04");
        assert_eq!(e.skus, ["NW-CUP-12OZ", "VP-CHN-11S"]);
        assert_eq!(e.order_numbers, ["ORD-10004"]);
        assert_eq!(e.amounts, ["$172.50"]);
        assert_eq!(e.dates, ["next Tuesday", "2025-03-04"]);
        assert_eq!(e.quantities, [2, 1]);
        let e = extract_entities("I was charged 30 EUR on March 4th, see my e-mail");
        assert_eq!(e.amounts, ["30EUR"]);
        assert_eq!(e.dates, ["March 4th"]);
        assert!(e.skus.is_empty());
    }
}
