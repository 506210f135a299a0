//! Tria's cache: four levels of answers and components ([`AnswerCache`]) over a small async
//! [`CacheBackend`] trait whose backends are memory, Redis and a fallback that wraps Redis with memory.
//! Invariant: a cached answer is never served across tenants, customers or model versions.

mod answer;
mod backend;
mod bus;
mod config;
mod envelope;
mod fallback;
mod flight;
pub mod guard;
pub mod keys;
mod l1;
mod memory;
mod redis;
mod semantic;
mod stats;
mod tokens;

pub use answer::{AnswerBasis, AnswerCache, AnswerContext, AnswerQuery, AnyBasis, CacheLevelName, Component, ExactHit, Fill, Fresh};
pub use backend::{BackendStats, CacheBackend, CacheError, CacheHealth};
pub use bus::{BusStats, Inbox, Invalidation, InvalidationBus};
pub use config::{
    CacheConfig, DEFAULT_L3_EVIDENCE_AGREEMENT, DEFAULT_L3_EVIDENCE_THRESHOLD, DEFAULT_L3_THRESHOLD, LevelConfig, SemanticConfig,
};
pub use envelope::{ENVELOPE_VERSION, EnvelopeError};
pub use fallback::{DegradePolicy, FallbackCache};
pub use flight::SingleFlight;
pub use keys::semantic_text;
pub use memory::MemoryCache;
pub use redis::RedisCache;
pub use redis::redis_pool;
pub use semantic::{
    EVIDENCE_TEMPERATURE, Evidence, MatchRule, SemanticEntry, SemanticHit, SemanticIndex, SemanticQuery, evidence_agreement,
};
pub use stats::{CacheStats, LevelStats};
pub use tokens::count_tokens;
