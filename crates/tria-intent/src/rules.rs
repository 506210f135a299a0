//! A deterministic keyword-and-pattern classifier. It is the fast first stage: explicit
//! patterns ("speak to a human", order numbers, greetings) decide with high confidence, and
//! otherwise weighted keyword evidence picks the label.

use std::sync::LazyLock;

use regex::Regex;
use tria_core::IntentLabel;

use crate::{Classification, DecidedBy, Entities, IntentClassifier, assess_tone, extract_entities};

/// Weighted cue phrases per label. Multi-word cues are matched on word boundaries.
const CUES: &[(IntentLabel, &[(&str, f32)])] = &[
    (
        IntentLabel::HumanHandoff,
        &[
            ("speak to a human", 4.0),
            ("talk to a human", 4.0),
            ("real person", 4.0),
            ("speak to someone", 3.5),
            ("talk to someone", 3.5),
            ("human agent", 4.0),
            ("live agent", 4.0),
            ("representative", 3.0),
            ("speak to a person", 4.0),
            ("talk to a person", 4.0),
            ("manager", 2.0),
            ("operator", 2.0),
            ("call me", 2.0),
            ("agent", 1.5),
        ],
    ),
    (
        IntentLabel::Complaint,
        &[
            ("damaged", 2.5),
            ("broken", 2.5),
            ("wrong item", 3.0),
            ("late", 1.5),
            ("terrible", 2.5),
            ("awful", 2.5),
            ("unacceptable", 3.0),
            ("disappointed", 2.5),
            ("rude", 2.5),
            ("never arrived", 2.5),
            ("complain", 3.0),
            ("worst", 2.5),
            ("leaking", 2.0),
            ("ruined", 2.5),
            ("furious", 2.5),
            ("angry", 2.0),
            ("missing", 1.5),
        ],
    ),
    (
        IntentLabel::OrderStatus,
        &[
            ("where is my order", 4.0),
            ("where's my order", 4.0),
            ("order status", 3.5),
            ("tracking", 2.5),
            ("track", 2.0),
            ("shipped", 2.0),
            ("arrive", 1.5),
            ("delivery date", 2.0),
            ("status of", 2.0),
            ("when will", 1.5),
            ("eta", 2.0),
        ],
    ),
    (
        IntentLabel::OrderChange,
        &[
            ("cancel my order", 4.0),
            ("cancel order", 4.0),
            ("change my order", 4.0),
            ("modify", 2.5),
            ("cancel", 2.5),
            ("add to my order", 3.5),
            ("remove from my order", 3.5),
            ("change the quantity", 3.0),
            ("update my order", 3.5),
            ("instead of", 1.5),
            ("change the delivery address", 3.0),
        ],
    ),
    (
        IntentLabel::OrderPlacement,
        &[
            ("i'd like to order", 4.0),
            ("i would like to order", 4.0),
            ("i want to order", 4.0),
            ("place an order", 4.0),
            ("order some", 3.0),
            ("buy", 2.5),
            ("purchase", 2.5),
            ("send me", 2.0),
            ("add 2", 1.5),
            ("reorder", 3.0),
            ("i need", 1.5),
            ("cases of", 1.5),
            ("boxes of", 1.5),
            ("bags of", 1.5),
        ],
    ),
    (
        IntentLabel::Billing,
        &[
            ("my invoice", 3.5),
            ("invoice", 2.0),
            ("charged", 3.0),
            ("charge", 2.0),
            ("my balance", 3.5),
            ("balance", 2.0),
            ("refund status", 3.5),
            ("my refund", 3.0),
            ("double charged", 4.0),
            ("my payment", 3.0),
            ("receipt", 2.0),
            ("billing", 2.5),
            ("statement", 2.0),
            ("overdue", 2.0),
        ],
    ),
    (
        IntentLabel::PolicyQuestion,
        &[
            ("policy", 3.0),
            ("return", 2.0),
            ("returns", 2.5),
            ("refund", 1.5),
            ("shipping", 2.0),
            ("warranty", 3.0),
            ("payment terms", 3.5),
            ("net 30", 3.5),
            ("net-30", 3.5),
            ("privacy", 3.0),
            ("hours", 2.5),
            ("open", 1.0),
            ("how long", 1.5),
            ("how many days", 2.0),
            ("fee", 2.0),
            ("payment methods", 3.0),
            ("do you accept", 2.5),
            ("restocking", 3.0),
            ("delivery", 1.5),
            ("cancellation", 2.0),
            ("data", 1.5),
            ("contact", 1.5),
            ("what happens if", 2.0),
            ("can i return", 3.0),
            ("late fee", 3.0),
            ("credit limit", 3.0),
            ("bulk", 1.5),
            ("discount", 1.5),
        ],
    ),
    (
        IntentLabel::ProductInquiry,
        &[
            ("do you have", 2.5),
            ("do you carry", 3.0),
            ("do you sell", 3.0),
            ("in stock", 3.0),
            ("price of", 3.0),
            ("how much", 2.5),
            ("cost", 2.0),
            ("compatible", 3.0),
            ("available", 1.5),
            ("size", 1.5),
            ("sizes", 2.0),
            ("spec", 2.0),
            ("what kind of", 2.0),
            ("lids", 1.5),
            ("cups", 1.5),
            ("beans", 1.5),
            ("toner", 2.0),
            ("syrup", 1.5),
            ("milk", 1.5),
            ("tea", 1.0),
            ("coffee", 1.0),
            ("napkins", 1.5),
            ("paper", 1.0),
        ],
    ),
    (
        IntentLabel::Greeting,
        &[
            ("hello", 3.0),
            ("hi", 3.0),
            ("hey", 3.0),
            ("good morning", 3.0),
            ("good afternoon", 3.0),
            ("thanks", 3.0),
            ("thank you", 3.0),
            ("bye", 3.0),
            ("goodbye", 3.0),
            ("how are you", 3.0),
            ("cheers", 2.0),
            ("my name is", 2.0),
        ],
    ),
    (
        IntentLabel::OutOfScope,
        &[
            ("weather", 4.0),
            ("joke", 4.0),
            ("recipe", 3.5),
            ("python", 3.5),
            ("code", 2.5),
            ("capital of", 4.0),
            ("starbucks", 3.5),
            ("amazon", 3.0),
            ("movie", 3.5),
            ("football", 3.5),
            ("poem", 3.5),
            ("stock market", 3.5),
            ("president", 3.0),
            ("homework", 3.5),
        ],
    ),
];

