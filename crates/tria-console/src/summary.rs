//! What an operator reads first: an extractive handoff summary (what the customer wants, what
//! the bot already did, why a person is needed), the customer's sentiment, and notes on each
//! bot reply drawn from what the pipeline stored about it. Extractive on purpose: every line is
//! the customer's or the bot's own words or a stored fact, so the summary cannot invent.

use crate::rows::{Escalation, StoredMessage};
use serde::Serialize;
use tria_core::{IntentLabel, MessageRole};
use tria_intent::{Sentiment, assess_tone};

use crate::citations::source_ids;

/// Characters of a message quoted in the summary.
const QUOTE_CHARS: usize = 240;
/// Intent confidence under which a reply's classification is flagged.
const LOW_CONFIDENCE: f64 = 0.5;
/// Reply latency over which a reply is flagged as slow.
const SLOW_REPLY_MS: i64 = 3000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HandoffSummary {
    /// The customer's first request, and the latest one when it differs.
    pub customer_wants: Vec<String>,
    /// What the bot answered and cited.
    pub bot_did: Vec<String>,
    /// Why a person is needed: the escalation's reason, or what the transcript shows.
    pub reason: Option<String>,
    pub sentiment: &'static str,
}

fn quote(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= QUOTE_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(QUOTE_CHARS).collect();
    format!("{}…", cut.trim_end())
}

/// The first sentence of a reply (or its quoted start).
fn first_sentence(text: &str) -> String {
    let end = text.find(['.', '!', '?', '\n']).map_or(text.len(), |i| i + 1);
    quote(&text[..end])
}

fn is(m: &StoredMessage, role: MessageRole) -> bool {
    m.role == role.as_str()
}

/// "Title › Heading" for a citation, without repeating the title when the chunk's heading path
/// starts with it (headings are stored as full paths from the document title).
pub fn citation_text(title: &str, heading: &str) -> String {
    let heading = heading.strip_prefix(title).and_then(|h| h.strip_prefix(" › ")).unwrap_or(heading);
    match (title.is_empty(), heading.is_empty() || heading == title) {
        (_, true) => title.to_owned(),
        (true, false) => heading.to_owned(),
        (false, false) => format!("{title} › {heading}"),
    }
}

/// The customer's mood over their latest messages: negative if any of the last three is.
pub fn sentiment(messages: &[StoredMessage]) -> Sentiment {
    let recent: Vec<&StoredMessage> = messages.iter().rev().filter(|m| is(m, MessageRole::User)).take(3).collect();
    let tones: Vec<Sentiment> = recent.iter().map(|m| assess_tone(&m.content).sentiment).collect();
    if tones.contains(&Sentiment::Negative) { Sentiment::Negative } else { tones.first().copied().unwrap_or_default() }
}

/// The handoff summary of a transcript. `cited` turns a chunk id into a readable citation.
pub fn summarise(
    messages: &[StoredMessage],
    escalations: &[Escalation],
    status: &str,
    cited: &dyn Fn(&str) -> Option<String>,
) -> HandoffSummary {
    let users: Vec<&StoredMessage> = messages.iter().filter(|m| is(m, MessageRole::User)).collect();
    let replies: Vec<&StoredMessage> = messages.iter().filter(|m| is(m, MessageRole::Assistant)).collect();

    let mut customer_wants = Vec::new();
    if let Some(first) = users.first() {
        customer_wants.push(quote(&first.content));
    }
    if let Some(last) = users.last().filter(|_| users.len() > 1) {
        customer_wants.push(format!("Latest: {}", quote(&last.content)));
    }

    let mut bot_did = Vec::new();
    if !replies.is_empty() {
        let mut intents: Vec<&str> = Vec::new();
        for intent in replies.iter().filter_map(|m| m.intent.as_deref()) {
            if !intents.contains(&intent) {
                intents.push(intent);
            }
        }
        let cached = replies.iter().filter(|m| m.cache_level.as_deref().is_some_and(|c| c != "none")).count();
        let mut line = format!("Answered {} message{}", replies.len(), if replies.len() == 1 { "" } else { "s" });
        if !intents.is_empty() {
            line.push_str(&format!(" (as {})", intents.join(", ")));
        }
        if cached > 0 {
            line.push_str(&format!("; {cached} from cache"));
        }
        bot_did.push(line);
        let mut citations: Vec<String> = Vec::new();
        for id in replies.iter().flat_map(|m| source_ids(m)) {
            if let Some(c) = cited(&id)
                && !citations.contains(&c)
            {
                citations.push(c);
            }
        }
        if !citations.is_empty() {
            let more = citations.len().saturating_sub(3);
            let mut line = format!("Cited {}", citations.iter().take(3).cloned().collect::<Vec<_>>().join("; "));
            if more > 0 {
                line.push_str(&format!(" and {more} more"));
            }
            bot_did.push(line);
        }
        if let Some(last) = replies.last() {
            bot_did.push(format!("Last reply: {}", first_sentence(&last.content)));
        }
    }
    let operator_replies = messages.iter().filter(|m| is(m, MessageRole::Operator)).count();
    if operator_replies > 0 {
        bot_did.push(format!("An operator has replied {operator_replies} time{}", if operator_replies == 1 { "" } else { "s" }));
    }

    let asked_for_person = users.iter().any(|m| m.intent.as_deref() == Some(IntentLabel::HumanHandoff.as_str()));
    let reason = escalations
        .last()
        .map(|e| quote(&e.reason))
        .or_else(|| asked_for_person.then(|| "The customer asked for a person".to_owned()))
        .or_else(|| (status == "handed_off").then(|| "Taken over by an operator".to_owned()));

    HandoffSummary { customer_wants, bot_did, reason, sentiment: sentiment(messages).as_str() }
}

