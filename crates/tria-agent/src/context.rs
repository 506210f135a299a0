//! Multi-turn context: the session's recent turns loaded from the store, trimmed to a token
//! budget (counted with tiktoken-rs' cl100k, the unit the LLM bills in) for the prompt, and the
//! subject of the conversation so a follow-up ("and how much is it?") is answered about the
//! same product or policy as the question before it.
//!
//! Trimming keeps the newest turns whole; older turns are summarised extractively (the first
//! sentence of each customer question) while the summary fits, and dropped after that. The
//! result never exceeds the budget: a newest turn larger than the whole budget is cut.

use serde::Serialize;
use tria_cache::count_tokens;
use tria_core::{IntentLabel, MessageRole};
use tria_intent::Sentiment;
use tria_llm::ChatMessage;
use tria_store::records::StoredMessage;

/// Messages read from the store per request at most (the budget trims further).
pub(crate) const MAX_LOADED_MESSAGES: u64 = 16;
/// Prompt tokens the history may take by default.
pub const DEFAULT_HISTORY_TOKENS: u32 = 600;
/// Words in a message that can still be a follow-up.
const MAX_FOLLOW_UP_WORDS: usize = 10;
/// Words quoted per earlier question in the summary.
const SUMMARY_WORDS: usize = 16;

const SUMMARY_HEADER: &str = "(Summary of earlier turns) The customer asked:";

/// One stored message as the pipeline reads it back.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Turn {
    pub(crate) role: MessageRole,
    pub(crate) text: String,
    pub(crate) intent: Option<IntentLabel>,
    pub(crate) confidence: Option<f32>,
    pub(crate) sentiment: Option<Sentiment>,
    /// Cited source ids (chunk ids, `product:SKU`).
    pub(crate) sources: Vec<String>,
}

