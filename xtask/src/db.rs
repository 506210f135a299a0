//! `migrate` and `seed`.

use anyhow::Context;
use tria_config::Settings;
use tria_store::Store;

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub(crate) async fn open(settings: &Settings) -> anyhow::Result<Store> {
    if settings.database.url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| format!("creating {}", settings.data_dir.display()))?;
    }
    let store = Store::connect(&tria_compose::db_options(settings)).await.context("connecting to the database")?;
    Ok(store)
}

pub(crate) fn migrate(settings: &Settings) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open(settings).await?;
        let pending = store.pending_migrations().await?;
        store.migrate().await?;
        println!("migrations applied: {pending} (database {})", redact(&settings.database.url));
        Ok(())
    })
}

pub(crate) fn seed(settings: &Settings) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open(settings).await?;
        store.migrate().await?;
        let seeded = tria_agent::setup::seed_from_fixtures(&store, &settings.fixtures_dir, &settings.seed.demo_keys).await?;
        for t in seeded {
            println!(
                "{:<12} tenant {:<8} products changed {:>3}  customers {:>3}  orders created {:>2}  key {:<8} policies changed {:>2} (chunks {:>3}), unchanged {:>2}",
                t.tenant.slug,
                if t.rows.tenant_created { "created" } else { "kept" },
                t.rows.products_changed,
                t.rows.customers,
                t.rows.orders_created,
                if t.rows.key_created { "created" } else { "kept" },
                t.policies.documents_changed,
                t.policies.chunks_written,
                t.policies.documents_unchanged,
            );
        }
        Ok(())
    })
}

/// The URL without its password, for output.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
