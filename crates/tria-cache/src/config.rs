//! What the cache is told by configuration. Plain values with defaults: the server maps its
//! validated settings onto [`CacheConfig`]; tests build one directly.

use std::time::Duration;

/// On/off and time to live of one level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelConfig {
    pub enabled: bool,
    pub ttl: Duration,
}

/// The semantic level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SemanticConfig {
    pub enabled: bool,
    pub ttl: Duration,
    /// Minimum cosine similarity for a paraphrase hit on similarity alone (calibrated by
    /// `cargo xtask eval cache`).
    pub threshold: f32,
    /// The lower cosine that is enough when both messages select the same answer evidence.
    pub evidence_threshold: f32,
    /// How much the evidence must agree for the lower bar ([`crate::evidence_agreement`], 0–1).
    pub evidence_agreement: f32,
    /// Entries kept per tenant; the oldest go first.
    pub max_entries_per_tenant: usize,
}

/// Everything [`crate::AnswerCache`] needs.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// `None`: memory only. Otherwise any URL fred reads (redis, rediss, cluster, sentinel).
    pub redis_url: Option<String>,
    pub redis_pool_size: usize,
    /// Deadline for one Redis command before the fallback serves.
    pub redis_timeout: Duration,
    /// How often a degraded cache checks whether Redis is back.
    pub probe_interval: Duration,
    /// How many failed commands, with the connection up, make the cache degraded.
    pub degrade: crate::DegradePolicy,
    /// First segment of every key; tests use their own so they run side by side.
    pub key_prefix: String,
    /// Bytes for the memory store behind L2 (the whole L2 when Redis is off).
    pub memory_bytes: u64,
    /// Bytes for L1.
    pub l1_bytes: u64,
    pub l1: LevelConfig,
    pub l2: LevelConfig,
    pub l3: SemanticConfig,
    /// Component caches; each kind has its own TTL.
    pub l4_enabled: bool,
    pub l4_intent_ttl: Duration,
    pub l4_retrieval_ttl: Duration,
    pub l4_embedding_ttl: Duration,
    /// Price of 1k LLM tokens, for "money saved".
    pub price_per_1k_tokens: f64,
    /// How many earlier turns' intents are part of an exact key.
    pub context_turns: usize,
}

/// Calibrated with `cargo xtask eval cache` (see docs/QUALITY.md).
pub const DEFAULT_L3_THRESHOLD: f32 = 0.74;
/// Calibrated alongside [`DEFAULT_L3_THRESHOLD`].
pub const DEFAULT_L3_EVIDENCE_THRESHOLD: f32 = 0.50;
/// Calibrated alongside [`DEFAULT_L3_THRESHOLD`].
pub const DEFAULT_L3_EVIDENCE_AGREEMENT: f32 = 0.85;

impl SemanticConfig {
    /// The rule L3 applies.
    pub fn rule(&self) -> crate::MatchRule {
        crate::MatchRule {
            threshold: self.threshold,
            evidence_threshold: self.evidence_threshold,
            evidence_agreement: self.evidence_agreement,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            redis_pool_size: 4,
            redis_timeout: Duration::from_millis(50),
            probe_interval: Duration::from_secs(1),
            degrade: crate::DegradePolicy::default(),
            key_prefix: "tria".into(),
            memory_bytes: 64 << 20,
            l1_bytes: 16 << 20,
            l1: LevelConfig { enabled: true, ttl: Duration::from_secs(5 * 60) },
            l2: LevelConfig { enabled: true, ttl: Duration::from_secs(30 * 60) },
            l3: SemanticConfig {
                enabled: true,
                ttl: Duration::from_secs(60 * 60),
                threshold: DEFAULT_L3_THRESHOLD,
                evidence_threshold: DEFAULT_L3_EVIDENCE_THRESHOLD,
                evidence_agreement: DEFAULT_L3_EVIDENCE_AGREEMENT,
                max_entries_per_tenant: 50_000,
            },
            l4_enabled: true,
            l4_intent_ttl: Duration::from_secs(60 * 60),
            l4_retrieval_ttl: Duration::from_secs(24 * 60 * 60),
            l4_embedding_ttl: Duration::from_secs(24 * 60 * 60),
            price_per_1k_tokens: 0.002,
            context_turns: 2,
        }
    }
}
