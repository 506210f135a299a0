//! The L3 index: per (tenant, intent) partitions searched by cosine similarity.
//!
//! Flat, not HNSW: partitions are small (one tenant, one intent), inserts and deletes are
//! constant time, results are exact above the threshold, and there is no graph to rebuild after
//! an invalidation. Partitions above [`EXACT_SCAN_LIMIT`] entries are scanned first on one sign
//! bit per dimension (Hamming distance, 48 bytes per 384-d vector, so 100k entries fit in cache)
//! and the nearest [`RERANK`] are re-scored exactly.
//!
//! A match needs the cosine threshold, or a lower one when both messages select the same
//! answer evidence (policy sentences, products; see [`MatchRule`]), plus the entity and
//! same-wording guards.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tria_core::{Answer, IntentLabel, TenantId};

use crate::guard::{entities_compatible, same_wording_other_slot};

/// Partitions up to this size are scanned exactly.
pub(crate) const EXACT_SCAN_LIMIT: usize = 4096;
/// Candidates re-scored exactly after the bit scan.
pub(crate) const RERANK: usize = 64;

/// The passages (policy sentences, products) nearest to a message, best first, each with its
/// cosine to the message (`tria_rag::EvidenceIndex::nearest`). Ids are stable across processes.
pub type Evidence = [(String, f32)];

/// Softmax temperature that turns an [`Evidence`] list into weights: a passage 0.08 below the
/// best counts e⁻¹ as much. Chosen with `cargo xtask eval cache` on the tuning half (0.03–0.15
/// tried; docs/QUALITY.md).
pub const EVIDENCE_TEMPERATURE: f32 = 0.08;

/// When two messages may share an answer: their cosine reaches `threshold`, or it reaches the
/// lower `evidence_threshold` and they select the same evidence (see [`evidence_agreement`]) to
/// at least `evidence_agreement`. Paraphrases of one question select the same policy sentences
/// or products even when the embedding scores the two phrasings far apart; different questions
/// on one topic select different ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchRule {
    pub threshold: f32,
    pub evidence_threshold: f32,
    pub evidence_agreement: f32,
}

impl MatchRule {
    /// Cosine alone, no evidence signal.
    pub fn cosine(threshold: f32) -> Self {
        Self { threshold, evidence_threshold: threshold, evidence_agreement: f32::INFINITY }
    }

    fn lowest(&self) -> f32 {
        self.threshold.min(self.evidence_threshold)
    }

    /// Whether a candidate at `similarity` whose evidence agrees to `agreement()` matches. The
    /// agreement is computed only when the cosine alone is not enough.
    pub fn accepts(&self, similarity: f32, agreement: impl FnOnce() -> f32) -> bool {
        similarity >= self.threshold || (similarity >= self.evidence_threshold && agreement() >= self.evidence_agreement)
    }
}

fn evidence_weights(e: &Evidence) -> Vec<(&str, f32)> {
    let best = e.iter().map(|(_, s)| *s).fold(f32::NEG_INFINITY, f32::max);
    e.iter().map(|(id, s)| (id.as_str(), ((s - best) / EVIDENCE_TEMPERATURE).exp())).collect()
}

/// How much two messages select the same evidence, in [0, 1]: the cosine between their softmax
/// weights over passages ([`EVIDENCE_TEMPERATURE`]). 1 when both put their weight on the same
/// passages in the same proportions, 0 when they share none. An empty list agrees with nothing.
pub fn evidence_agreement(a: &Evidence, b: &Evidence) -> f32 {
    let (wa, wb) = (evidence_weights(a), evidence_weights(b));
    let norm = |w: &[(&str, f32)]| w.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(&wa), norm(&wb));
    if !(na > 0.0 && nb > 0.0) {
        return 0.0;
    }
    let shared: f32 = wa.iter().filter_map(|(id, x)| wb.iter().find(|(other, _)| other == id).map(|(_, y)| x * y)).sum();
    (shared / (na * nb)).clamp(0.0, 1.0)
}