/// The rule-based classifier. Stateless and cheap to share.
#[derive(Clone, Copy, Debug, Default)]
pub struct RuleClassifier;

fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    let mut start = 0;
    while let Some(pos) = haystack[start..].find(phrase) {
        let at = start + pos;
        let before_ok = at == 0 || !haystack[..at].chars().next_back().is_some_and(char::is_alphanumeric);
        let end = at + phrase.len();
        let after_ok = end == haystack.len() || !haystack[end..].chars().next().is_some_and(char::is_alphanumeric);
        if before_ok && after_ok {
            return true;
        }
        start = end;
    }
    false
}

/// Lowercased with typographic apostrophes folded, as the cue lists expect.
pub(crate) fn normalise(message: &str) -> String {
    message.to_lowercase().replace('’', "'")
}

/// Weighted keyword evidence per label, in [`IntentLabel::ALL`] order.
pub(crate) fn keyword_scores(message: &str, entities: &Entities) -> [f32; 10] {
    let text = normalise(message);
    let mut scores = [0.0f32; 10];
    for (label, cues) in CUES {
        let score: f32 = cues.iter().filter(|(cue, _)| contains_phrase(&text, cue)).map(|(_, w)| w).sum();
        scores[label_index(*label)] = score;
    }
    if !entities.order_numbers.is_empty() {
        for label in [IntentLabel::OrderStatus, IntentLabel::OrderChange, IntentLabel::Billing, IntentLabel::Complaint] {
            scores[label_index(label)] += 1.0;
        }
    }
    // Greetings only win when nothing else was asked.
    let greeting = label_index(IntentLabel::Greeting);
    let other_evidence: f32 = scores.iter().enumerate().filter(|(i, _)| *i != greeting).map(|(_, s)| s).sum();
    if other_evidence > 0.0 {
        scores[greeting] *= 0.3;
    }
    scores
}

pub(crate) fn label_index(label: IntentLabel) -> usize {
    IntentLabel::ALL.iter().position(|l| *l == label).unwrap_or(0)
}

static HANDOFF: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    const PERSON: &str = r"(?:a |an |the |some |your |my |one of your )?(?:real |live |actual )?(?:humans?|person|people|agent|representative|rep|manager|supervisor|someone|somebody|staff|operator|member of (?:your |the )?(?:team|staff)|colleague|customer service|sales|account manager)";
    [
        format!(r"\b(?:speak|talk|chat)\b.{{0,20}}\b(?:to|with)\s+{PERSON}\b"),
        format!(r"\b(?:get|put|connect|transfer|forward|pass|escalate)\b.{{0,25}}\b{PERSON}\b"),
        r"\b(?:someone|somebody|a person|a human|manager|account manager|rep|representative|your team|a colleague|staff)\b.{0,30}\b(?:call|phone|ring|contact|email|e-mail|reach out|get back)".to_owned(),
        r"\b(?:call|phone|ring) me\b|\bcall ?back\b".to_owned(),
        r"\b(?:real|live|actual) (?:person|human|agent|people)\b|\bhuman agent\b|\bhumans?\b".to_owned(),
        r"\b(?:person|human|someone|somebody) (?:i|we) can (?:talk|speak|chat)|\bwho can i (?:speak|talk) to\b".to_owned(),
        r"^\W*(?:agent|operator|representative|human|person)\W*(?:please|pls|now)?\W*$".to_owned(),
        r"\bescalat".to_owned(),
        r"\bhablar con\b|\bparler (?:à|a|avec) (?:un|une|quelqu)|\b(?:mit|einem) (?:einem |einer )?(?:menschen|mitarbeiter|person)|\bjemand(?:en)? sprechen".to_owned(),
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

const GREETING_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "hiya",
    "yo",
    "morning",
    "good",
    "afternoon",
    "evening",
    "day",
    "thanks",
    "thank",
    "you",
    "so",
    "much",
    "thx",
    "ty",
    "cheers",
    "mate",
    "bye",
    "goodbye",
    "see",
    "later",
    "ok",
    "okay",
    "great",
    "perfect",
    "awesome",
    "appreciate",
    "it",
    "that's",
    "all",
    "for",
    "your",
    "help",
    "have",
    "a",
    "nice",
    "there",
    "again",
    "hola",
    "buenos",
    "días",
    "dias",
    "gracias",
    "bonjour",
    "salut",
    "merci",
    "beaucoup",
    "bonne",
    "journée",
    "hallo",
    "guten",
    "tag",
    "danke",
    "schön",
    "tschüss",
    "talk",
    "next",
    "time",
    "night",
    "cool",
    "anyone",
    "?",
];

