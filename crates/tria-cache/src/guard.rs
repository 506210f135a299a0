//! The entity guard for semantic (L3) hits: two messages may share an answer only when they
//! mention the same entities — order numbers, SKUs, quantities, amounts, dates, emails and
//! names. "Where is ORD-1001" and "where is ORD-1002" embed almost alike and must not share one.

use std::sync::LazyLock;

use regex::Regex;

#[allow(clippy::expect_used)] // static patterns, checked by the tests below
static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("order", r"(?i)\bord[-\s#]?(\d{3,})\b"),
        ("email", r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b"),
        // Codes mixing letters and digits, e.g. NW-ESP-1KG, SKU123, BK42.
        ("sku", r"\b(?:[A-Za-z]+[-_]?\d+[A-Za-z0-9-]*|\d+[-_]?[A-Za-z]+[A-Za-z0-9-]*|[A-Z]{2,}(?:-[A-Z0-9]+)+)\b"),
        ("date", r"(?i)\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|yesterday|tonight|weekend|next week|last week)\b"),
        ("date", r"\b\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{1,4})?\b"),
        ("number", r"(?i)[$€£]?\s?\d+(?:[.,]\d+)?\s?(?:%|k\b)?"),
        ("number", r"(?i)\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|dozen|half|double|triple|single)\b"),
    ]
    .into_iter()
    .map(|(kind, pattern)| (kind, Regex::new(pattern).expect("static regex")))
    .collect()
});

/// Spellings that name no entity of their own, rewritten before the patterns run: a number
/// joined to an ordinary lower-case word ("12-speed", "30-day", "net-30") is the number and the
/// word, as "12 speed" is — not a product code (codes are upper case or mix letters and digits
/// inside one token, e.g. NW-ESP-1KG, which these leave alone); and "one" as a pronoun ("have a
/// good one", "this one") is not a quantity.
#[allow(clippy::expect_used)] // static patterns, checked by the tests below
static PLAIN_SPELLINGS: LazyLock<[(Regex, &'static str); 3]> = LazyLock::new(|| {
    [
        (Regex::new(r"\b(\d+)-([a-z]{3,})\b").expect("static regex"), "$1 $2"),
        (Regex::new(r"\b([a-z]{3,})-(\d+)\b").expect("static regex"), "$1 $2"),
        (Regex::new(r"(?i)\b(a good|a great|a nice|this|that|which|the|each|every|another|any|no) one\b").expect("static regex"), "$1"),
    ]
});

/// Capitalised words that do not name anything in particular.
const NOT_NAMES: &[&str] = &[
    "i", "i'm", "i'd", "i've", "i'll", "hi", "hello", "hey", "thanks", "please", "ok", "okay", "the", "a", "an", "what", "when", "where",
    "why", "how", "who", "which", "can", "could", "do", "does", "is", "are", "will", "would", "should", "my", "your", "our", "we", "you",
    "if", "and", "or", "but", "also", "any", "is", "it", "net", "usd", "eur", "gbp", "vat", "faq", "ok", "tria",
];

/// The entities of a message as a sorted, de-duplicated list of `kind:value` strings.
pub fn entity_signature(message: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = message.to_owned();
    for (pattern, plain) in PLAIN_SPELLINGS.iter() {
        rest = pattern.replace_all(&rest, *plain).into_owned();
    }
    for (kind, pattern) in PATTERNS.iter() {
        let mut hits = Vec::new();
        for caps in pattern.captures_iter(&rest) {
            // The first group, where a pattern has one, is the identifying part (ORD-0042 → 0042).
            let m = caps.get(1).or_else(|| caps.get(0));
            let value = m.map(|m| m.as_str().trim().to_lowercase().replace([' ', ','], "")).unwrap_or_default();
            if !value.is_empty() {
                hits.push(format!("{kind}:{value}"));
            }
        }
        // Later patterns must not see what an earlier one claimed (the digits of a SKU are not
        // a quantity of their own).
        rest = pattern.replace_all(&rest, " ").into_owned();
        found.extend(hits);
    }
    found.extend(names(&rest));
    found.sort();
    found.dedup();
    found
}

