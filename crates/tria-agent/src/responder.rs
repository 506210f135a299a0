//! The offline grounded responder: composes a reply from the tenant's own policy text with a
//! template per intent. It never invents a number: everything factual is quoted from a chunk.

use tria_core::{IntentLabel, TenantContext};
use tria_rag::PolicyHit;
use tria_rag::bm25::analyze;

/// Sentences quoted from the best chunk at most.
const MAX_SENTENCES: usize = 3;

fn setting<'a>(tenant: &'a TenantContext, key: &str) -> Option<&'a str> {
    tenant.settings.get(key).and_then(|v| v.as_str())
}

fn hours(tenant: &TenantContext) -> String {
    setting(tenant, "support_hours").map_or_else(|| "during business hours".to_owned(), |h| format!("({h})"))
}

/// The sentences of `text`: a `.`, `?` or `!` ends one only when whitespace or the end follows,
/// so decimals ("$250.00", "1.5%") and SKUs stay whole.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '?' | '!') && chars.peek().is_none_or(|(_, n)| n.is_whitespace()) {
            out.push(text[start..i + c.len_utf8()].trim());
            start = i + c.len_utf8();
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// The sentences of `text` that share the most terms with `question`, in reading order.
fn relevant_sentences(text: &str, question: &str) -> String {
    let query_terms = analyze(question);
    let sentences = split_sentences(text);
    let mut scored: Vec<(usize, usize)> =
        sentences.iter().enumerate().map(|(i, s)| (i, analyze(s).iter().filter(|t| query_terms.contains(t)).count())).collect();
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = scored.iter().take(MAX_SENTENCES).filter(|(_, s)| *s > 0).map(|(i, _)| *i).collect();
    if chosen.is_empty() {
        chosen = (0..sentences.len().min(MAX_SENTENCES)).collect();
    }
    chosen.sort_unstable();
    chosen.iter().map(|&i| sentences[i]).collect::<Vec<_>>().join(" ")
}

/// The reply text for a message of intent `label`, grounded in `hits`.
pub(crate) fn compose(tenant: &TenantContext, label: IntentLabel, question: &str, hits: &[PolicyHit]) -> String {
    match label {
        IntentLabel::Greeting => {
            if tenant.tone.greeting.is_empty() {
                format!("Hello! You're chatting with {}. How can I help you today?", tenant.name)
            } else {
                tenant.tone.greeting.clone()
            }
        }
        IntentLabel::HumanHandoff => format!("I'll pass this conversation to a member of our team. A person will reply {}.", hours(tenant)),
        IntentLabel::OutOfScope => {
            format!("I'm sorry, I can only help with questions about {}: our products, orders and policies.", tenant.name)
        }
        IntentLabel::OrderPlacement | IntentLabel::OrderStatus | IntentLabel::OrderChange | IntentLabel::Billing => {
            format!(
                "Orders and account questions are not enabled in this chat yet. Our team can help {} — \
                 ask me to connect you with a person.",
                hours(tenant)
            )
        }
        IntentLabel::Complaint => match hits.first() {
            Some(hit) => format!(
                "I'm sorry about this experience. Here is what our {} policy says: {}",
                hit.chunk.title,
                relevant_sentences(&hit.chunk.text, question)
            ),
            None => "I'm sorry about this experience. I can connect you with a person who can put it right.".to_owned(),
        },
        IntentLabel::PolicyQuestion | IntentLabel::ProductInquiry => match hits.first() {
            Some(hit) => {
                format!("From our {} ({}): {}", hit.chunk.title, hit.chunk.heading_path, relevant_sentences(&hit.chunk.text, question))
            }
            None => format!("I couldn't find that in {}'s policies. I can connect you with a person who can help.", tenant.name),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_sentences_that_answer_the_question() {
        let text = "We ship from Ohio. Returns are accepted within 30 days of delivery. Opened food is final sale. Call us any time.";
        let picked = relevant_sentences(text, "how many days for returns?");
        assert!(picked.contains("30 days"), "{picked}");
        assert!(!picked.contains("Call us"), "{picked}");
    }

    #[test]
    fn decimals_are_not_sentence_ends() {
        let text = "Orders under $250.00 pay $18.50. A late fee of 1.5% per month applies.";
        assert_eq!(split_sentences(text), vec!["Orders under $250.00 pay $18.50.", "A late fee of 1.5% per month applies."]);
        let picked = relevant_sentences(text, "what is the late fee?");
        assert!(picked.contains("1.5%"), "{picked}");
    }

    #[test]
    fn falls_back_to_the_opening_sentences() {
        let picked = relevant_sentences("One. Two. Three. Four.", "zebra");
        assert_eq!(picked, "One. Two. Three.");
    }
}
