//! Hashed lexical features of a message: words, word pairs and character trigrams, folded into a
//! fixed number of buckets. They give the linear head what a sentence embedding blurs — the verb
//! ("send", "cancel", "where") next to a product noun — and character trigrams survive typos and
//! carry Spanish/French/German stems the English-first embedding model maps poorly.

/// Number of hash buckets (a power of two). Collisions are rare at a few thousand distinct
/// features and harmless to a regularised linear model.
pub const BUCKETS: usize = 1 << 14;

/// FNV-1a: stable across platforms and releases, unlike `std`'s randomly seeded hasher.
fn fnv1a(kind: u8, parts: &[&str]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut eat = |byte: u8| {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    };
    eat(kind);
    for part in parts {
        for &byte in part.as_bytes() {
            eat(byte);
        }
        eat(0xff);
    }
    hash
}

/// Lowercased words: runs of letters and digits, with digits collapsed to `0` so quantities and
/// order numbers read as one feature each.
fn words(message: &str) -> Vec<String> {
    let lower = message.to_lowercase().replace('’', "'");
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect())
        .collect()
}

/// How many times a concept feature counts against one word, word pair or trigram: a concept
/// stands for a word in four languages, so it should outweigh any single spelling of it.
/// Chosen on the k-fold figure.
pub const CONCEPT_WEIGHT: f32 = 2.0;

/// Sparse features `(bucket, value)`, sorted by bucket with duplicates summed, L2-normalised.
pub fn lexical_features(message: &str) -> Vec<(u32, f32)> {
    features(message, &[], 0.0)
}

/// [`lexical_features`] plus the message's [`concepts`](crate::concepts::concepts), each
/// weighted [`CONCEPT_WEIGHT`]: what the intent model reads.
pub fn intent_features(message: &str) -> Vec<(u32, f32)> {
    features(message, &crate::concepts::concepts(message), CONCEPT_WEIGHT)
}

fn features(message: &str, concepts: &[&str], concept_weight: f32) -> Vec<(u32, f32)> {
    let words = words(message);
    let mut buckets: Vec<u32> = Vec::with_capacity(words.len() * 8);
    for (i, word) in words.iter().enumerate() {
        buckets.push(fnv1a(b'w', &[word]));
        if let Some(next) = words.get(i + 1) {
            buckets.push(fnv1a(b'b', &[word, next]));
        }
        let padded: Vec<char> = std::iter::once('<').chain(word.chars()).chain(std::iter::once('>')).collect();
        if padded.len() > 3 {
            for window in padded.windows(3) {
                let trigram: String = window.iter().collect();
                buckets.push(fnv1a(b'c', &[&trigram]));
            }
        }
    }
    let mask = (BUCKETS - 1) as u32;
    let mut features: Vec<(u32, f32)> = Vec::with_capacity(buckets.len() + concepts.len());
    let mut sorted: Vec<(u32, f32)> = buckets.into_iter().map(|b| (b & mask, 1.0)).collect();
    sorted.extend(concepts.iter().map(|c| (fnv1a(b'k', &[c]) & mask, concept_weight)));
    sorted.sort_unstable_by_key(|(bucket, _)| *bucket);
    for (bucket, weight) in sorted {
        match features.last_mut() {
            Some((last, value)) if *last == bucket => *value += weight,
            _ => features.push((bucket, weight)),
        }
    }
    let norm = features.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in &mut features {
            *v /= norm;
        }
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_deterministic_normalised_and_in_range() {
        let a = lexical_features("Cancel ORD-10011, please!");
        assert_eq!(a, lexical_features("cancel ord-10011 please"));
        assert!(a.iter().all(|(b, _)| (*b as usize) < BUCKETS));
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        let norm: f32 = a.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(lexical_features("").is_empty());
        assert!(lexical_features("!!! ???").is_empty());
    }

    #[test]
    fn intent_features_add_shared_concepts_to_the_lexical_ones() {
        let plain = lexical_features("annulez ma commande");
        let with_concepts = intent_features("annulez ma commande");
        assert!(with_concepts.len() > plain.len());
        let norm: f32 = with_concepts.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        // "cancel" and "annulez" share the change concept's bucket.
        let bucket = fnv1a(b'k', &["change"]) & (BUCKETS as u32 - 1);
        for message in ["cancel it", "annulez ma commande"] {
            assert!(intent_features(message).iter().any(|(b, _)| *b == bucket), "{message}");
        }
    }

    #[test]
    fn digits_collapse_so_numbers_share_a_feature() {
        assert_eq!(lexical_features("send 5 cases"), lexical_features("send 7 cases"));
        assert_ne!(lexical_features("send 5 cases"), lexical_features("cancel 5 cases"));
    }
}
