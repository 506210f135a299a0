//! The grounding check: every price, percentage, period (days, weeks, months), quantity and
//! order number in a reply must appear in the grounding (retrieved chunks, catalogue rows, the
//! customer's own orders). What does not is listed, so the agent can regenerate or fall back.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

/// What a number in a reply claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClaimKind {
    /// `$12.50`, `12.50 USD`, `€5`.
    Price,
    /// `15%`, `15 percent`.
    Percentage,
    /// `30 days`, `5 business days`, `thirty days`, `12 months`, `2 weeks`, `48 hours`.
    Period,
    /// `3 boxes`, `120 units`, and any other standalone number.
    Quantity,
    /// `ORD-1042`, `order #1042`.
    OrderNumber,
}

/// One factual number found in a text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub kind: ClaimKind,
    /// As written in the text.
    pub text: String,
    /// Normalised: `1,200.00` → `1200`; periods carry their unit (`30 day`); order numbers upper-case.
    pub value: String,
}

/// The result of checking a reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroundingReport {
    /// Every claim in the reply.
    pub claims: Vec<Claim>,
    /// The claims the grounding does not support.
    pub ungrounded: Vec<Claim>,
}

impl GroundingReport {
    pub fn is_grounded(&self) -> bool {
        self.ungrounded.is_empty()
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

const NUMBER: &str = r"\d[\d,]*(?:\.\d+)?";
const NUMBER_WORDS: &str =
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|thirty|forty-five|forty|sixty|ninety";

static ORDER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(ORD-[A-Z0-9][A-Z0-9-]*)\b|\border\s*(?:no\.?|number|#)\s*:?\s*#?\s*([A-Z0-9][A-Z0-9-]{2,})\b"));
static PRICE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)(?:[$€£]\s?({NUMBER}))|(?:\b({NUMBER})\s?(?:USD|EUR|GBP|dollars?|euros?|pounds?)\b)")));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i)\b({NUMBER})\s?(?:%|percent\b|per cent\b)")));
static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(r"(?i)\b({NUMBER}|{NUMBER_WORDS})[\s-](?:business[\s-]|working[\s-]|calendar[\s-])?(day|week|month|year|hour|minute)s?\b"))
});
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| re(NUMBER));

fn word_number(word: &str) -> Option<&'static str> {
    Some(match word {
        "one" => "1",
        "two" => "2",
        "three" => "3",
        "four" => "4",
        "five" => "5",
        "six" => "6",
        "seven" => "7",
        "eight" => "8",
        "nine" => "9",
        "ten" => "10",
        "eleven" => "11",
        "twelve" => "12",
        "fourteen" => "14",
        "fifteen" => "15",
        "twenty" => "20",
        "thirty" => "30",
        "forty" => "40",
        "forty-five" => "45",
        "sixty" => "60",
        "ninety" => "90",
        _ => return None,
    })
}

/// `1,200.50` → `1200.5`, `12.00` → `12`, `thirty` → `30`.
fn normalise_number(raw: &str) -> String {
    let lower = raw.to_lowercase();
    if let Some(n) = word_number(&lower) {
        return n.to_owned();
    }
    let plain: String = lower.chars().filter(|c| *c != ',').collect();
    if plain.contains('.') { plain.trim_end_matches('0').trim_end_matches('.').to_owned() } else { plain }
}

/// The factual numbers of `text`, in order of appearance.
pub fn extract_claims(text: &str) -> Vec<Claim> {
    claims_with_spans(text).into_iter().map(|(_, c)| c).collect()
}

/// Claims with their byte span in `text`.
fn claims_with_spans(text: &str) -> Vec<((usize, usize), Claim)> {
    let mut claims: Vec<((usize, usize), Claim)> = Vec::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let overlaps = |taken: &[(usize, usize)], s: usize, e: usize| taken.iter().any(|&(ts, te)| s < te && ts < e);
    let add = |claims: &mut Vec<((usize, usize), Claim)>, taken: &mut Vec<(usize, usize)>, kind, whole: regex::Match<'_>, value: String| {
        if !overlaps(taken, whole.start(), whole.end()) {
            taken.push((whole.start(), whole.end()));
            claims.push(((whole.start(), whole.end()), Claim { kind, text: whole.as_str().to_owned(), value }));
        }
    };
    for c in ORDER.captures_iter(text) {
        if let (Some(whole), Some(id)) = (c.get(0), c.get(1).or_else(|| c.get(2))) {
            add(&mut claims, &mut taken, ClaimKind::OrderNumber, whole, id.as_str().to_uppercase());
        }
    }
    for c in PRICE.captures_iter(text) {
        if let (Some(whole), Some(n)) = (c.get(0), c.get(1).or_else(|| c.get(2))) {
            add(&mut claims, &mut taken, ClaimKind::Price, whole, normalise_number(n.as_str()));
        }
    }
    for c in PERCENT.captures_iter(text) {
        if let (Some(whole), Some(n)) = (c.get(0), c.get(1)) {
            add(&mut claims, &mut taken, ClaimKind::Percentage, whole, normalise_number(n.as_str()));
        }
    }
    for c in PERIOD.captures_iter(text) {
        if let (Some(whole), Some(n), Some(unit)) = (c.get(0), c.get(1), c.get(2)) {
            let value = format!("{} {}", normalise_number(n.as_str()), unit.as_str().to_lowercase());
            add(&mut claims, &mut taken, ClaimKind::Period, whole, value);
        }
    }
    for m in QUANTITY.find_iter(text) {
        if standalone(text, m.start(), m.end()) {
            add(&mut claims, &mut taken, ClaimKind::Quantity, m, normalise_number(m.as_str()));
        }
    }
    claims.sort_by_key(|(span, _)| span.0);
    claims
}