/// What a lookup compares a stored entry with.
#[derive(Clone, Copy, Debug)]
pub struct SemanticQuery<'a> {
    pub vector: &'a [f32],
    /// The message as the customer wrote it (the near-miss guard reads it).
    pub message: &'a str,
    /// From [`crate::guard::entity_signature`].
    pub entities: &'a [String],
    /// The passages nearest to the message, best first (may be empty: then only the plain
    /// threshold can match).
    pub evidence: &'a Evidence,
}

/// A semantic match that passed the threshold and the entity guard.
#[derive(Clone, Debug)]
pub struct SemanticHit {
    pub answer: Arc<Answer>,
    pub similarity: f32,
    /// The stored entry's id (the hash part of its key).
    pub id: String,
    /// What the answer was computed from ([`crate::AnswerBasis::current`] when stored; 0: unknown).
    pub basis: u64,
}

struct Meta {
    id: String,
    text: String,
    entities: Vec<String>,
    evidence: Vec<(String, f32)>,
    answer: Arc<Answer>,
    expires_at: Instant,
    seq: u64,
    basis: u64,
}

#[derive(Default)]
struct Partition {
    dim: usize,
    words: usize,
    vectors: Vec<f32>,
    bits: Vec<u64>,
    meta: Vec<Meta>,
    /// Where each id sits in `meta`, so replacing an entry is not a scan.
    positions: HashMap<String, usize>,
}

impl Partition {
    fn len(&self) -> usize {
        self.meta.len()
    }

    fn bytes(&self) -> u64 {
        (self.vectors.len() * 4 + self.bits.len() * 8) as u64
            + self.meta.iter().map(|m| (m.id.len() + crate::answer::approx_bytes(&m.answer)) as u64).sum::<u64>()
    }

    fn remove(&mut self, i: usize) {
        let last = self.len() - 1;
        if i != last {
            let (d, w) = (self.dim, self.words);
            self.vectors.copy_within(last * d..(last + 1) * d, i * d);
            self.bits.copy_within(last * w..(last + 1) * w, i * w);
        }
        self.vectors.truncate(last * self.dim);
        self.bits.truncate(last * self.words);
        let removed = self.meta.swap_remove(i);
        self.positions.remove(&removed.id);
        if let Some(moved) = self.meta.get(i) {
            self.positions.insert(moved.id.clone(), i);
        }
    }

    fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Indices worth scoring exactly, best first by the cheap measure.
    fn candidates(&self, query_bits: &[u64]) -> Vec<usize> {
        if self.len() <= EXACT_SCAN_LIMIT {
            return (0..self.len()).collect();
        }
        let w = self.words;
        let mut scored: Vec<(u32, usize)> = self
            .bits
            .chunks_exact(w)
            .enumerate()
            .map(|(i, bits)| (bits.iter().zip(query_bits).map(|(a, b)| (a ^ b).count_ones()).sum(), i))
            .collect();
        let k = RERANK.min(scored.len());
        scored.select_nth_unstable(k - 1);
        scored.truncate(k);
        scored.into_iter().map(|(_, i)| i).collect()
    }
}

fn normalized(vector: &[f32]) -> Option<Vec<f32>> {
    let norm = dot(vector, vector).sqrt();
    (norm.is_finite() && norm > 0.0).then(|| vector.iter().map(|x| x / norm).collect())
}

