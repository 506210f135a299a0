//! What the pipeline evals share: a throwaway SQLite database seeded with the demo tenants, an
//! agent over it (offline, or with an LLM), the text a reply's sources stand for (to check its
//! numbers), and small statistics helpers.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;
use tria_agent::{Agent, SemanticParts};
use tria_config::Settings;
use tria_core::{SourceRef, TenantContext, TenantId};
use tria_llm::{LlmClient, PromptLibrary};
use tria_store::{DbOptions, Store};

pub(crate) fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
}

/// `fact` (or one of its `|`-separated alternatives) appears in `reply`, ignoring case and the
/// difference between en dashes and hyphens.
pub(crate) fn fact_present(reply: &str, fact: &str) -> bool {
    let norm = |s: &str| s.to_lowercase().replace(['–', '—'], "-");
    let reply = norm(reply);
    fact.split('|').any(|alt| reply.contains(&norm(alt.trim())))
}

/// The `p`th percentile (nearest rank) of `values`, in their unit; 0 when empty.
pub(crate) fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// The demo tenants in a fresh database.
pub(crate) struct EvalWorld {
    _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) tenants: BTreeMap<String, TenantContext>,
    semantic: Option<SemanticParts>,
    chunks: HashMap<String, String>,
    products: HashMap<(TenantId, String), String>,
}

impl EvalWorld {
    /// Seeds every fixture tenant; with `semantic`, loads the embedder and intent model as the
    /// server does (hybrid retrieval, model intents).
    pub(crate) async fn open(settings: &Settings, semantic: bool) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("eval.db").display());
        let store = Store::connect(&DbOptions::new(url)).await?;
        store.migrate().await?;
        let seeded = tria_agent::setup::seed_from_fixtures(&store, &settings.fixtures_dir, &BTreeMap::new()).await?;
        let tenants: BTreeMap<String, TenantContext> = seeded.into_iter().map(|s| (s.tenant.slug.clone(), s.tenant)).collect();
        let mut chunks = HashMap::new();
        let mut products = HashMap::new();
        for tenant in tenants.values() {
            for chunk in store.policies().chunks(tenant.id).await? {
                chunks.insert(chunk.id.to_string(), chunk.text);
            }
            for p in store.catalogue().list(tenant.id).await? {
                let text = format!(
                    "{} {} {} per {} {} {} in stock",
                    p.name,
                    p.sku,
                    p.description,
                    p.unit,
                    money(p.unit_price_minor, &p.currency),
                    p.stock
                );
                products.insert((tenant.id, p.sku), text);
            }
        }
        let semantic = if semantic {
            let (models, fixtures) = (settings.models_dir.clone(), settings.fixtures_dir.clone());
            Some(tokio::task::spawn_blocking(move || tria_agent::load_semantic(&models, &fixtures)).await?)
        } else {
            None
        };
        Ok(Self { _dir: dir, store, tenants, semantic, chunks, products })
    }

    pub(crate) fn describe(&self) -> String {
        match &self.semantic {
            Some(parts) if parts.embedder.is_some() => "hybrid retrieval and model intents".into(),
            Some(parts) => format!("BM25 and rule intents: {:?}", parts.status),
            None => "BM25 retrieval and rule intents".into(),
        }
    }

    /// A new agent (with its own empty memory cache) over the world's database.
    pub(crate) fn agent(&self, llm: Option<(Arc<dyn LlmClient>, Arc<PromptLibrary>)>) -> Agent {
        let mut builder = Agent::builder(self.store.clone());
        if let Some(parts) = &self.semantic {
            builder = builder.semantic(parts.clone());
        }
        if let Some((client, prompts)) = llm {
            builder = builder.llm(client, prompts);
        }
        builder.build()
    }

    pub(crate) fn tenant(&self, slug: &str) -> anyhow::Result<&TenantContext> {
        match self.tenants.get(slug) {
            Some(t) => Ok(t),
            None => bail!("no tenant `{slug}` in fixtures/tenants"),
        }
    }

    /// The texts the reply's sources stand for: policy chunks, and catalogue rows as quoted.
    pub(crate) async fn grounding(&self, tenant: &TenantContext, sources: &[SourceRef]) -> anyhow::Result<Vec<String>> {
        Ok(sources
            .iter()
            .filter_map(|s| match s.id.strip_prefix("product:") {
                Some(sku) => self.products.get(&(tenant.id, sku.to_owned())).cloned(),
                None => self.chunks.get(&s.id).cloned(),
            })
            .collect())
    }
}

fn money(minor: i64, currency: &str) -> String {
    let amount = format!("{}.{:02}", minor / 100, minor % 100);
    match currency {
        "USD" => format!("${amount}"),
        "EUR" => format!("€{amount}"),
        other => format!("{amount} {other}"),
    }
}
