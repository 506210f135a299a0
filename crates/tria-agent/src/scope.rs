//! A second look at messages the classifier found no evidence for. Keyword rules only know the
//! words someone wrote down ("shipping", "refund"); a tenant's policies know far more of their own
//! vocabulary ("dispatch cut-off", "VAT rate"). A message with no intent evidence whose content
//! words a single policy section covers almost entirely is a policy question, not out of scope.

use std::collections::HashSet;

use tria_core::IntentLabel;
use tria_intent::Classification;
use tria_rag::TenantIndex;
use tria_rag::bm25::analyze;

use crate::routing::TOP_K;

/// Below this confidence an out-of-scope verdict had no real evidence (the rules give 0.3 when
/// no cue matched; a matched out-of-scope cue such as "joke" or "weather" scores higher).
const WEAK_VERDICT: f32 = 0.5;
/// Share of the message's distinct content terms one section must contain.
const MIN_COVERAGE: f32 = 0.6;
/// And at least this many of them, so "hi there" or a one-word message is never rescued.
const MIN_SHARED: usize = 2;

/// Whether an out-of-scope verdict is weak enough to check against the policies.
pub(crate) fn worth_a_second_look(classification: &Classification) -> bool {
    classification.label == IntentLabel::OutOfScope && classification.confidence < WEAK_VERDICT
}

/// Whether one of the tenant's policy sections (the BM25 hits a reply could cite) covers the message's
/// content words.
pub(crate) fn policies_cover(index: &TenantIndex, message: &str) -> bool {
    covered(index, message, MIN_SHARED, MIN_COVERAGE)
}

/// Share of a foreign message's topic words one section must contain: the words are a topic's
/// synonyms ("VAT tax"), of which a section usually has one.
const MIN_TOPIC_COVERAGE: f32 = 0.34;

/// Whether one section covers the English words of the policy topics a message in another
/// language names (`tria_rag::cross_lingual::topic_words`): the words come from a message long
/// enough to tell its language, and each names a policy topic, so one is enough ("Que couvre la
/// garantie ?" → "warranty covers cover").
pub(crate) fn topics_covered(index: &TenantIndex, topic_words: &str) -> bool {
    covered(index, topic_words, 1, MIN_TOPIC_COVERAGE)
}

fn covered(index: &TenantIndex, message: &str, min_shared: usize, min_coverage: f32) -> bool {
    let terms: HashSet<String> = analyze(message).into_iter().collect();
    if terms.len() < min_shared || terms.is_empty() {
        return false;
    }
    index.search(message, TOP_K).iter().any(|hit| {
        let section: HashSet<String> = analyze(&format!("{} {}", hit.chunk.heading_path, hit.chunk.text)).into_iter().collect();
        let shared = terms.iter().filter(|t| section.contains(*t)).count();
        #[allow(clippy::cast_precision_loss)] // a handful of terms
        let coverage = shared as f32 / terms.len() as f32;
        shared >= min_shared && coverage >= min_coverage
    })
}

#[cfg(test)]
mod tests {
    use tria_rag::IndexedChunk;

    use super::*;

    fn index() -> TenantIndex {
        let chunk = |heading: &str, text: &str| IndexedChunk {
            id: uuid::Uuid::new_v4(),
            title: "Shipping".into(),
            source_path: "shipping.md".into(),
            heading_path: heading.into(),
            text: text.into(),
        };
        TenantIndex::from_chunks(vec![
            chunk(
                "Shipping › Dispatch cut-off times",
                "Orders confirmed by 14:00 on a business day are dispatched the same day. Later orders ship the next business day.",
            ),
            chunk("Payment › VAT", "Dutch customers pay 21% VAT. Customers in other EU countries with a VAT number pay no VAT."),
        ])
    }

    #[test]
    fn a_question_in_the_policies_own_words_is_covered() {
        let index = index();
        assert!(policies_cover(&index, "What is the order cut-off time for same-day dispatch?"));
        assert!(policies_cover(&index, "What VAT rate do Dutch customers pay?"));
    }

    #[test]
    fn unrelated_or_barely_related_messages_are_not() {
        let index = index();
        for message in ["Tell me a joke", "What is the capital of France?", "hi", "Write me a poem about the day I was born", "dispatch"] {
            assert!(!policies_cover(&index, message), "{message}");
        }
        assert!(!policies_cover(&TenantIndex::from_chunks(vec![]), "What is the order cut-off time?"));
    }

    #[test]
    fn one_topic_word_of_a_message_in_another_language_is_enough_when_a_section_has_it() {
        let index = index();
        // "Quel taux de TVA ?" names one topic: VAT.
        assert!(topics_covered(&index, "VAT tax"));
        assert!(topics_covered(&index, "dispatch"));
        // A topic the policies do not have, or none at all, is not covered.
        assert!(!topics_covered(&index, "warranty"));
        assert!(!topics_covered(&index, ""));
        // The English rule still wants two shared words.
        assert!(!policies_cover(&index, "dispatch"));
    }
}
