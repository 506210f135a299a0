//! Answer evidence: the sentences of a tenant's policies and the products of its catalogue, each
//! embedded on its own, so a message can be described by *which passages would answer it*.
//!
//! The semantic cache (L3) compares two messages by the evidence they select as well as by their
//! own similarity: paraphrases of one question pick the same sentences ("How many days do I have
//! to return something?" and "What's your return window?" both land on "You can return most
//! products within 30 calendar days…"), while different questions on one topic pick different
//! ones ("How long do refunds take to process?" lands on the refund-timing sentence). Measured in
//! docs/QUALITY.md ("Semantic cache (L3) calibration").

use std::collections::HashMap;

use crate::RagError;
use crate::embed::Embedder;
use crate::index::IndexedChunk;
use crate::products::ProductDoc;

/// How many passages [`EvidenceIndex::nearest`] keeps per message (the profile's length).
pub const EVIDENCE_TOP: usize = 32;

/// One embedded passage: a policy sentence (with its section heading for context) or a product.
#[derive(Clone, Debug)]
struct Passage {
    /// Stable across processes and restarts: a hash of the text that was embedded.
    id: String,
}

/// A tenant's passages with unit vectors, searched exactly (a few hundred rows).
#[derive(Clone, Debug, Default)]
pub struct EvidenceIndex {
    passages: Vec<Passage>,
    dim: usize,
    vectors: Vec<f32>,
}

/// The texts that become passages: every sentence of at least three words of every chunk,
/// prefixed with its heading path, then every product's SKU, name and description.
pub fn passage_texts(chunks: &[IndexedChunk], products: &[ProductDoc]) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in chunks {
        for line in chunk.text.lines() {
            let line = line.trim().trim_start_matches(['-', '*', ' ']).trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for sentence in line.split_inclusive(['.', '?', '!']).map(str::trim).filter(|s| s.split_whitespace().count() >= 3) {
                out.push(format!("{}: {}", chunk.heading_path, sentence));
            }
        }
    }
    out.extend(products.iter().map(|p| format!("{} {} {}", p.sku, p.name, p.description)));
    out
}