impl Turn {
    pub(crate) fn from_row(row: &StoredMessage) -> Option<Self> {
        let role = MessageRole::parse(&row.role)?;
        let sources =
            row.sources.as_array().map(|ids| ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        Some(Self {
            role,
            text: row.content.clone(),
            intent: row.intent.as_deref().and_then(|i| i.parse().ok()),
            confidence: row.confidence.map(|c| c as f32),
            sentiment: row.sentiment.as_deref().and_then(parse_sentiment),
            sources,
        })
    }
}

/// One stored message as the history API, the widget and the console show it: the one
/// conversion from a stored message to its view (the widget and the console add its `id`).
#[derive(Clone, Debug, Serialize)]
pub struct HistoryMessage {
    pub role: String,
    pub content: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub sources: serde_json::Value,
    pub cache: Option<String>,
    pub latency_ms: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<&StoredMessage> for HistoryMessage {
    fn from(m: &StoredMessage) -> Self {
        Self {
            role: m.role.clone(),
            content: m.content.clone(),
            intent: m.intent.clone(),
            confidence: m.confidence,
            sources: m.sources.clone(),
            cache: m.cache_level.clone(),
            latency_ms: m.latency_ms,
            created_at: m.created_at,
        }
    }
}

fn parse_sentiment(s: &str) -> Option<Sentiment> {
    [Sentiment::Negative, Sentiment::Neutral, Sentiment::Positive].into_iter().find(|v| v.as_str() == s)
}

/// The history that goes into the prompt and what it costs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrimmedHistory {
    /// Oldest first; a summary of dropped turns, if any, comes first.
    pub messages: Vec<ChatMessage>,
    /// cl100k tokens of `messages`' contents; never above the budget.
    pub tokens: u32,
    /// Turns summarised instead of kept whole.
    pub summarised: usize,
    /// Turns left out entirely.
    pub dropped: usize,
}

fn chat_message(role: MessageRole, text: String) -> ChatMessage {
    match role {
        // A person at the business wrote it: the business's side of the conversation.
        MessageRole::Assistant | MessageRole::Operator => ChatMessage::assistant(text),
        // Stored system notes are shown to the model as data, never as instructions.
        MessageRole::User | MessageRole::System => ChatMessage::user(text),
    }
}

/// The longest prefix of `text` (at a char boundary) that counts at most `budget` tokens.
fn cut_to_tokens(text: &str, budget: u32) -> String {
    if count_tokens(text) <= budget {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().collect();
        if count_tokens(&candidate) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    chars[..lo].iter().collect()
}

/// The first sentence of a question, at most [`SUMMARY_WORDS`] words.
fn gist(text: &str) -> String {
    let first = text.split_inclusive(['.', '?', '!', '\n']).next().unwrap_or(text).trim();
    let words: Vec<&str> = first.split_whitespace().collect();
    if words.len() > SUMMARY_WORDS { format!("{} …", words[..SUMMARY_WORDS].join(" ")) } else { words.join(" ") }
}

/// `turns` (oldest first) fitted into `budget` tokens.
pub fn trim_history(turns: &[(MessageRole, String)], budget: u32) -> TrimmedHistory {
    let mut kept: Vec<ChatMessage> = Vec::new();
    let mut used = 0u32;
    let mut split = turns.len();
    let total: u32 = turns.iter().map(|(_, t)| count_tokens(t)).fold(0, u32::saturating_add);
    // When not everything fits, a quarter of the budget is left for the summary of the rest.
    let whole_turns_budget = if total <= budget { budget } else { budget - budget / 4 };
    for (i, (role, text)) in turns.iter().enumerate().rev() {
        let tokens = count_tokens(text);
        if used.saturating_add(tokens) > whole_turns_budget {
            if kept.is_empty() {
                // The newest turn alone is over its share: keep what fits of it.
                let cut = cut_to_tokens(text, whole_turns_budget);
                if !cut.is_empty() {
                    used += count_tokens(&cut);
                    kept.push(chat_message(*role, cut));
                }
                split = i;
            }
            break;
        }
        used += tokens;
        kept.push(chat_message(*role, text.clone()));
        split = i;
    }
    kept.reverse();
    let older = &turns[..split];

    // Extractive summary of the older customer questions, newest first while it fits.
    let mut summary_parts: Vec<String> = Vec::new();
    let mut summary_tokens = 0;
    for (_, text) in older.iter().rev().filter(|(role, _)| *role == MessageRole::User) {
        let mut parts = summary_parts.clone();
        parts.insert(0, gist(text));
        let candidate = format!("{SUMMARY_HEADER} {}", parts.join("; "));
        let tokens = count_tokens(&candidate);
        if used.saturating_add(tokens) > budget {
            break;
        }
        summary_parts = parts;
        summary_tokens = tokens;
    }
    let summarised = summary_parts.len();
    let user_turns_older = older.iter().filter(|(role, _)| *role == MessageRole::User).count();
    let mut messages = Vec::with_capacity(kept.len() + 1);
    if summarised > 0 {
        messages.push(ChatMessage::user(format!("{SUMMARY_HEADER} {}", summary_parts.join("; "))));
        used += summary_tokens;
    }
    messages.extend(kept);
    // Assistant turns of the older part are always dropped; so are questions the summary skipped.
    let dropped = older.len() - summarised.min(user_turns_older);
    TrimmedHistory { messages, tokens: used, summarised, dropped }
}

/// What the conversation is about, for answering a follow-up.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Subject {
    /// The last question that was not itself a follow-up.
    pub(crate) question: String,
    pub(crate) intent: Option<IntentLabel>,
    /// SKUs the last answer quoted.
    pub(crate) skus: Vec<String>,
}

/// The subject of `turns` (oldest first): the most recent stand-alone customer question and the
/// products the latest reply quoted.
pub(crate) fn subject(turns: &[Turn]) -> Option<Subject> {
    let question = turns.iter().rev().find(|t| t.role == MessageRole::User && !is_follow_up(&t.text))?;
    let intent = question.intent;
    let skus = turns
        .iter()
        .rev()
        .find(|t| t.role == MessageRole::Assistant)
        .map(|t| t.sources.iter().filter_map(|s| s.strip_prefix("product:").map(str::to_owned)).collect())
        .unwrap_or_default();
    Some(Subject { question: question.text.clone(), intent, skus })
}

const REFERRING_WORDS: &[&str] = &["it", "its", "it's", "that", "this", "they", "them", "those", "these", "one", "ones"];
/// A short message that points back at what was just discussed: it refers to something it
/// does not name ("and how much is it?", "how long does that take?"). A message that names a
/// new subject ("what about shipping?") stands alone.
pub(crate) fn is_follow_up(message: &str) -> bool {
    let lower = message.trim().to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|w| !w.is_empty()).collect();
    words.len() <= MAX_FOLLOW_UP_WORDS && words.iter().any(|w| REFERRING_WORDS.contains(w))
}

/// The message the pipeline answers: a follow-up gets its subject attached (the products the
/// last answer quoted, by SKU, and the question it answered), so intent, retrieval, the cache
/// key and the prompt all see what "it" is. `None`: the message stands alone.
pub(crate) fn resolve_follow_up(message: &str, subject: Option<&Subject>) -> Option<String> {
    let subject = subject?;
    if !is_follow_up(message) {
        return None;
    }
    let mut resolved = format!("{} (about: {}", message.trim(), subject.question.trim());
    if !subject.skus.is_empty() {
        resolved.push_str(&format!(" — {}", subject.skus.join(", ")));
    }
    resolved.push(')');
    Some(resolved)
}

