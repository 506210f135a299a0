//! A small in-memory BM25 index. Policy corpora are tens to thousands of chunks per tenant, so a
//! hand-written inverted index (a few hundred lines less than a search engine) answers in
//! microseconds without a second storage format to keep in sync.

use std::collections::HashMap;

const K1: f32 = 1.2;
const B: f32 = 0.75;

const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "if", "in", "is", "it", "me",
    "my", "of", "on", "or", "our", "please", "so", "that", "the", "this", "to", "us", "was", "we", "what", "when", "where", "which", "who",
    "will", "with", "you", "your",
];

/// Question scaffolding: "how many days do I have to …" says what kind of answer is wanted, not
/// what it is about ("many" matched "too many cases" in the wrong section).
const QUESTION_WORDS: &[&str] =
    &["many", "much", "have", "has", "had", "there", "any", "some", "something", "anything", "would", "could", "should", "tell", "know"];

/// Lowercased word stems with stopwords removed. The stemmer only folds common English
/// suffixes: enough for "returns"/"returned"/"returning" to meet.
pub fn analyze(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && !QUESTION_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn stem(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_digit()) || word.chars().count() <= 3 {
        return word.to_owned();
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

/// An inverted index over documents numbered `0..len`.
#[derive(Clone, Debug, Default)]
pub struct Bm25Index {
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_lengths: Vec<u32>,
    average_length: f32,
    /// `K1 · (1 − B + B · len / avg)` per document, so scoring a posting is one division.
    length_norms: Vec<f32>,
}

impl Bm25Index {
    pub fn build<'a>(documents: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = Bm25Index::default();
        for (doc_id, text) in documents.into_iter().enumerate() {
            let terms = analyze(text);
            let doc_id = u32::try_from(doc_id).unwrap_or(u32::MAX);
            index.doc_lengths.push(u32::try_from(terms.len()).unwrap_or(u32::MAX));
            let mut counts: HashMap<String, u32> = HashMap::new();
            for term in terms {
                *counts.entry(term).or_default() += 1;
            }
            for (term, tf) in counts {
                index.postings.entry(term).or_default().push((doc_id, tf));
            }
        }
        let total: u64 = index.doc_lengths.iter().map(|&l| u64::from(l)).sum();
        index.average_length = if index.doc_lengths.is_empty() { 0.0 } else { total as f32 / index.doc_lengths.len() as f32 };
        let average = index.average_length.max(1.0);
        index.length_norms = index.doc_lengths.iter().map(|&len| K1 * (1.0 - B + B * len as f32 / average)).collect();
        index
    }

    pub fn len(&self) -> usize {
        self.doc_lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_lengths.is_empty()
    }

    /// The best `k` documents for `query`, highest score first; documents sharing no term with
    /// the query are not returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let n = self.doc_lengths.len() as f32;
        // A dense score per document plus the list of documents touched: at 100k documents a
        // common term has tens of thousands of postings, and hashing each one cost more than
        // the scoring itself.
        let mut scores = vec![0.0f32; self.doc_lengths.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut terms = analyze(query);
        terms.sort();
        terms.dedup();
        for term in terms {
            let Some(postings) = self.postings.get(&term) else { continue };
            let df = postings.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in postings {
                let tf = tf as f32;
                let score = &mut scores[doc as usize];
                if *score == 0.0 {
                    touched.push(doc);
                }
                // Always > 0 (idf > 0, tf ≥ 1), so 0.0 above means "not seen yet".
                *score += idf * (tf * (K1 + 1.0) / (tf + self.length_norms[doc as usize]));
            }
        }
        let mut ranked: Vec<(usize, f32)> = touched.iter().map(|&d| (d as usize, scores[d as usize])).collect();
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > k {
            ranked.select_nth_unstable_by(k - 1, order);
            ranked.truncate(k);
        }
        ranked.sort_by(order);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_the_document_that_shares_rare_terms_first() {
        let docs = [
            "Returns are accepted within 30 days of delivery.",
            "Shipping is free on orders over 250 dollars.",
            "Warranty covers manufacturing defects for one year.",
        ];
        let index = Bm25Index::build(docs);
        let hits = index.search("how many days do I have to return something?", 3);
        assert_eq!(hits.first().map(|h| h.0), Some(0), "{hits:?}");
        assert_eq!(index.search("free shipping", 1)[0].0, 1);
        assert!(index.search("zebra", 3).is_empty());
        assert!(Bm25Index::build([]).search("anything", 3).is_empty());
    }

    /// The pre-dense-buffer scoring (a map per query), kept as the reference ranking.
    fn reference_search(index: &Bm25Index, query: &str, k: usize) -> Vec<(usize, f32)> {
        let n = index.doc_lengths.len() as f32;
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let mut terms = analyze(query);
        terms.sort();
        terms.dedup();
        for term in terms {
            let Some(postings) = index.postings.get(&term) else { continue };
            let df = postings.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in postings {
                let len = index.doc_lengths[doc as usize] as f32;
                let tf = tf as f32;
                let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / index.average_length.max(1.0)));
                *scores.entry(doc).or_default() += idf * norm;
            }
        }
        let mut ranked: Vec<(usize, f32)> = scores.into_iter().map(|(d, s)| (d as usize, s)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }

    #[test]
    fn dense_scoring_ranks_exactly_as_the_map_did() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tenants/northwind/policies");
        let mut paragraphs = Vec::new();
        for entry in std::fs::read_dir(dir).expect("policies") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
            paragraphs.extend(text.split("\n\n").map(str::to_owned));
        }
        // Duplicates make ties, which must break by document order in both.
        paragraphs.extend(paragraphs.clone().into_iter().take(10));
        let index = Bm25Index::build(paragraphs.iter().map(String::as_str));
        let mut queries: Vec<String> = paragraphs.iter().map(|p| p.split_whitespace().take(6).collect::<Vec<_>>().join(" ")).collect();
        queries.extend(["return policy", "shipping damaged box", "zebra", ""].map(str::to_owned));
        for query in &queries {
            for k in [1, 5, 30] {
                assert_eq!(index.search(query, k), reference_search(&index, query, k), "{query:?} k={k}");
            }
        }
    }

    #[test]
    fn analysis_folds_case_suffixes_and_stopwords() {
        assert_eq!(analyze("The Returns were RETURNED"), ["return", "were", "return"]);
        assert_eq!(analyze("net-30 invoicing"), ["net", "30", "invoic"]);
        // Question scaffolding leaves only what the question is about.
        assert_eq!(analyze("How many days do I have to return something?"), ["day", "return"]);
    }
}
