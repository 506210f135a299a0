//! Personal data in a reply: email addresses, phone numbers, payment card numbers (13–19
//! digits passing the Luhn check) and street addresses. A reply may mention those of the
//! customer and those the tenant publishes ([`PersonalDataAllowance`]); any other is a leak.
//!
//! Precision matters more than recall here — a rejected reply costs a regeneration or the
//! grounded fallback — so order numbers (`ORD-10001`), SKUs (`NW-1001`), prices (`$1,234.50`),
//! quantities (`1 000 000 units`), percentages and dates (`2025-01-15`, `15.01.2025`) are never
//! read as phone or card numbers, and an address needs a house number, a capitalised name and a
//! street suffix (`221B Baker Street`).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

/// What kind of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonalKind {
    Email,
    Phone,
    CardNumber,
    StreetAddress,
}

impl PersonalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonalKind::Email => "email",
            PersonalKind::Phone => "phone",
            PersonalKind::CardNumber => "card_number",
            PersonalKind::StreetAddress => "street_address",
        }
    }
}

/// One piece of personal data found in a text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PersonalItem {
    pub kind: PersonalKind,
    /// As written.
    pub text: String,
    /// Compared with: an email lower-cased, a phone or card number's digits, an address
    /// lower-cased with its street suffix spelled out.
    pub key: String,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}\b")
        .expect("valid email regex")
});

/// Street suffixes and their full spelling.
const SUFFIXES: &[(&str, &str)] = &[
    ("street", "street"),
    ("st", "street"),
    ("avenue", "avenue"),
    ("ave", "avenue"),
    ("road", "road"),
    ("rd", "road"),
    ("boulevard", "boulevard"),
    ("blvd", "boulevard"),
    ("lane", "lane"),
    ("ln", "lane"),
    ("drive", "drive"),
    ("dr", "drive"),
    ("court", "court"),
    ("ct", "court"),
    ("way", "way"),
    ("place", "place"),
    ("pl", "place"),
    ("terrace", "terrace"),
    ("parkway", "parkway"),
    ("pkwy", "parkway"),
    ("highway", "highway"),
    ("hwy", "highway"),
    ("close", "close"),
    ("crescent", "crescent"),
    ("square", "square"),
    ("sq", "square"),
];

/// A house number (`12`, `221B`), one to four capitalised name words, a capitalised suffix.
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    let suffixes: Vec<String> = SUFFIXES.iter().map(|(s, _)| format!("{}{}", s[..1].to_uppercase(), &s[1..])).collect();
    Regex::new(&format!(r"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'’-]*\.?\s+){{1,4}}(?:{})\b\.?", suffixes.join("|")))
        .expect("valid address regex")
});

/// Every email address, phone number, card number and street address in `text`, in order of
/// kind, then position.
pub fn find_personal_data(text: &str) -> Vec<PersonalItem> {
    let mut items: Vec<PersonalItem> = EMAIL
        .find_iter(text)
        .map(|m| PersonalItem { kind: PersonalKind::Email, text: m.as_str().to_owned(), key: m.as_str().to_lowercase() })
        .collect();
    // Digits inside an email address are not a phone number.
    let emails: Vec<(usize, usize)> = EMAIL.find_iter(text).map(|m| (m.start(), m.end())).collect();
    for run in digit_runs(text) {
        if emails.iter().any(|&(s, e)| run.start < e && s < run.end) {
            continue;
        }
        if let Some(kind) = run.kind() {
            items.push(PersonalItem { kind, text: text[run.start..run.end].to_owned(), key: run.digits.clone() });
        }
    }
    items.extend(ADDRESS.find_iter(text).map(|m| PersonalItem {
        kind: PersonalKind::StreetAddress,
        text: m.as_str().trim_end_matches('.').to_owned(),
        key: address_key(m.as_str()),
    }));
    items
}

