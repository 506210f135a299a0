//! `index [--tenant SLUG]`: embeds every policy chunk that has no vector from the current model
//! (new or changed documents — `seed` re-creates their chunks without one — or a model change),
//! and stores the vectors. A running server picks them up on its next index reload
//! (`Agent::reindexed`, which also retires the tenant's cached answers).

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use tria_config::Settings;
use tria_rag::{LocalEmbedder, LocalEmbedderOptions};
use tria_store::{DbOptions, Store};

#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// Only this tenant (slug); all tenants by default.
    #[arg(long)]
    tenant: Option<String>,
}

pub(crate) fn run(args: &IndexArgs, settings: &Settings) -> anyhow::Result<()> {
    let embedder = Arc::new(
        LocalEmbedder::load(&LocalEmbedderOptions::new(&settings.models_dir)).context("loading the embedding model")?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        if settings.database.url.starts_with("sqlite:") {
            std::fs::create_dir_all(&settings.data_dir)?;
        }
        let store = Store::connect(&DbOptions::new(settings.database.url.clone())).await.context("connecting to the database")?;
        store.migrate().await?;
        let mut tenants = store.tenants().list().await?;
        if let Some(slug) = &args.tenant {
            tenants.retain(|t| &t.slug == slug);
            if tenants.is_empty() {
                bail!("no tenant `{slug}` (run `cargo xtask seed` first?)");
            }
        }
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
        }
        Ok(())
    })
}
