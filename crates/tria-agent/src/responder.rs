//! The offline grounded responder: composes a reply from the tenant's own policy text with a
//! template per intent. It never invents a number: everything factual is quoted from a chunk.
//! To a customer writing in another language than the policy's it says, in theirs, that the
//! policy is quoted in the tenant's language, then quotes it (`language.rs`).

use tria_core::{IntentLabel, TenantContext};

use crate::language::{self, Language};
use tria_rag::PolicyHit;
use tria_rag::bm25::analyze;

/// Sentences quoted from the best chunk at most.
const MAX_SENTENCES: usize = 3;
/// What a lower retrieval rank costs a chunk's best sentence (in shared terms).
const RANK_PENALTY: f32 = 0.25;

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

/// Words that ask for a figure: a reply to such a question should quote a number.
const FIGURE_CUES: &[&str] = &[
    "how many",
    "how long",
    "how much",
    "how soon",
    "how late",
    "what time",
    "when",
    "cut-off",
    "cutoff",
    "deadline",
    "minimum",
    "maximum",
    "fee",
    "cost",
    "price",
    "rate",
    "terms",
    "limit",
    "within",
    "until",
];

/// Words a question uses to name a document, not to ask about its content.
const NAMING_WORDS: &[&str] = &["policy", "policies"];

/// How well each sentence of a chunk answers a question.
struct SentenceScorer {
    query_terms: Vec<String>,
    wants_figure: bool,
}

impl SentenceScorer {
    fn new(question: &str) -> Self {
        // Padded words, so "rate" is not found in "separate".
        let words: Vec<String> =
            question.split(|c: char| !(c.is_alphanumeric() || c == '-')).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        let padded = format!(" {} ", words.join(" "));
        // "Policy" names what is asked about ("What is your returns policy?"); in a sentence it
        // is a cross-reference ("… are covered by our Returns policy instead"), which matched
        // the question better than the section that answers it.
        let naming: Vec<String> = NAMING_WORDS.iter().flat_map(|w| analyze(w)).collect();
        let query_terms = analyze(question).into_iter().filter(|t| !naming.contains(t)).collect();
        Self { query_terms, wants_figure: FIGURE_CUES.iter().any(|c| padded.contains(&format!(" {c} "))) }
    }

    /// Shared terms, plus a bonus for a figure when one is asked for; a sentence that only says
    /// what a policy covers ("This policy sets out …") never answers anything, so it sinks.
    fn score(&self, sentence: &str) -> f32 {
        let terms = analyze(sentence);
        #[allow(clippy::cast_precision_loss)] // a handful of terms
        let shared = self.query_terms.iter().filter(|t| terms.contains(t)).count() as f32;
        if shared == 0.0 {
            return 0.0;
        }
        let figure = if self.wants_figure && sentence.chars().any(|c| c.is_ascii_digit()) { 1.5 } else { 0.0 };
        let lower = sentence.trim_start_matches(['#', '-', '*', ' ']).to_lowercase();
        let scope_only = ["this policy", "this document", "these terms", "this page"].iter().any(|p| lower.starts_with(p));
        if scope_only { shared * 0.25 } else { shared + figure }
    }
}