/// A high-precision verdict for patterns that need no model: an explicit request for a person,
/// or a message made only of greeting and thanks words (or emoji).
pub fn explicit_intent(message: &str) -> Option<(IntentLabel, f32)> {
    let text = normalise(message);
    if HANDOFF.iter().any(|re| re.is_match(&text)) {
        return Some((IntentLabel::HumanHandoff, 0.97));
    }
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | ';' | ':'))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '?'))
        .filter(|w| !w.is_empty())
        .collect();
    let has_letters = text.chars().any(char::is_alphabetic);
    if !has_letters && text.chars().any(|c| !c.is_ascii() && !c.is_whitespace()) {
        return Some((IntentLabel::Greeting, 0.9)); // emoji only
    }
    if !words.is_empty() && words.len() <= 8 && words.iter().all(|w| GREETING_WORDS.contains(w)) {
        return Some((IntentLabel::Greeting, 0.95));
    }
    None
}

impl IntentClassifier for RuleClassifier {
    fn classify(&self, message: &str) -> Classification {
        let entities = extract_entities(message);
        let tone = assess_tone(message);
        if let Some((label, confidence)) = explicit_intent(message) {
            return Classification { label, confidence, runner_up: None, entities, tone, decided_by: DecidedBy::Rule };
        }
        let raw = keyword_scores(message, &entities);
        let mut scores: Vec<(IntentLabel, f32)> = IntentLabel::ALL.iter().copied().zip(raw).collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (best, best_score) = scores[0];
        let runner_up = scores.get(1).copied().filter(|(_, s)| *s > 0.0);
        if best_score <= 0.0 {
            return Classification {
                label: IntentLabel::OutOfScope,
                confidence: 0.3,
                runner_up: None,
                entities,
                tone,
                decided_by: DecidedBy::Keywords,
            };
        }
        let second = runner_up.map_or(0.0, |(_, s)| s);
        // Margin-based confidence: clear winners approach 1, ties sit near 0.5.
        let confidence = (0.5 + 0.5 * (best_score - second) / best_score.max(1.0)).clamp(0.35, 0.99);
        Classification {
            label: best,
            confidence,
            runner_up: runner_up.map(|(l, s)| (l, (s / best_score * confidence).min(confidence))),
            entities,
            tone,
            decided_by: DecidedBy::Keywords,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(text: &str) -> IntentLabel {
        RuleClassifier.classify(text).label
    }

    #[test]
    fn clear_messages_get_their_label() {
        assert_eq!(label("What is your returns policy?"), IntentLabel::PolicyQuestion);
        assert_eq!(label("Where is my order ORD-10001?"), IntentLabel::OrderStatus);
        assert_eq!(label("I want to speak to a human"), IntentLabel::HumanHandoff);
        assert_eq!(label("Hello there!"), IntentLabel::Greeting);
        assert_eq!(label("Tell me a joke"), IntentLabel::OutOfScope);
        assert_eq!(label("Do you have 16oz cups in stock?"), IntentLabel::ProductInquiry);
        assert_eq!(label("Please cancel my order ORD-10002"), IntentLabel::OrderChange);
        assert_eq!(label("I was double charged on my invoice"), IntentLabel::Billing);
    }

    #[test]
    fn unknown_text_is_out_of_scope_with_low_confidence() {
        let c = RuleClassifier.classify("qwertyuiop");
        assert_eq!(c.label, IntentLabel::OutOfScope);
        assert!(c.confidence < 0.5);
        let c = RuleClassifier.classify("");
        assert_eq!(c.label, IntentLabel::OutOfScope);
    }

    #[test]
    fn a_greeting_with_a_question_is_the_question() {
        assert_eq!(label("Hi, what are your shipping fees?"), IntentLabel::PolicyQuestion);
        let c = RuleClassifier.classify("Hi, what are your shipping fees?");
        assert!(c.confidence > 0.0 && c.confidence <= 1.0);
    }
}