/// Notes on one bot reply from what was stored with it: grounding, confidence, cache, speed.
pub fn reply_notes(m: &StoredMessage) -> Vec<String> {
    if !is(m, MessageRole::Assistant) {
        return Vec::new();
    }
    let mut notes = Vec::new();
    let sources = source_ids(m).len();
    if sources == 0 {
        notes.push("No sources cited: not grounded in a policy or the catalogue".to_owned());
    } else {
        notes.push(format!("Grounded in {sources} source{}", if sources == 1 { "" } else { "s" }));
    }
    if let Some(c) = m.confidence.filter(|c| *c < LOW_CONFIDENCE) {
        notes.push(format!("Low intent confidence ({c:.2})"));
    }
    if let Some(level) = m.cache_level.as_deref().filter(|l| *l != "none") {
        notes.push(format!("Served from cache ({level})"));
    }
    if m.latency_ms > SLOW_REPLY_MS {
        notes.push(format!("Slow reply ({:.1} s)", m.latency_ms as f64 / 1000.0));
    }
    notes
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn msg(role: &str, content: &str, intent: Option<&str>, sources: &[&str]) -> StoredMessage {
        StoredMessage {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            conversation_id: Uuid::nil(),
            role: role.into(),
            content: content.into(),
            intent: intent.map(Into::into),
            confidence: Some(0.9),
            sources: serde_json::json!(sources),
            tokens_in: 0,
            tokens_out: 0,
            latency_ms: 12,
            cache_level: Some("none".into()),
            prompt_version: None,
            cost_usd: 0.0,
            sentiment: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_summary_quotes_the_customer_and_lists_what_the_bot_did() {
        let transcript = [
            msg("user", "Where is order ORD-1001?", Some("order_status"), &[]),
            msg("assistant", "It shipped on Monday. Tracking follows.", Some("order_status"), &["c1"]),
            msg("user", "This is awful, I want to talk to a person", Some("human_handoff"), &[]),
            msg("assistant", "A colleague will answer shortly.", Some("human_handoff"), &[]),
        ];
        let cited = |id: &str| (id == "c1").then(|| "Shipping › Tracking".to_owned());
        let s = summarise(&transcript, &[], "handed_off", &cited);
        assert_eq!(
            s.customer_wants,
            vec!["Where is order ORD-1001?".to_owned(), "Latest: This is awful, I want to talk to a person".into()]
        );
        assert_eq!(s.bot_did[0], "Answered 2 messages (as order_status, human_handoff)");
        assert_eq!(s.bot_did[1], "Cited Shipping › Tracking");
        assert_eq!(s.bot_did[2], "Last reply: A colleague will answer shortly.");
        assert_eq!(s.reason.as_deref(), Some("The customer asked for a person"));
        assert_eq!(s.sentiment, "negative");
    }

    #[test]
    fn an_escalation_reason_wins_and_an_empty_transcript_summarises_to_nothing() {
        let esc = Escalation {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            conversation_id: Uuid::nil(),
            reason: "refund over the approval limit".into(),
            ticket_ref: None,
            status: "open".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let s = summarise(&[msg("user", "Refund please", Some("billing"), &[])], &[esc], "open", &|_| None);
        assert_eq!(s.reason.as_deref(), Some("refund over the approval limit"));
        assert!(s.bot_did.is_empty());
        let empty = summarise(&[], &[], "open", &|_| None);
        assert!(empty.customer_wants.is_empty() && empty.reason.is_none());
        assert_eq!(empty.sentiment, "neutral");
    }

    #[test]
    fn citations_do_not_repeat_the_title() {
        assert_eq!(citation_text("Returns", "Returns › Restocking fee"), "Returns › Restocking fee");
        assert_eq!(citation_text("Returns", "Refund timelines"), "Returns › Refund timelines");
        assert_eq!(citation_text("Returns", "Returns"), "Returns");
        assert_eq!(citation_text("Returns", ""), "Returns");
    }

    #[test]
    fn notes_flag_ungrounded_low_confidence_cached_and_slow_replies() {
        let mut m = msg("assistant", "Maybe.", Some("billing"), &[]);
        m.confidence = Some(0.31);
        m.cache_level = Some("l2".into());
        m.latency_ms = 4200;
        let notes = reply_notes(&m);
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert!(notes[0].starts_with("No sources cited"));
        assert_eq!(notes[1], "Low intent confidence (0.31)");
        assert_eq!(notes[2], "Served from cache (l2)");
        assert_eq!(notes[3], "Slow reply (4.2 s)");
        assert!(reply_notes(&msg("user", "hi", None, &[])).is_empty());
    }
}