/// The sentences of `text` that answer `question` best, in reading order (its opening
/// sentences when none shares a term), and the best sentence's score.
fn relevant_sentences(text: &str, scorer: &SentenceScorer) -> (String, f32) {
    let sentences = split_sentences(text);
    let mut scored: Vec<(usize, f32)> = sentences.iter().enumerate().map(|(i, s)| (i, scorer.score(s))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let best = scored.first().map_or(0.0, |(_, s)| *s);
    let mut chosen: Vec<usize> = scored.iter().take(MAX_SENTENCES).filter(|(_, s)| *s > 0.0).map(|(i, _)| *i).collect();
    if chosen.is_empty() {
        chosen = (0..sentences.len().min(MAX_SENTENCES)).collect();
    }
    chosen.sort_unstable();
    (chosen.iter().map(|&i| sentences[i]).collect::<Vec<_>>().join(" "), best)
}

/// The retrieved chunk to quote and what to quote from it: the one holding the sentence that
/// answers best. Retrieval ranks whole chunks, so a section that mentions every word of the
/// question in its introduction can outrank the section with the answer; a later hit wins only
/// by a clear margin, so ties keep retrieval's order.
fn best_passage<'h>(hits: &'h [PolicyHit], question: &str) -> Option<(&'h PolicyHit, String)> {
    let scorer = SentenceScorer::new(question);
    let mut best: Option<(&PolicyHit, String, f32)> = None;
    // The caller passes retrieval's top hits (routing::TOP_K); each competes.
    for (rank, hit) in hits.iter().enumerate() {
        let (text, score) = relevant_sentences(&hit.chunk.text, &scorer);
        #[allow(clippy::cast_precision_loss)] // a handful of hits
        let score = score - RANK_PENALTY * rank as f32;
        if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
            best = Some((hit, text, score));
        }
    }
    best.map(|(hit, text, _)| (hit, text))
}

/// The language a policy passage is written in: the tenant's; English when it says too little to tell.
fn passage_language(text: &str) -> Language {
    language::detect(text).unwrap_or_default()
}

