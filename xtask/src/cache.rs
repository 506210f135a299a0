//! `cache warm`: pre-computes answers for a tenant's FAQ list (fixtures/faq/{slug}.txt) into the
//! shared cache, so the first customers who ask them are answered from Redis.
//! Also [`cache_config`]: settings → `tria_cache::CacheConfig`, as the server builds it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tria_agent::Agent;
use tria_cache::{AnswerCache, CacheConfig, LevelConfig, SemanticConfig};
use tria_config::{CacheSettings, Settings};
use tria_store::{DbOptions, Store};

#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Pre-answer a tenant's FAQ (every tenant with a list when --tenant is absent).
    Warm {
        /// Tenant slug.
        #[arg(long)]
        tenant: Option<String>,
        /// Questions, one a line (default: fixtures/faq/{slug}.txt).
        #[arg(long)]
        faq: Option<PathBuf>,
    },
    /// Semantic-cache quality per threshold (the same as `cargo xtask eval cache`).
    Eval {
        /// List the missed paraphrases and wrongly shared near-misses.
        #[arg(long)]
        verbose: bool,
    },
}

/// The cache settings as `tria_cache` takes them.
pub(crate) fn cache_config(s: &CacheSettings) -> CacheConfig {
    CacheConfig {
        redis_url: s.redis_url.clone(),
        redis_pool_size: s.redis_pool_size,
        redis_timeout: s.redis_timeout,
        probe_interval: s.probe_interval,
        key_prefix: "tria".into(),
        memory_bytes: s.memory_bytes,
        l1_bytes: s.l1_bytes,
        l1: LevelConfig { enabled: s.l1_enabled, ttl: s.l1_ttl },
        l2: LevelConfig { enabled: s.l2_enabled, ttl: s.l2_ttl },
        l3: SemanticConfig {
            enabled: s.l3_enabled,
            ttl: s.l3_ttl,
            threshold: s.l3_threshold,
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

pub(crate) fn run(args: &CacheArgs, settings: &Settings) -> anyhow::Result<()> {
    match &args.which {
        Which::Warm { tenant, faq } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(warm(settings, tenant.as_deref(), faq.as_ref())),
        Which::Eval { verbose } => crate::eval_cache::run(settings, *verbose),
    }
}

async fn warm(settings: &Settings, only: Option<&str>, faq: Option<&PathBuf>) -> anyhow::Result<()> {
    if settings.cache.redis_url.is_none() {
        eprintln!("note: no cache.redis_url (TRIA_REDIS_URL): answers are warmed into this process's memory only, which ends with it");
    }
    let d = &settings.database;
    let store = Store::connect(&DbOptions {
        url: d.url.clone(),
        max_connections: d.max_connections,
        min_connections: d.min_connections,
        acquire_timeout: d.acquire_timeout,
        idle_timeout: d.idle_timeout,
        max_lifetime: d.max_lifetime,
    })
    .await
    .context("connecting to the database (run `cargo xtask seed` first?)")?;
    let cache = AnswerCache::connect(cache_config(&settings.cache), Duration::from_secs(3)).await?;
    if cache.health().await.as_str() != "ok" {
        anyhow::bail!("the cache is not healthy ({:?}); is Redis up?", cache.health().await);
    }
    let mut builder = Agent::builder(store.clone()).answer_cache(Arc::new(cache));
    match tria_rag::LocalEmbedder::load(&tria_rag::LocalEmbedderOptions::new(&settings.models_dir)) {
        Ok(embedder) => builder = builder.cache_embedder(Arc::new(embedder)),
        Err(e) => eprintln!("note: no embedder ({e}); semantic (L3) entries are not warmed"),
    }
    let agent = builder.build();
    let tenants = store.tenants().list().await?;
    let mut warmed = 0;
    for tenant in tenants.iter().filter(|t| only.is_none_or(|slug| t.slug == slug)) {
        let path = faq.cloned().unwrap_or_else(|| settings.fixtures_dir.join("faq").join(format!("{}.txt", tenant.slug)));
        let Ok(text) = std::fs::read_to_string(&path) else {
            if only.is_some() {
                anyhow::bail!("no FAQ list at {}", path.display());
            }
            continue;
        };
        let questions: Vec<String> =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect();
        let report = agent.warm_cache(tenant, &questions).await?;
        println!(
            "{:<12} {} questions: {} computed, {} already cached, {} not cacheable",
            tenant.slug,
            questions.len(),
            report.computed,
            report.already_cached,
            report.not_cacheable
        );
        warmed += 1;
    }
    if warmed == 0 {
        anyhow::bail!("no tenant to warm (known: {})", tenants.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>().join(", "));
    }
    Ok(())
}