/// Capitalised words that are not the first word of a sentence: people, places, brands.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for raw in text.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        let capitalised = word.chars().next().is_some_and(char::is_uppercase) && word.chars().count() > 1;
        let lower = word.to_lowercase();
        if capitalised && !sentence_start && !NOT_NAMES.contains(&lower.as_str()) {
            out.push(format!("name:{lower}"));
        }
        sentence_start = raw.ends_with(['.', '?', '!', ':']);
    }
    out
}

/// Whether a cached answer for `cached` may be reused for a message whose entities are `new`.
pub fn entities_compatible(cached: &[String], new: &[String]) -> bool {
    cached == new
}

/// Words that carry no slot of their own.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "do",
    "does",
    "did",
    "you",
    "your",
    "yours",
    "i",
    "i'm",
    "me",
    "my",
    "we",
    "our",
    "us",
    "is",
    "are",
    "was",
    "be",
    "can",
    "could",
    "would",
    "will",
    "should",
    "what",
    "what's",
    "whats",
    "how",
    "when",
    "where",
    "which",
    "who",
    "there",
    "it",
    "it's",
    "that",
    "this",
    "to",
    "of",
    "for",
    "in",
    "on",
    "at",
    "with",
    "by",
    "from",
    "and",
    "or",
    "any",
    "some",
    "please",
    "hi",
    "hey",
    "s",
    "still",
    "if",
    "about",
    "tell",
    "know",
    "like",
    "want",
    "need",
    "let",
    "into",
    "up",
    "so",
    "just",
    "also",
    "anything",
    "something",
    "lot",
    "many",
    "much",
    "very",
    "really",
    "too",
    "there",
    "here",
    "take",
    "okay",
    "ok",
    "actually",
];

/// Words treated as one for the comparison (both spellings of a slot that is not a slot).
const SYNONYMS: &[(&str, &str)] = &[
    // Request verbs name no slot: "do you sell X" = "do you have X" = "is X available".
    ("sell", ""),
    ("carry", ""),
    ("offer", ""),
    ("provide", ""),
    ("available", ""),
    ("stock", ""),
    ("have", ""),
    ("has", ""),
    ("get", ""),
    ("cost", "price"),
    ("charge", "price"),
    ("much", "price"),
    ("deliver", "ship"),
    ("delivery", "ship"),
    ("shipping", "ship"),
    ("send", "ship"),
    ("dispatch", "ship"),
    ("buy", "order"),
    ("purchase", "order"),
    ("tire", "tyre"),
    ("refund", "return"),
    ("money", "return"),
    ("cancel", "cancel"),
    ("fast", "long"),
    ("quickly", "long"),
    ("soon", "long"),
    ("time", "long"),
    ("window", "long"),
    ("period", "long"),
    ("day", "long"),
    ("hello", "hello"),
    ("thank", "thanks"),
];

