//! Composition: validated [`tria_config::Settings`] → the configs the libraries are built from,
//! for `tria-server`'s start-up and `xtask` alike. Invariant: plain conversions, no I/O.

use tria_cache::{CacheConfig, DegradePolicy, LevelConfig, SemanticConfig};
use tria_config::{CacheSettings, Settings};
use tria_store::DbOptions;

/// The database pool `settings.database` describes.
pub fn db_options(settings: &Settings) -> DbOptions {
    let d = &settings.database;
    DbOptions {
        url: d.url.clone(),
        max_connections: d.max_connections,
        min_connections: d.min_connections,
        acquire_timeout: d.acquire_timeout,
        idle_timeout: d.idle_timeout,
        max_lifetime: d.max_lifetime,
    }
}

/// The answer cache `[cache]` describes, its Redis keys under the `tria` prefix.
pub fn cache_config(s: &CacheSettings) -> CacheConfig {
    CacheConfig {
        redis_url: s.redis_url.clone(),
        redis_pool_size: s.redis_pool_size,
        redis_timeout: s.redis_timeout,
        probe_interval: s.probe_interval,
        degrade: DegradePolicy::default(),
        key_prefix: "tria".into(),
        memory_bytes: s.memory_bytes,
        l1_bytes: s.l1_bytes,
        l1: LevelConfig { enabled: s.l1_enabled, ttl: s.l1_ttl },
        l2: LevelConfig { enabled: s.l2_enabled, ttl: s.l2_ttl },
        l3: SemanticConfig {
            enabled: s.l3_enabled,
            ttl: s.l3_ttl,
            threshold: s.l3_threshold,
            evidence_threshold: s.l3_evidence_threshold,
            evidence_agreement: s.l3_evidence_agreement,
            max_entries_per_tenant: s.l3_max_entries_per_tenant,
        },
        l4_enabled: s.l4_enabled,
        l4_intent_ttl: s.l4_intent_ttl,
        l4_retrieval_ttl: s.l4_retrieval_ttl,
        l4_embedding_ttl: s.l4_embedding_ttl,
        price_per_1k_tokens: s.price_per_1k_tokens,
        context_turns: s.context_turns,
    }
}