fn address_key(address: &str) -> String {
    let words: Vec<String> = address
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.').to_lowercase())
        .collect();
    let last = words.len().saturating_sub(1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| if i == last { SUFFIXES.iter().find(|(s, _)| s == w).map_or(w.as_str(), |(_, full)| full) } else { w.as_str() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A run of digit groups joined by phone-number punctuation (` `, `-`, `.`, `(`, `)`), with a
/// leading `+` or `(`.
struct DigitRun {
    start: usize,
    end: usize,
    digits: String,
    groups: Vec<usize>,
    /// The separator between each pair of groups (its first character).
    separators: Vec<char>,
    plus: bool,
    /// An area code in parentheses, `(555) 010-0199` (a run merely inside parentheses is not).
    parenthesis: bool,
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')')
}

fn digit_runs(text: &str) -> Vec<DigitRun> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        let opens = (c == '+' || c == '(') && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit());
        if !(c.is_ascii_digit() || opens) {
            i += 1;
            continue;
        }
        let start_index = i;
        let mut run = DigitRun {
            start: chars[i].0,
            end: chars[i].0,
            digits: String::new(),
            groups: Vec::new(),
            separators: Vec::new(),
            plus: c == '+',
            parenthesis: false,
        };
        if opens {
            i += 1;
        }
        loop {
            // One group of digits.
            let mut length = 0;
            while let Some(&(at, d)) = chars.get(i).filter(|(_, d)| d.is_ascii_digit()) {
                run.digits.push(d);
                length += 1;
                i += 1;
                run.end = at + d.len_utf8();
            }
            run.groups.push(length);
            // At most two separator characters, then more digits, or the run ends.
            let mut j = i;
            while j < chars.len() && j - i < 2 && is_separator(chars[j].1) {
                j += 1;
            }
            if j > i && chars.get(j).is_some_and(|(_, d)| d.is_ascii_digit()) {
                if chars[i..j].iter().any(|(_, c)| *c == '(' || *c == ')') {
                    run.parenthesis = true;
                }
                run.separators.push(chars[i].1);
                i = j;
            } else {
                break;
            }
        }
        let before = start_index.checked_sub(1).map(|k| chars[k].1);
        let after = chars.get(i).map(|(_, c)| *c);
        let after_next = chars.get(i + 1).map(|(_, c)| *c);
        if bounded(before, after, after_next) {
            runs.push(run);
        }
        i = i.max(start_index + 1);
    }
    runs
}

/// Whether the characters around a run leave it a number of its own: not part of a word, an
/// identifier (`ORD-10001`, `NW-1001`), an amount (`$`, `€`, `%`) or a path.
fn bounded(before: Option<char>, after: Option<char>, after_next: Option<char>) -> bool {
    let glued_before = before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '#' | '/' | '$' | '€' | '£' | '¥' | '@'));
    let glued_after = after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '%' | '_' | '/' | '@'))
        // `1234567-ABC` or `12.345.678.9.x`: part of an identifier.
        || (after.is_some_and(|c| matches!(c, '-' | '.' | ',')) && after_next.is_some_and(char::is_alphanumeric) && after != Some('.'));
    !glued_before && !glued_after
}

impl DigitRun {
    fn kind(&self) -> Option<PersonalKind> {
        let count = self.digits.len();
        if self.is_date() || self.is_grouped_amount() {
            return None;
        }
        if (13..=19).contains(&count) && luhn(&self.digits) && !self.plus && !self.parenthesis {
            return Some(PersonalKind::CardNumber);
        }
        if !(7..=15).contains(&count) {
            return None;
        }
        let phone = if self.plus || self.parenthesis {
            true
        } else if self.groups.len() == 1 {
            // An unpunctuated number is a phone number only at a phone number's length.
            (10..=11).contains(&count)
        } else {
            // Punctuated like a phone number: short groups, the last of three or four digits.
            self.groups.iter().all(|&g| (1..=4).contains(&g)) && self.groups.last().is_some_and(|&g| g >= 3)
        };
        phone.then_some(PersonalKind::Phone)
    }

    /// `2025-01-15`, `15.01.2025`, `1-5-2025` (a time may follow).
    fn is_date(&self) -> bool {
        let date_separators = self.separators.iter().take(2).all(|c| matches!(c, '-' | '.'));
        let g = &self.groups;
        date_separators
            && g.len() >= 3
            && ((g[0] == 4 && (1..=2).contains(&g[1]) && (1..=2).contains(&g[2]))
                || ((1..=2).contains(&g[0]) && (1..=2).contains(&g[1]) && (g[2] == 4 || g[2] == 2)))
    }

    /// `1 000 000` or `1.234.567`: thousands groups of an amount or a quantity.
    fn is_grouped_amount(&self) -> bool {
        let g = &self.groups;
        !self.plus
            && !self.parenthesis
            && g.len() >= 2
            && (1..=3).contains(&g[0])
            && g[1..].iter().all(|&n| n == 3)
            && self.separators.iter().all(|c| *c == self.separators[0] && matches!(c, ' ' | '.'))
    }
}

/// The Luhn check of a card number's digits.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, d) in digits.bytes().rev().enumerate() {
        let mut n = u32::from(d - b'0');
        if i % 2 == 1 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        sum += n;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// The personal data a reply may mention: the customer's own and the tenant's published.
#[derive(Clone, Debug, Default)]
pub struct PersonalDataAllowance {
    keys: HashSet<(PersonalKind, String)>,
    /// Phone numbers' digits: a number matches with or without its country or trunk prefix.
    phones: Vec<String>,
}