/// FNV-1a, 64 bits, as hex: a short id that is the same in every process.
fn passage_id(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

fn unit(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm.is_finite() && norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
}

impl EvidenceIndex {
    /// Embeds every passage of the chunks and products (blocking: a few hundred model calls,
    /// about a second on a laptop core; build it off the async reactor and keep it with the index).
    pub fn build(chunks: &[IndexedChunk], products: &[ProductDoc], embedder: &dyn Embedder) -> Result<Self, RagError> {
        let texts = passage_texts(chunks, products);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = if refs.is_empty() { Vec::new() } else { embedder.embed_batch(&refs)? };
        Ok(Self::from_vectors(&texts, &vectors))
    }

    /// An index over already embedded passages (`vectors[i]` is the embedding of `texts[i]`);
    /// rows of another dimension than the first, or of zero length, are skipped.
    pub fn from_vectors(texts: &[String], vectors: &[Vec<f32>]) -> Self {
        let mut index = Self::default();
        for (text, vector) in texts.iter().zip(vectors) {
            let Some(u) = unit(vector) else { continue };
            if index.passages.is_empty() {
                index.dim = u.len();
            } else if u.len() != index.dim {
                continue;
            }
            index.vectors.extend_from_slice(&u);
            index.passages.push(Passage { id: passage_id(text) });
        }
        index
    }

    /// An index over `texts` that takes the vectors of the passages `previous` already holds
    /// (same text, same id) and embeds only the others with `embed`. After one document is
    /// added to a tenant of a thousand, only its sentences are embedded, not the thousand's.
    pub fn rebuild<E>(previous: &Self, texts: &[String], embed: impl FnOnce(&[&str]) -> Result<Vec<Vec<f32>>, E>) -> Result<Self, E> {
        let known: HashMap<&str, usize> = previous.passages.iter().enumerate().map(|(row, p)| (p.id.as_str(), row)).collect();
        let reused: Vec<Option<&[f32]>> = texts
            .iter()
            .map(|text| {
                let row = *known.get(passage_id(text).as_str())?;
                previous.vectors.get(row * previous.dim..(row + 1) * previous.dim)
            })
            .collect();
        let missing: Vec<&str> = texts.iter().zip(&reused).filter(|(_, v)| v.is_none()).map(|(t, _)| t.as_str()).collect();
        let mut fresh = if missing.is_empty() { Vec::new() } else { embed(&missing)? }.into_iter();
        let vectors: Vec<Vec<f32>> =
            reused.into_iter().map(|v| v.map_or_else(|| fresh.next().unwrap_or_default(), <[f32]>::to_vec)).collect();
        Ok(Self::from_vectors(texts, &vectors))
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// The [`EVIDENCE_TOP`] passages most similar to `query` (the message's embedding), best
    /// first, with their cosine. Empty for an empty index or a vector of another dimension.
    pub fn nearest(&self, query: &[f32]) -> Vec<(String, f32)> {
        let Some(q) = unit(query) else { return Vec::new() };
        if q.len() != self.dim || self.passages.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(f32, usize)> =
            self.vectors.chunks_exact(self.dim).enumerate().map(|(i, v)| (v.iter().zip(&q).map(|(a, b)| a * b).sum(), i)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(EVIDENCE_TOP);
        scored.into_iter().map(|(s, i)| (self.passages[i].id.clone(), s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn chunk(heading: &str, text: &str) -> IndexedChunk {
        IndexedChunk {
            id: Uuid::new_v4(),
            title: "Returns".into(),
            source_path: "returns.md".into(),
            heading_path: heading.into(),
            text: text.into(),
        }
    }

    /// A made-up embedding: the text's length and its count of `a`s, so equal texts get equal
    /// vectors and the test can tell which texts were embedded.
    fn embed_counting(embedded: &mut Vec<String>, texts: &[&str]) -> Result<Vec<Vec<f32>>, RagError> {
        embedded.extend(texts.iter().map(|t| (*t).to_owned()));
        Ok(texts.iter().map(|t| vec![t.len() as f32, t.matches('a').count() as f32 + 1.0]).collect())
    }

    #[test]
    fn a_rebuild_embeds_only_new_passages_and_matches_a_full_build() {
        let before = [chunk("Returns", "Returns are accepted within 30 days. Refunds take five business days.")];
        let after = [before[0].clone(), chunk("Warranty", "Every lamp carries a two year warranty.")];
        let mut embedded = Vec::new();
        let old = EvidenceIndex::from_vectors(
            &passage_texts(&before, &[]),
            &embed_counting(&mut embedded, &passage_texts(&before, &[]).iter().map(String::as_str).collect::<Vec<_>>()).expect("embeds"),
        );
        embedded.clear();
        let texts = passage_texts(&after, &[]);
        let rebuilt = EvidenceIndex::rebuild(&old, &texts, |t| embed_counting(&mut embedded, t)).expect("rebuilds");
        assert_eq!(embedded, ["Warranty: Every lamp carries a two year warranty."], "only the new sentence is embedded");
        let full = EvidenceIndex::from_vectors(
            &texts,
            &embed_counting(&mut Vec::new(), &texts.iter().map(String::as_str).collect::<Vec<_>>()).expect("embeds"),
        );
        assert_eq!(rebuilt.len(), 3);
        let (a, b) = (rebuilt.nearest(&[40.0, 3.0]), full.nearest(&[40.0, 3.0]));
        assert_eq!(
            a.iter().map(|p| &p.0).collect::<Vec<_>>(),
            b.iter().map(|p| &p.0).collect::<Vec<_>>(),
            "the same passages as a full build"
        );
        assert!(a.iter().zip(&b).all(|(x, y)| (x.1 - y.1).abs() < 1e-5), "{a:?} vs {b:?}");
        // A removed passage is gone; nothing new to embed.
        embedded.clear();
        let shrunk =
            EvidenceIndex::rebuild(&rebuilt, &passage_texts(&before, &[]), |t| embed_counting(&mut embedded, t)).expect("rebuilds");
        assert!(embedded.is_empty(), "{embedded:?}");
        assert_eq!(shrunk.len(), 2);
    }

    #[test]
    fn passages_are_sentences_with_their_heading_and_products() {
        let chunks = [chunk("Returns > Window", "## Window\nYou can return items within 30 days. Ok.\n- Opened food is final sale.")];
        let product = ProductDoc {
            id: Uuid::new_v4(),
            sku: "NW-1".into(),
            name: "Cup".into(),
            description: "A cup.".into(),
            unit: "case".into(),
            unit_price_minor: 1,
            currency: "USD".into(),
            stock: 1,
            active: true,
        };
        let texts = passage_texts(&chunks, &[product]);
        assert_eq!(
            texts,
            ["Returns > Window: You can return items within 30 days.", "Returns > Window: Opened food is final sale.", "NW-1 Cup A cup."]
        );
    }

    #[test]
    fn nearest_ranks_by_cosine_with_stable_ids() {
        let texts: Vec<String> = ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect();
        let vectors = vec![vec![1.0, 0.0], vec![0.0, 2.0], vec![1.0, 1.0]];
        let index = EvidenceIndex::from_vectors(&texts, &vectors);
        let found = index.nearest(&[0.0, 1.0]);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].0, passage_id("b"));
        assert!((found[0].1 - 1.0).abs() < 1e-6);
        assert_eq!(found[2].0, passage_id("a"));
        assert_eq!(EvidenceIndex::from_vectors(&texts, &vectors).nearest(&[0.0, 1.0]), found, "ids do not depend on the process");
        assert!(index.nearest(&[1.0, 0.0, 0.0]).is_empty(), "another dimension finds nothing");
        assert!(index.nearest(&[0.0, 0.0]).is_empty());
    }
}
