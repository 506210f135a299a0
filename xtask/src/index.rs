//! `index [--tenant SLUG]`: embeds every policy chunk that has no vector from the current model
//! (new or changed documents — `seed` re-creates their chunks without one — or a model change),
//! and stores the vectors. A running server picks them up on its next index reload
//! (`Agent::reindexed`, which also retires the tenant's cached answers): restart it, or ask it
//! with `POST /admin/tenants/{slug}/reindex` (admin key).

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use tria_config::Settings;
use tria_rag::{LocalEmbedder, LocalEmbedderOptions};
use tria_store::Store;

#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// Only this tenant (slug); all tenants by default.
    #[arg(long)]
    tenant: Option<String>,
}

pub(crate) fn run(args: &IndexArgs, settings: &Settings) -> anyhow::Result<()> {
    let embedder = Arc::new(LocalEmbedder::load(&LocalEmbedderOptions::new(&settings.models_dir)).context("loading the embedding model")?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        if settings.database.url.starts_with("sqlite:") {
            std::fs::create_dir_all(&settings.data_dir)?;
        }
        let store = Store::connect(&tria_compose::db_options(settings)).await.context("connecting to the database")?;
        store.migrate().await?;
        let mut tenants = store.tenants().list().await?;
        if let Some(slug) = &args.tenant {
            tenants.retain(|t| &t.slug == slug);
            if tenants.is_empty() {
                bail!("no tenant `{slug}` (run `cargo xtask seed` first?)");
            }
        }
        // Answers and retrievals cached from the old chunks must not outlive them: bump each
        // re-indexed tenant's generation (shared through Redis when it is configured).
        let cache =
            tria_cache::AnswerCache::connect(crate::cache::cache_config(&settings.cache), std::time::Duration::from_secs(2)).await?;
        for tenant in tenants {
            let started = std::time::Instant::now();
            let report = tria_rag::embed_missing_chunks(&store, tenant.id, embedder.as_ref()).await?;
            println!(
                "{:<12} chunks {:>4}  embedded {:>4}  already current {:>4}  ({:.2} s, model {})",
                tenant.slug,
                report.chunks_total,
                report.chunks_embedded,
                report.chunks_current,
                started.elapsed().as_secs_f64(),
                tria_rag::Embedder::model_id(embedder.as_ref()),
            );
            if let Err(e) = cache.invalidate_tenant(tenant.id).await {
                eprintln!("warning: could not retire {}'s cached answers: {e}", tenant.slug);
            }
        }
        Ok(())
    })
}