fn sign_bits(vector: &[f32]) -> Vec<u64> {
    let mut bits = vec![0u64; vector.len().div_ceil(64)];
    for (i, x) in vector.iter().enumerate() {
        if *x > 0.0 {
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
}

/// Dot product written so the compiler vectorises it (eight independent accumulators).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// One entry to index.
#[derive(Clone, Debug)]
pub struct SemanticEntry<'a> {
    /// Stable id (the hash part of its key); inserting the same id replaces.
    pub id: String,
    /// The message the answer was for (the near-miss guard compares against it).
    pub text: String,
    pub vector: &'a [f32],
    /// From [`crate::guard::entity_signature`].
    pub entities: Vec<String>,
    /// The passages nearest to the message, best first (may be empty).
    pub evidence: Vec<(String, f32)>,
    pub answer: Arc<Answer>,
    pub expires_at: Instant,
}

/// In-process vector search over answers, bounded per tenant.
pub struct SemanticIndex {
    partitions: RwLock<HashMap<(TenantId, IntentLabel), Partition>>,
    max_per_tenant: usize,
    seq: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SemanticIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticIndex").field("max_per_tenant", &self.max_per_tenant).finish_non_exhaustive()
    }
}

impl SemanticIndex {
    pub fn new(max_per_tenant: usize) -> Self {
        Self { partitions: RwLock::new(HashMap::new()), max_per_tenant: max_per_tenant.max(1), seq: Default::default() }
    }

    /// Adds (or replaces, by id) an entry. Vectors of another dimension than the partition's,
    /// or of zero length, are ignored.
    pub fn insert(&self, tenant: TenantId, intent: IntentLabel, entry: SemanticEntry<'_>) {
        self.insert_based(tenant, intent, entry, 0);
    }

    /// [`Self::insert`] for an answer computed from `basis` (see [`crate::AnswerBasis`]).
    pub fn insert_based(&self, tenant: TenantId, intent: IntentLabel, entry: SemanticEntry<'_>, basis: u64) {
        let SemanticEntry { id, text, vector, entities, evidence, answer, expires_at } = entry;
        let Some(unit) = normalized(vector) else { return };
        let Ok(mut parts) = self.partitions.write() else { return };
        let tenant_len: usize = parts.iter().filter(|((t, _), _)| *t == tenant).map(|(_, p)| p.len()).sum();
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if tenant_len >= self.max_per_tenant {
            evict_oldest(&mut parts, tenant);
        }
        let part = parts.entry((tenant, intent)).or_default();
        if part.len() == 0 {
            part.dim = unit.len();
            part.words = unit.len().div_ceil(64);
        } else if part.dim != unit.len() {
            return;
        }
        if let Some(&i) = part.positions.get(&id) {
            part.remove(i);
        }
        part.bits.extend(sign_bits(&unit));
        part.vectors.extend_from_slice(&unit);
        part.positions.insert(id.clone(), part.meta.len());
        part.meta.push(Meta { id, text, entities, evidence, answer, expires_at, seq, basis });
    }

    /// The most similar live entry that `rule` accepts, whose entities match the query's and
    /// that is not the query worded alike with another slot (see
    /// [`crate::guard::same_wording_other_slot`]).
    pub fn search(&self, tenant: TenantId, intent: IntentLabel, query: &SemanticQuery<'_>, rule: MatchRule) -> Option<SemanticHit> {
        let unit = normalized(query.vector)?;
        let bits = sign_bits(&unit);
        let now = Instant::now();
        let mut expired = Vec::new();
        let best = {
            let parts = self.partitions.read().ok()?;
            let part = parts.get(&(tenant, intent))?;
            if part.dim != unit.len() {
                return None;
            }
            let lowest = rule.lowest();
            let mut scored: Vec<(f32, usize)> =
                part.candidates(&bits).into_iter().map(|i| (dot(part.vector(i), &unit), i)).filter(|(s, _)| *s >= lowest).collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut best = None;
            for (similarity, i) in scored {
                let meta = &part.meta[i];
                if meta.expires_at <= now {
                    expired.push(meta.id.clone());
                    continue;
                }
                if rule.accepts(similarity, || evidence_agreement(&meta.evidence, query.evidence))
                    && entities_compatible(&meta.entities, query.entities)
                    && !same_wording_other_slot(&meta.text, query.message)
                {
                    best = Some(SemanticHit { answer: meta.answer.clone(), similarity, id: meta.id.clone(), basis: meta.basis });
                    break;
                }
            }
            best
        };
        if !expired.is_empty() {
            self.remove_ids(tenant, intent, &expired);
        }
        best
    }