/// The reply text for a message of intent `label`, grounded in `hits`, for a customer writing
/// in `customer` (policy and complaint replies; the other templates are English). `question`
/// is what retrieval searched (`Ask::retrieval_query`: a message in another language carries
/// its topics' English words), so the passage's sentences are picked with it.
pub(crate) fn compose(tenant: &TenantContext, label: IntentLabel, question: &str, hits: &[PolicyHit], customer: Language) -> String {
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
        // In a conversation the order flow answers these; this is the reply without one (cache
        // warming, a request without a session).
        IntentLabel::OrderPlacement | IntentLabel::OrderStatus | IntentLabel::OrderChange => format!(
            "I can help with orders in a chat with your customer number and the email address on your account: tell me what you would like to order \
             (for example \"3 cases of 16 oz hot cups\"), or give me an order number (ORD-…) to check, change or cancel. \
             Our team can also help {}.",
            hours(tenant)
        ),
        IntentLabel::Complaint => match best_passage(hits, question) {
            Some((hit, text)) => {
                let (title, heading) = (&hit.chunk.title, &hit.chunk.heading_path);
                match language::quoting_lead_in(customer, passage_language(&hit.chunk.text), title, heading) {
                    Some(lead_in) => format!("{} {lead_in} {text}", language::complaint_apology(customer)),
                    None => format!("I'm sorry about this experience. Here is what our {title} policy says: {text}"),
                }
            }
            None => match customer {
                Language::English => "I'm sorry about this experience. I can connect you with a person who can put it right.".to_owned(),
                other => {
                    format!("{} {}", language::complaint_apology(other), language::nothing_found(other, &tenant.name).unwrap_or_default())
                }
            },
        },
        IntentLabel::PolicyQuestion | IntentLabel::ProductInquiry | IntentLabel::Billing => match best_passage(hits, question) {
            Some((hit, text)) => {
                let (title, heading) = (&hit.chunk.title, &hit.chunk.heading_path);
                match language::quoting_lead_in(customer, passage_language(&hit.chunk.text), title, heading) {
                    Some(lead_in) => format!("{lead_in} {text}"),
                    None => format!("From our {title} ({heading}): {text}"),
                }
            }
            None => language::nothing_found(customer, &tenant.name).unwrap_or_else(|| {
                format!("I couldn't find that in {}'s policies. I can connect you with a person who can help.", tenant.name)
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(text: &str, question: &str) -> String {
        relevant_sentences(text, &SentenceScorer::new(question)).0
    }

    fn hit(title: &str, heading: &str, text: &str) -> PolicyHit {
        let chunk = tria_rag::IndexedChunk {
            id: uuid::Uuid::new_v4(),
            title: title.into(),
            source_path: format!("{title}.md"),
            heading_path: heading.into(),
            text: text.into(),
        };
        PolicyHit { chunk, score: 1.0, similarity: None }
    }

    #[test]
    fn picks_the_sentences_that_answer_the_question() {
        let text = "We ship from Ohio. Returns are accepted within 30 days of delivery. Opened food is final sale. Call us any time.";
        let picked = pick(text, "how many days for returns?");
        assert!(picked.contains("30 days"), "{picked}");
        assert!(!picked.contains("Call us"), "{picked}");
    }

    #[test]
    fn decimals_are_not_sentence_ends() {
        let text = "Orders under $250.00 pay $18.50. A late fee of 1.5% per month applies.";
        assert_eq!(split_sentences(text), vec!["Orders under $250.00 pay $18.50.", "A late fee of 1.5% per month applies."]);
        let picked = pick(text, "what is the late fee?");
        assert!(picked.contains("1.5%"), "{picked}");
    }

    #[test]
    fn falls_back_to_the_opening_sentences() {
        assert_eq!(pick("One. Two. Three. Four.", "zebra"), "One. Two. Three.");
    }

    #[test]
    fn a_scope_sentence_loses_to_the_one_with_the_answer() {
        let text = "This policy sets out the payment terms for trade account holders. \
                    Trade accounts pay on net 14 terms: payment is due within 14 days. \
                    Our office is in Utrecht. Cards are accepted. Wire transfers take a day. Cheques are not accepted.";
        let picked = pick(text, "What are the payment terms for trade accounts?");
        assert!(picked.contains("net 14"), "{picked}");
        // One sentence beyond the answer is not quoted just to fill the reply.
        assert!(!picked.contains("Utrecht"), "{picked}");
    }

    #[test]
    fn a_lower_ranked_chunk_with_the_answer_is_quoted() {
        let hits = vec![
            hit("Returns", "Returns › Restocking fee", "A change-of-mind return carries a restocking fee of 10% of the invoiced value."),
            hit("Returns", "Returns › Return window", "You can return most products within 30 calendar days of delivery."),
        ];
        let (chosen, text) = best_passage(&hits, "How many days do I have to return something?").expect("a passage");
        assert_eq!(chosen.chunk.heading_path, "Returns › Return window");
        assert!(text.contains("30 calendar days"), "{text}");
        // Without a clear winner retrieval's order stands.
        let (chosen, _) = best_passage(&hits, "Tell me about returns").expect("a passage");
        assert_eq!(chosen.chunk.heading_path, "Returns › Restocking fee");
        assert!(best_passage(&[], "anything").is_none());
    }

    #[test]
    fn a_cross_reference_to_the_asked_policy_does_not_answer_it() {
        let hits = vec![
            hit("Returns and Refunds", "Returns and Refunds", "You can return most products within 30 calendar days of delivery."),
            hit(
                "Warranty",
                "Warranty",
                "This policy describes our warranty. Unwanted items in new condition are covered by our Returns and Refunds policy instead.",
            ),
        ];
        let (chosen, text) = best_passage(&hits, "What is your returns policy?").expect("a passage");
        assert_eq!(chosen.chunk.title, "Returns and Refunds", "{text}");
        // A question about the warranty itself, which retrieval ranks first, still gets it.
        let reversed = [hits[1].clone(), hits[0].clone()];
        let (chosen, _) = best_passage(&reversed, "What is your warranty policy?").expect("a passage");
        assert_eq!(chosen.chunk.title, "Warranty");
    }

    #[test]
    fn billing_questions_are_answered_from_the_policies() {
        let tenant = TenantContext {
            id: tria_core::TenantId::new_random(),
            slug: "acme".into(),
            name: "Acme".into(),
            tone: tria_core::ToneProfile::default(),
            settings: serde_json::json!({}),
        };
        let hits = vec![hit("Payment Terms", "Payment Terms › Late payment", "A late fee of 1.5% per month applies to overdue invoices.")];
        let reply = compose(&tenant, IntentLabel::Billing, "Is there a late fee?", &hits, Language::English);
        assert!(reply.contains("1.5%"), "{reply}");
        let reply = compose(&tenant, IntentLabel::OrderStatus, "where is my order", &[], Language::English);
        assert!(reply.contains("ORD-") && !reply.contains("not enabled"), "{reply}");
    }
}
