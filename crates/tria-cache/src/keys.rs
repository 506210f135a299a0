//! Key layout and text normalisation. Keys read `{prefix}:{tenant}:{level}:{version}:{hash}`;
//! the version segment carries the envelope format and the tenant's generation
//! (`v1g0`), so bumping a generation retires every key of a tenant in O(1).

use sha2::{Digest, Sha256};
use tria_core::TenantId;

use crate::ENVELOPE_VERSION;

/// Lower case, typographic quotes folded, whitespace collapsed, trailing punctuation and
/// polite filler dropped: the spellings of one question that must share an exact key.
pub fn normalize(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut space = false;
    for c in message.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            c => c,
        };
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    // Cut in place, without allocating: this runs on every exact lookup.
    let mut end = out.trim_end_matches(['?', '!', '.', ',', ';', ':', ' ']).len();
    let mut start = 0;
    for filler in ["please", "thanks", "thank you", "pls"] {
        if let Some(rest) = out[start..end].strip_prefix(filler).and_then(|r| r.strip_prefix(' ')) {
            start = end - rest.len();
        }
        if let Some(rest) = out[start..end].strip_suffix(filler).and_then(|r| r.strip_suffix(' ')) {
            end = start + rest.trim_end_matches([',', ' ']).len();
        }
    }
    out.truncate(end);
    out.drain(..start);
    out
}

/// Openers and politeness that say nothing about the question, longest first so "thank you"
/// goes before "thank". Matched on whole words only.
const FILLER_PHRASES: &[&str] = &[
    "i was wondering if you could tell me",
    "i was wondering if",
    "i was wondering",
    "just wondering",
    "could you please tell me",
    "can you please tell me",
    "could you tell me",
    "can you tell me",
    "could you let me know",
    "can you let me know",
    "please let me know",
    "let me know",
    "i would like to know",
    "i'd like to know",
    "i want to know",
    "i need to know",
    "do you know",
    "quick question",
    "one more question",
    "good morning",
    "good afternoon",
    "good evening",
    "hi there",
    "hello there",
    "hey there",
    "thank you so much",
    "thank you",
    "thanks a lot",
    "many thanks",
    "thanks",
    "cheers",
    "please",
    "pls",
    "kindly",
    "hi",
    "hello",
    "hey",
    "ok so",
    "um",
    "uh",
];

/// The text L3 embeds: lower case, punctuation gone (inside codes like `NW-ESP-1KG` and
/// `don't` it stays), openers and politeness dropped. Two phrasings of one question differ
/// mostly in such words, and the embedding model weighs them as much as the content. Entities
/// and guards read the original message, never this.
pub fn semantic_text(message: &str) -> String {
    let lowered = message.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| c.is_whitespace() || matches!(c, '?' | '!' | ',' | ';' | ':' | '(' | ')' | '"'))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let mut kept: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    'words: while i < words.len() {
        for phrase in FILLER_PHRASES {
            let n = phrase.split(' ').count();
            if i + n <= words.len() && words[i..i + n].iter().copied().eq(phrase.split(' ')) {
                i += n;
                continue 'words;
            }
        }
        kept.push(words[i]);
        i += 1;
    }
    if kept.is_empty() {
        // All filler ("hi, thanks!"): the words are the message.
        return words.join(" ");
    }
    kept.join(" ")
}

/// A 128-bit hex digest of the parts, unambiguous about where each part ends.
pub fn digest<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// The version segment for a tenant generation.
pub fn version(generation: u64) -> String {
    format!("v{ENVELOPE_VERSION}g{generation}")
}

/// `{prefix}:{tenant}:{level}:{version}:{hash}`.
pub fn key(prefix: &str, tenant: TenantId, level: &str, generation: u64, hash: &str) -> String {
    format!("{prefix}:{tenant}:{level}:{}:{hash}", version(generation))
}

/// Where a tenant's generation counter lives.
pub fn generation_key(prefix: &str, tenant: TenantId) -> String {
    format!("{prefix}:{tenant}:gen")
}

/// Every key of a tenant at one level, any generation (for `SCAN MATCH`).
pub fn level_pattern(prefix: &str, tenant: TenantId, level: &str) -> String {
    format!("{prefix}:{tenant}:{level}:*")
}

/// A glob matching every cache entry key (`{prefix}:{tenant uuid}:l2|l3|l4-…:…`) and nothing
/// else: not the tenants' generation counters, not the rate-limit and budget keys that share
/// the prefix (`{prefix}:rl:…`, `{prefix}:budget:…`), not other applications' keys. A
/// caller-supplied invalidation pattern is applied inside it.
pub fn entry_scope(prefix: &str) -> String {
    format!("{}:????????-????-????-????-????????????:l[234]*", crate::backend::glob_escape(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_question_normalise_alike() {
        let a = normalize("  What is your RETURN   policy?? ");
        assert_eq!(a, "what is your return policy");
        assert_eq!(normalize("what is your return policy, please?"), a);
        assert_eq!(normalize("What\u{2019}s up"), "what's up");
        assert_ne!(normalize("where is ORD-1"), normalize("where is ORD-2"));
    }

    #[test]
    fn semantic_text_keeps_content_and_drops_politeness() {
        assert_eq!(semantic_text("Hi! Could you tell me how long returns take, please?"), "how long returns take");
        assert_eq!(semantic_text("What's the price of NW-ESP-1KG?"), "what's the price of nw-esp-1kg");
        assert_eq!(semantic_text("Thanks!"), "thanks");
        assert_eq!(semantic_text("Is the so-called 'house blend' decaf?"), "is the so-called house blend decaf");
    }

    #[test]
    fn the_entry_scope_matches_cache_entries_and_nothing_else_under_the_prefix() {
        use crate::backend::glob_match;
        let tenant = TenantId::new_random();
        let scope = entry_scope("tria");
        for level in ["l2", "l3", "l4-intent", "l4-retrieval", "l4-embedding"] {
            let key = key("tria", tenant, level, 3, &digest(["q"]));
            assert!(glob_match(&scope, &key), "{key}");
        }
        for other in [
            generation_key("tria", tenant),
            format!("tria:rl:{tenant}"),
            format!("tria:rl:{tenant}:c:0123abcd"),
            format!("tria:budget:{{{tenant}}}:h:2026120606"),
            format!("other-app:{tenant}:l2:x"),
            "tria:session:l2".to_owned(),
            format!("triax:{tenant}:l2:v1g0:abc"),
        ] {
            assert!(!glob_match(&scope, &other), "{other}");
        }
        // A prefix holding glob characters matches only itself.
        assert!(!glob_match(&entry_scope("t*"), &key("tria", tenant, "l2", 0, "h")));
        assert!(glob_match(&entry_scope("t*"), &key("t*", tenant, "l2", 0, "h")));
    }

    #[test]
    fn digests_separate_parts() {
        assert_ne!(digest(["ab", "c"]), digest(["a", "bc"]));
        assert_eq!(digest(["x"]).len(), 32);
    }
}