fn slot_words(message: &str) -> std::collections::BTreeSet<String> {
    message
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(&w.as_str()))
        .map(|w| {
            let stem = if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") { w[..w.len() - 1].to_owned() } else { w };
            SYNONYMS.iter().find(|(from, _)| *from == stem).map_or(stem, |(_, to)| (*to).to_owned())
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `new` looks like `cached` with one content word swapped (oat → almond, opened →
/// unopened, Visa → PayPal): the shape of a near-miss, which embeds almost like the original yet
/// needs another answer. Real paraphrases change more than one word.
pub fn slot_substituted(cached: &str, new: &str) -> bool {
    let (a, b) = (slot_words(cached), slot_words(new));
    let only_a = a.difference(&b).count();
    let only_b = b.difference(&a).count();
    let shared = a.intersection(&b).count();
    // Only a one-for-one swap: added words are as often a rephrasing as a new qualifier, and
    // blocking them cost more paraphrase hits than it saved near-misses in `eval cache`.
    shared >= 1 && only_a == 1 && only_b == 1
}

/// Word-level edits (insert, delete, substitute) between two token lists.
fn word_edits(a: &[&str], b: &[&str]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Whether `new` is `cached` worded the same with a content word or two changed ("Can I return
/// opened items?" / "… unopened items?", "… before it ships?" / "… after it ships?"): the
/// shape of a near-miss, which embeds almost like the original yet needs another answer. Real
/// paraphrases reword more than two words; two messages that differ only in filler or in
/// spellings of one word ("12 speed" / "12-speed", "sell" / "have") are not near-misses.
pub fn same_wording_other_slot(cached: &str, new: &str) -> bool {
    let (a, b) = (cached.to_lowercase(), new.to_lowercase());
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-').filter(|w| !w.is_empty()).map(str::to_owned).collect()
    };
    let (wa, wb) = (words(&a), words(&b));
    let (ra, rb): (Vec<&str>, Vec<&str>) = (wa.iter().map(String::as_str).collect(), wb.iter().map(String::as_str).collect());
    word_edits(&ra, &rb) <= 2 && slot_words(cached) != slot_words(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_skus_quantities_dates_and_names() {
        assert_eq!(entity_signature("where is ORD-1001?"), ["order:1001"]);
        assert_eq!(entity_signature("where's ord 1001"), ["order:1001"]);
        assert_ne!(entity_signature("where is ORD-1001"), entity_signature("where is ORD-1002"));
        assert_eq!(entity_signature("price of NW-ESP-1KG"), ["sku:nw-esp-1kg"]);
        assert_eq!(entity_signature("can I get 12 bags"), ["number:12"]);
        assert_ne!(entity_signature("can I get 12 bags"), entity_signature("can I get 20 bags"));
        assert_eq!(entity_signature("is $40 refundable"), ["number:$40"]);
        assert_eq!(entity_signature("deliver on Friday"), ["date:friday"]);
        assert_eq!(entity_signature("Do you ship to Canada?"), ["name:canada"]);
        assert!(entity_signature("What is your return policy?").is_empty());
        assert!(entity_signature("How long do returns take").is_empty());
    }

    #[test]
    fn hyphenated_numbers_and_pronoun_one_are_spelled_plainly() {
        assert_eq!(entity_signature("Do you have 12-speed chains?"), entity_signature("Do you sell 12 speed chains?"));
        assert_eq!(entity_signature("Is net-30 invoicing available?"), ["number:30"]);
        assert_eq!(entity_signature("Is net-30 invoicing available?"), entity_signature("Do you offer net 30 terms?"));
        assert_ne!(entity_signature("Do you have 11-speed chains?"), entity_signature("Do you have 12-speed chains?"));
        // Product codes keep their whole form.
        assert_eq!(entity_signature("price of NW-ESP-1KG"), ["sku:nw-esp-1kg"]);
        assert_eq!(entity_signature("is BK-42 in stock"), ["sku:bk-42"]);
        assert!(entity_signature("Bye, have a good one").is_empty());
        assert!(entity_signature("Is this one recyclable?").is_empty());
        assert_eq!(entity_signature("I need one case of lids"), ["number:one"]);
        assert_ne!(entity_signature("I need one case"), entity_signature("I need two cases"));
    }

    #[test]
    fn same_wording_with_another_slot_is_a_near_miss() {
        assert!(same_wording_other_slot("Can I return opened items?", "Can I return unopened items?"));
        assert!(same_wording_other_slot("Can I cancel an order before it ships?", "Can I cancel an order after it ships?"));
        assert!(same_wording_other_slot("Is the espresso roast whole bean?", "Is the espresso roast ground?"));
        assert!(!same_wording_other_slot("Do you sell 12 speed chains?", "Do you have 12-speed chains?"));
        assert!(!same_wording_other_slot("What is your refund policy?", "How do refunds work with you?"));
        assert!(!same_wording_other_slot("What is your refund policy?", "what is your refund policy"));
    }

    #[test]
    fn one_word_swaps_are_near_misses_rephrasings_are_not() {
        assert!(slot_substituted("Do you carry oat milk?", "Do you carry almond milk?"));
        assert!(slot_substituted("Can I return opened items?", "Can I return unopened items?"));
        assert!(!slot_substituted("Do you sell 12 speed chains?", "Do you have 12-speed chains?"));
        assert!(!slot_substituted("Do you offer bulk discounts?", "Are there volume discounts for large orders?"));
        assert!(!slot_substituted("What is your refund policy?", "What is your refund policy?"));
    }
}