impl PersonalDataAllowance {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows everything personal found in `text` (a document, the customer's message).
    pub fn allow_text(&mut self, text: &str) -> &mut Self {
        for item in find_personal_data(text) {
            self.allow(item.kind, item.key);
        }
        self
    }

    /// Allows one contact value as given (an email address or a phone number, however
    /// punctuated), e.g. a tenant's `support_phone` or the customer's email.
    pub fn allow_contact(&mut self, value: &str) -> &mut Self {
        let value = value.trim();
        if value.contains('@') {
            self.allow(PersonalKind::Email, value.to_lowercase());
        } else {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 7 {
                self.allow(PersonalKind::Phone, digits);
            }
        }
        self.allow_text(value)
    }

    fn allow(&mut self, kind: PersonalKind, key: String) {
        if kind == PersonalKind::Phone {
            self.phones.push(key.clone());
        }
        self.keys.insert((kind, key));
    }

    pub fn allows(&self, item: &PersonalItem) -> bool {
        if self.keys.contains(&(item.kind, item.key.clone())) {
            return true;
        }
        // `+1 (555) 010-0199` and `555-010-0199` are one number.
        item.kind == PersonalKind::Phone
            && self.phones.iter().any(|p| {
                let (short, long) =
                    if p.len() <= item.key.len() { (p.as_str(), item.key.as_str()) } else { (item.key.as_str(), p.as_str()) };
                short.len() >= 7 && long.ends_with(short)
            })
    }

    /// The personal data in `reply` this allowance does not cover.
    pub fn unexpected(&self, reply: &str) -> Vec<PersonalItem> {
        find_personal_data(reply).into_iter().filter(|item| !self.allows(item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PersonalKind, String)> {
        find_personal_data(text).into_iter().map(|i| (i.kind, i.text)).collect()
    }

    #[test]
    fn finds_emails_phones_cards_and_street_addresses() {
        use PersonalKind::*;
        for (text, want) in [
            ("Write to jane.doe+orders@example.co.uk today.", vec![(Email, "jane.doe+orders@example.co.uk")]),
            ("Call (555) 010-0199 or +44 20 7946 0958.", vec![(Phone, "(555) 010-0199"), (Phone, "+44 20 7946 0958")]),
            ("Her number is 555-0100.", vec![(Phone, "555-0100")]),
            ("Ring 555.123.4567 after 5.", vec![(Phone, "555.123.4567")]),
            ("or 07700900123", vec![(Phone, "07700900123")]),
            ("Card 4111 1111 1111 1111 on file", vec![(CardNumber, "4111 1111 1111 1111")]),
            ("card 5500-0000-0000-0004.", vec![(CardNumber, "5500-0000-0000-0004")]),
            ("paid with 378282246310005", vec![(CardNumber, "378282246310005")]),
            ("Ship it to 221B Baker Street, London.", vec![(StreetAddress, "221B Baker Street")]),
            ("She lives at 1600 Pennsylvania Ave NW.", vec![(StreetAddress, "1600 Pennsylvania Ave")]),
            ("Drop-off: 12 Harbour Rd.", vec![(StreetAddress, "12 Harbour Rd")]),
        ] {
            let want: Vec<(PersonalKind, String)> = want.into_iter().map(|(k, t)| (k, t.to_owned())).collect();
            assert_eq!(kinds(text), want, "{text}");
        }
    }

    #[test]
    fn order_numbers_skus_prices_quantities_and_dates_are_not_personal_data() {
        for text in [
            "Your order ORD-10001 shipped; ORD-2024-000123 is next.",
            "SKU NW-1001 and NW-CUP-12OZ are in stock; item #12345678.",
            "The case costs $1,234.50 (or €1.234,50, £12345678.00, 1234567.89 USD).",
            "We have 1 000 000 cups and 1.250.000 lids; 24 cases of 1000.",
            "Orders over 2500000 units need approval; 10-15 business days; 1.5% per month.",
            "Delivered on 2025-01-15 10:30, invoiced 15.01.2025, due 1-5-2025.",
            "Returns within 30 days, restocking fee 10%, net 30 terms.",
            "Open 7 Days A Week from 9 to 5; we ship 5 Big Boxes daily.",
            "Invoice INV-0042 for 12 x 24 cases, tracking 1Z999AA10123456784.",
            "Version 4111111111111112 fails the Luhn check.",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }

    #[test]
    fn luhn_accepts_real_card_numbers_only() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("79927398713"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn(""));
    }

    #[test]
    fn the_allowance_covers_the_customers_and_the_tenants_own_details() {
        let mut allowance = PersonalDataAllowance::new();
        allowance
            .allow_contact("Support@Northwind.example")
            .allow_contact("+1 (555) 010-0199")
            .allow_contact("jane@acme.example")
            .allow_text("Send returns to 12 Harbour Road, Seattle.");
        let reply = "Email support@northwind.example or call 555-010-0199; returns go to 12 Harbour Rd. \
                     We'll confirm to jane@acme.example.";
        assert_eq!(allowance.unexpected(reply), vec![]);
        let leaks: Vec<(PersonalKind, String)> = allowance
            .unexpected("Bob's email is bob@other.example, his phone 555-0123, card 4111 1111 1111 1111, home 9 Elm Street.")
            .into_iter()
            .map(|i| (i.kind, i.text))
            .collect();
        assert_eq!(
            leaks,
            vec![
                (PersonalKind::Email, "bob@other.example".to_owned()),
                (PersonalKind::Phone, "555-0123".to_owned()),
                (PersonalKind::CardNumber, "4111 1111 1111 1111".to_owned()),
                (PersonalKind::StreetAddress, "9 Elm Street".to_owned()),
            ]
        );
    }
}