/// A number that stands alone, not part of a code (`NW-100`, `A4`), a time (`9:00`) or a date
/// (`3/4`): those are identifiers, not claims.
fn standalone(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let glued_before = before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '/' | ':' | '_' | '#'));
    let glued_after = after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | ':' | '_'))
        || (after == Some('-') && text[end..].chars().nth(1).is_some_and(char::is_alphanumeric));
    !glued_before && !glued_after
}

/// Checks `reply` against the grounding texts.
pub fn check_grounding(reply: &str, grounding: &[&str]) -> GroundingReport {
    let claims = extract_claims(reply);
    if claims.is_empty() {
        return GroundingReport::default();
    }
    let mut typed: HashSet<(ClaimKind, String)> = HashSet::new();
    let mut numbers: HashSet<String> = HashSet::new();
    let mut upper = String::new();
    for text in grounding {
        let claims = claims_with_spans(text);
        // Any number of the grounding may ground a price or a quantity (catalogue rows list
        // prices without a currency and stock as "qty:12"), except the numbers of its periods
        // and percentages: "30 days" must not ground "$30".
        let typed_spans: Vec<(usize, usize)> =
            claims.iter().filter(|(_, c)| matches!(c.kind, ClaimKind::Period | ClaimKind::Percentage)).map(|(span, _)| *span).collect();
        for m in QUANTITY.find_iter(text) {
            if !typed_spans.iter().any(|&(s, e)| m.start() < e && s < m.end()) {
                numbers.insert(normalise_number(m.as_str()));
            }
        }
        typed.extend(claims.into_iter().map(|(_, c)| (c.kind, c.value)));
        upper.push_str(&text.to_uppercase());
        upper.push('\n');
    }
    let ungrounded = claims
        .iter()
        .filter(|claim| match claim.kind {
            ClaimKind::OrderNumber => !contains_code(&upper, &claim.value),
            // Catalogue rows often list prices without a currency sign.
            ClaimKind::Price | ClaimKind::Quantity => !numbers.contains(&claim.value),
            ClaimKind::Percentage | ClaimKind::Period => !typed.contains(&(claim.kind, claim.value.clone())),
        })
        .cloned()
        .collect();
    GroundingReport { claims, ungrounded }
}

/// `ORD-10` must not be grounded by `ORD-104`.
fn contains_code(haystack: &str, code: &str) -> bool {
    haystack.match_indices(code).any(|(i, _)| {
        let after = haystack[i + code.len()..].chars().next();
        let before = haystack[..i].chars().next_back();
        !after.is_some_and(|c| c.is_alphanumeric()) && !before.is_some_and(|c| c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(ClaimKind, String)> {
        extract_claims(text).into_iter().map(|c| (c.kind, c.value)).collect()
    }

    #[test]
    fn extracts_each_kind() {
        use ClaimKind::*;
        assert_eq!(
            kinds("Order ORD-1042 ships in 5 business days; 3 boxes at $1,200.00 with 15% off, refund within thirty days."),
            vec![
                (OrderNumber, "ORD-1042".into()),
                (Period, "5 day".into()),
                (Quantity, "3".into()),
                (Price, "1200".into()),
                (Percentage, "15".into()),
                (Period, "30 day".into()),
            ]
        );
        assert_eq!(
            kinds("order #A77812 and 12.50 USD and a 30-day window"),
            vec![(OrderNumber, "A77812".into()), (Price, "12.5".into()), (Period, "30 day".into()),]
        );
        // identifiers are not claims
        assert!(kinds("Use toner NW-TNR-85A in an A4 printer, open 9:00 on 3/4.").is_empty());
    }

    #[test]
    fn grounded_reply_passes() {
        let grounding = [
            "Returns are accepted within a 30-day window. Refunds take 5 business days.",
            "NW-PAP-A4 | A4 copy paper | 4.99 | in stock 120",
        ];
        let report = check_grounding(
            "You can return it within 30 days; the refund takes 5 business days. A4 paper is $4.99 and we have 120 in stock.",
            &grounding,
        );
        assert!(report.is_grounded(), "{:?}", report.ungrounded);
        assert_eq!(report.claims.len(), 4);
    }

    #[test]
    fn invented_numbers_are_listed() {
        let grounding = ["Returns are accepted within 30 days. Your order ORD-1042 was shipped."];
        let report = check_grounding("Returns within 60 days, 10% restocking fee, order ORD-104, cost $30.", &grounding);
        let values: Vec<&str> = report.ungrounded.iter().map(|c| c.value.as_str()).collect();
        // "30 days" grounds neither "$30" nor "30%"; ORD-1042 does not ground ORD-104.
        assert_eq!(values, vec!["60 day", "10", "ORD-104", "30"]);
        assert_eq!(check_grounding("Restocking fee is 30%.", &grounding).ungrounded.len(), 1);
        assert_eq!(check_grounding("Returns within 30 weeks.", &grounding).ungrounded.len(), 1);
    }

    #[test]
    fn a_reply_without_numbers_is_grounded() {
        assert!(check_grounding("We'd be happy to help with that.", &[]).is_grounded());
    }
}