    /// The best similarity regardless of threshold and guard (for calibration).
    pub fn nearest(&self, tenant: TenantId, intent: IntentLabel, query: &[f32]) -> Option<(f32, Arc<Answer>, Vec<String>)> {
        let unit = normalized(query)?;
        let bits = sign_bits(&unit);
        let parts = self.partitions.read().ok()?;
        let part = parts.get(&(tenant, intent))?;
        part.candidates(&bits)
            .into_iter()
            .map(|i| (dot(part.vector(i), &unit), i))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(s, i)| (s, part.meta[i].answer.clone(), part.meta[i].entities.clone()))
    }

    pub(crate) fn remove_ids(&self, tenant: TenantId, intent: IntentLabel, ids: &[String]) {
        let Ok(mut parts) = self.partitions.write() else { return };
        if let Some(part) = parts.get_mut(&(tenant, intent)) {
            for id in ids {
                if let Some(&i) = part.positions.get(id) {
                    part.remove(i);
                }
            }
        }
    }

    /// Drops every entry of a tenant.
    pub fn clear_tenant(&self, tenant: TenantId) {
        if let Ok(mut parts) = self.partitions.write() {
            parts.retain(|(t, _), _| *t != tenant);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut parts) = self.partitions.write() {
            parts.clear();
        }
    }

    /// Entries and approximate bytes held for a tenant.
    pub fn usage(&self, tenant: TenantId) -> (u64, u64) {
        let Ok(parts) = self.partitions.read() else { return (0, 0) };
        parts.iter().filter(|((t, _), _)| *t == tenant).fold((0, 0), |(n, b), (_, p)| (n + p.len() as u64, b + p.bytes()))
    }
}

