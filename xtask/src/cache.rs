//! `cache warm`: pre-computes answers for a tenant's FAQ list (fixtures/faq/{slug}.txt) into the
//! shared cache, so the first customers who ask them are answered from Redis.
//! Also [`cache_config`] (from `tria-compose`): settings → `tria_cache::CacheConfig`, as the server builds it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tria_agent::Agent;
use tria_cache::AnswerCache;
use tria_config::Settings;
use tria_store::Store;

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
pub(crate) use tria_compose::cache_config;

pub(crate) fn run(args: &CacheArgs, settings: &Settings) -> anyhow::Result<()> {
    match &args.which {
        Which::Warm { tenant, faq } => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(warm(settings, tenant.as_deref(), faq.as_ref()))
        }
        Which::Eval { verbose } => crate::eval_cache::run(settings, *verbose),
    }
}

async fn warm(settings: &Settings, only: Option<&str>, faq: Option<&PathBuf>) -> anyhow::Result<()> {
    if settings.cache.redis_url.is_none() {
        eprintln!("note: no cache.redis_url (TRIA_REDIS_URL): answers are warmed into this process's memory only, which ends with it");
    }
    let store =
        Store::connect(&tria_compose::db_options(settings)).await.context("connecting to the database (run `cargo xtask seed` first?)")?;
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