/// Counts that trigger a hand-off: how many recent customer turns were negative, and how many
/// in a row (ending with the latest) the classifier was unsure about.
pub(crate) fn negative_turns(turns: &[Turn]) -> usize {
    turns.iter().filter(|t| t.role == MessageRole::User && t.sentiment == Some(Sentiment::Negative)).count()
}

pub(crate) fn trailing_low_confidence(turns: &[Turn], threshold: f32) -> usize {
    turns.iter().rev().filter(|t| t.role == MessageRole::User).take_while(|t| t.confidence.is_some_and(|c| c < threshold)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(n: usize) -> Vec<(MessageRole, String)> {
        (0..n)
            .flat_map(|i| {
                [
                    (MessageRole::User, format!("Question number {i}: what is the return window for opened coffee beans and syrups?")),
                    (
                        MessageRole::Assistant,
                        format!("Answer {i}: returns are accepted within 30 days of delivery; opened food items are final sale."),
                    ),
                ]
            })
            .collect()
    }

    fn tokens_of(history: &TrimmedHistory) -> u32 {
        history.messages.iter().map(|m| count_tokens(&m.content)).sum()
    }

    #[test]
    fn the_budget_holds_for_every_length_and_budget() {
        for n in [0, 1, 3, 8, 20] {
            for budget in [0, 5, 20, 60, 150, 400, 2000] {
                let history = trim_history(&turns(n), budget);
                assert!(history.tokens <= budget, "n={n} budget={budget}: {}", history.tokens);
                assert_eq!(tokens_of(&history), history.tokens, "the reported count is the real one");
            }
        }
    }

    #[test]
    fn newest_turns_stay_whole_older_ones_are_summarised_then_dropped() {
        let all = turns(10);
        let whole = trim_history(&all, 10_000);
        assert_eq!(whole.messages.len(), 20);
        assert_eq!((whole.summarised, whole.dropped), (0, 0));

        let trimmed = trim_history(&all, 150);
        let last = trimmed.messages.last().expect("newest kept");
        assert!(last.content.starts_with("Answer 9"), "{}", last.content);
        let first = &trimmed.messages[0];
        assert!(first.content.starts_with(SUMMARY_HEADER), "{}", first.content);
        assert!(trimmed.summarised > 0 && trimmed.dropped > 0, "{trimmed:?}");
        assert!(first.content.contains("Question number 0") || trimmed.dropped > 0);
    }

    #[test]
    fn an_oversized_newest_turn_is_cut_to_the_budget() {
        let long = "word ".repeat(500);
        let history = trim_history(&[(MessageRole::User, long)], 40);
        assert_eq!(history.messages.len(), 1);
        assert!(history.tokens <= 40 && history.tokens >= 25, "{}", history.tokens);
    }

    fn turn(role: MessageRole, text: &str, sources: &[&str]) -> Turn {
        Turn {
            role,
            text: text.into(),
            intent: None,
            confidence: None,
            sentiment: None,
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_follow_up_is_resolved_to_the_product_and_question_before_it() {
        let history = vec![
            turn(MessageRole::User, "Do you sell oat milk?", &[]),
            turn(MessageRole::Assistant, "From our catalogue: Oat Milk Barista (SKU NW-OAT) …", &["product:NW-OAT"]),
        ];
        let subject = subject(&history);
        let resolved = resolve_follow_up("and how much is it?", subject.as_ref()).expect("a follow-up");
        assert!(resolved.contains("NW-OAT") && resolved.contains("oat milk"), "{resolved}");
        // A stand-alone question is left alone, and nothing is resolved without history.
        assert_eq!(resolve_follow_up("What is your returns policy for damaged goods?", subject.as_ref()), None);
        assert_eq!(resolve_follow_up("and how much is it?", None), None);
    }

    #[test]
    fn chained_follow_ups_keep_the_original_subject() {
        let history = vec![
            turn(MessageRole::User, "What is the return window?", &[]),
            turn(MessageRole::Assistant, "Returns are accepted within 30 days.", &["chunk-1"]),
            turn(MessageRole::User, "and is there a fee for that?", &[]),
            turn(MessageRole::Assistant, "A 10% restocking fee applies.", &["chunk-2"]),
        ];
        let subject = subject(&history).expect("subject");
        assert_eq!(subject.question, "What is the return window?");
        assert!(subject.skus.is_empty());
    }

    #[test]
    fn follow_up_detection() {
        for yes in ["and how much is it?", "is it in stock", "how long does that take?", "which one is cheaper"] {
            assert!(is_follow_up(yes), "{yes}");
        }
        for no in ["How much is the oat milk?", "What about shipping?", "What is your return window?", "", "hello"] {
            assert!(!is_follow_up(no), "{no}");
        }
    }
}