fn evict_oldest(parts: &mut HashMap<(TenantId, IntentLabel), Partition>, tenant: TenantId) {
    let oldest = parts
        .iter()
        .filter(|((t, _), _)| *t == tenant)
        .flat_map(|(k, p)| p.meta.iter().enumerate().map(move |(i, m)| (m.seq, *k, i)))
        .min_by_key(|(seq, _, _)| *seq);
    if let Some((_, key, i)) = oldest
        && let Some(part) = parts.get_mut(&key)
    {
        part.remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Arc<Answer> {
        Arc::new(Answer::new(text, IntentLabel::PolicyQuestion, 0.9))
    }

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..dim)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn finds_near_vectors_in_large_partitions_and_respects_the_guard() {
        let index = SemanticIndex::new(200_000);
        let tenant = TenantId::new_random();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        for i in 0..10_000u64 {
            let v = unit(i, 384);
            let entry = SemanticEntry {
                id: format!("e{i}"),
                text: String::new(),
                vector: &v,
                entities: vec![],
                evidence: vec![],
                answer: answer("x"),
                expires_at: far,
            };
            index.insert(tenant, IntentLabel::PolicyQuestion, entry);
        }
        let target = unit(4242, 384);
        let mut query = target.clone();
        query[0] += 0.05;
        let q = SemanticQuery { vector: &query, message: "", entities: &[], evidence: &[] };
        let rule = MatchRule::cosine(0.9);
        let hit = index.search(tenant, IntentLabel::PolicyQuestion, &q, rule).expect("near hit");
        assert_eq!(hit.id, "e4242");
        let order = ["order:1".to_owned()];
        let with_order = SemanticQuery { entities: &order, ..q };
        assert!(index.search(tenant, IntentLabel::PolicyQuestion, &with_order, rule).is_none());
        assert!(index.search(tenant, IntentLabel::Greeting, &q, rule).is_none());
        assert!(index.search(TenantId::new_random(), IntentLabel::PolicyQuestion, &q, rule).is_none());
        assert_eq!(index.usage(tenant).0, 10_000);
    }

    fn evidence(ids: &[(&str, f32)]) -> Vec<(String, f32)> {
        ids.iter().map(|(id, s)| ((*id).to_owned(), *s)).collect()
    }

    #[test]
    fn evidence_agreement_weighs_the_passages_both_select() {
        let returns = evidence(&[("window", 0.62), ("refund-timing", 0.50), ("rma", 0.48)]);
        assert!((evidence_agreement(&returns, &returns) - 1.0).abs() < 1e-6);
        let paraphrase = evidence(&[("window", 0.55), ("rma", 0.47), ("refund-timing", 0.40)]);
        let other_question = evidence(&[("refund-timing", 0.66), ("window", 0.49), ("rma", 0.40)]);
        let (same, other) = (evidence_agreement(&returns, &paraphrase), evidence_agreement(&returns, &other_question));
        assert!(same > 0.9 && other < 0.5, "same best passage {same}, another best passage {other}");
        assert_eq!(evidence_agreement(&returns, &evidence(&[("shipping", 0.7)])), 0.0);
        assert_eq!(evidence_agreement(&returns, &[]), 0.0);
        assert_eq!(evidence_agreement(&[], &[]), 0.0);
    }

    #[test]
    fn agreeing_evidence_lowers_the_bar_and_nothing_else_does() {
        let index = SemanticIndex::new(100);
        let tenant = TenantId::new_random();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let stored = unit(1, 32);
        let window = evidence(&[("window", 0.6), ("rma", 0.4)]);
        let entry = SemanticEntry {
            id: "e".into(),
            text: "how long do returns take".into(),
            vector: &stored,
            entities: vec![],
            evidence: window.clone(),
            answer: answer("x"),
            expires_at: far,
        };
        index.insert(tenant, IntentLabel::PolicyQuestion, entry);
        // The bars sit just above and just below this query's similarity.
        let mut query = stored.clone();
        for x in query.iter_mut().step_by(2) {
            *x = -*x * 0.2;
        }
        let similarity = dot(&normalized(&stored).expect("unit"), &normalized(&query).expect("unit"));
        let rule = MatchRule { threshold: similarity + 0.05, evidence_threshold: similarity - 0.05, evidence_agreement: 0.5 };
        let message = "what is the return window";
        let agreeing = SemanticQuery { vector: &query, message, entities: &[], evidence: &window };
        assert!(index.search(tenant, IntentLabel::PolicyQuestion, &agreeing, rule).is_some());
        let other = evidence(&[("refund-timing", 0.6), ("window", 0.3)]);
        let disagreeing = SemanticQuery { evidence: &other, ..agreeing };
        assert!(index.search(tenant, IntentLabel::PolicyQuestion, &disagreeing, rule).is_none());
        let none = SemanticQuery { evidence: &[], ..agreeing };
        assert!(index.search(tenant, IntentLabel::PolicyQuestion, &none, rule).is_none());
        let other_entities = ["number:30".to_owned()];
        let guarded = SemanticQuery { entities: &other_entities, ..agreeing };
        assert!(index.search(tenant, IntentLabel::PolicyQuestion, &guarded, rule).is_none(), "the entity guard still applies");
        let below = MatchRule { evidence_threshold: similarity + 0.01, ..rule };
        assert!(index.search(tenant, IntentLabel::PolicyQuestion, &agreeing, below).is_none(), "agreement needs the lower bar too");
    }

    #[test]
    fn bounded_per_tenant() {
        let index = SemanticIndex::new(10);
        let tenant = TenantId::new_random();
        let far = Instant::now() + std::time::Duration::from_secs(60);
        for i in 0..25u64 {
            let v = unit(i, 16);
            let entry = SemanticEntry {
                id: format!("e{i}"),
                text: String::new(),
                vector: &v,
                entities: vec![],
                evidence: vec![],
                answer: answer("x"),
                expires_at: far,
            };
            index.insert(tenant, IntentLabel::Greeting, entry);
        }
        assert_eq!(index.usage(tenant).0, 10);
    }
}
