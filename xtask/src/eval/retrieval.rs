//! `eval retrieval`: recall@1, recall@5 and MRR of BM25, vector and hybrid retrieval over the
//! demo tenants' policies, seeded into a throwaway SQLite database.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Deserialize;
use tria_config::Settings;
use tria_rag::{IndexedChunk, RetrievalMode, TenantIndex};
use tria_store::{DbOptions, Store};

#[derive(Debug, Deserialize)]
struct Relevant {
    document: String,
    heading: String,
}

#[derive(Debug, Deserialize)]
struct Case {
    tenant: String,
    question: String,
    relevant: Vec<Relevant>,
}

/// A chunk answers when it comes from the document and its heading path ends in the heading.
fn answers(chunk: &IndexedChunk, relevant: &[Relevant]) -> bool {
    relevant.iter().any(|r| {
        chunk.source_path == r.document && chunk.heading_path.rsplit(tria_rag::chunk::HEADING_SEPARATOR).next() == Some(r.heading.as_str())
    })
}

#[derive(Default)]
struct Tally {
    at1: usize,
    at5: usize,
    reciprocal_ranks: f64,
}

pub(super) fn run(settings: &Settings, verbose: bool) -> anyhow::Result<()> {
    let path = settings.fixtures_dir.join("eval/retrieval.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect::<Result<_, _>>()?;
    let embedder = super::embedder(settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let indexes: BTreeMap<String, TenantIndex> = runtime.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("eval.db").display());
        let store = Store::connect(&DbOptions::new(url)).await?;
        store.migrate().await?;
        let mut out = BTreeMap::new();
        for fixture in tria_store::fixtures::load_all(&settings.fixtures_dir)? {
            let (tenant, _) = tria_store::fixtures::seed_tenant(&store, &fixture, None).await?;
            tria_rag::sync_policies(&store, tenant.id, &fixture.policies).await?;
            let index = TenantIndex::load(&store, tenant.id, Some(embedder.as_ref())).await?;
            out.insert(tenant.slug.clone(), index);
        }
        anyhow::Ok(out)
    })?;
    // Every labelled answer must exist, or the eval would silently measure nothing.
    for case in &cases {
        let Some(index) = indexes.get(&case.tenant) else { bail!("unknown tenant {}", case.tenant) };
        if !index.chunks().iter().any(|c| answers(c, &case.relevant)) {
            bail!("no chunk matches the answer of: {} ({:?})", case.question, case.relevant);
        }
    }

    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let questions: Vec<&str> = cases.iter().map(|c| c.question.as_str()).collect();
    let vectors = embedder.embed_batch(&questions)?;
    for (case, vector) in cases.iter().zip(&vectors) {
        let index = &indexes[&case.tenant];
        for mode in RetrievalMode::ALL {
            let hits = index.search_with(mode, &case.question, Some(vector), 10);
            let rank = hits.iter().position(|h| answers(&h.chunk, &case.relevant));
            let tally = tallies.entry(mode.as_str()).or_default();
            if rank == Some(0) {
                tally.at1 += 1;
            }
            if rank.is_some_and(|r| r < 5) {
                tally.at5 += 1;
            }
            if let Some(r) = rank {
                tally.reciprocal_ranks += 1.0 / (r as f64 + 1.0);
            }
            if mode == RetrievalMode::Hybrid && rank.is_none_or(|r| r >= 5) {
                let top = hits.first().map(|h| h.chunk.heading_path.clone()).unwrap_or_default();
                misses.push(format!(
                    "  [{}] {}  (expected {:?}, top: {top})",
                    case.tenant,
                    case.question,
                    case.relevant.iter().map(|r| &r.heading).collect::<Vec<_>>()
                ));
            }
        }
    }
    let n = cases.len().max(1) as f64;
    let chunks: usize = indexes.values().map(TenantIndex::len).sum();
    println!("retrieval eval: {} questions over {} tenants ({chunks} chunks), model {}", cases.len(), indexes.len(), embedder.model_id());
    println!("{:<8} {:>9} {:>9} {:>7}", "mode", "recall@1", "recall@5", "MRR@10");
    for mode in RetrievalMode::ALL {
        let t = &tallies[mode.as_str()];
        println!("{:<8} {:>9.3} {:>9.3} {:>7.3}", mode.as_str(), t.at1 as f64 / n, t.at5 as f64 / n, t.reciprocal_ranks / n);
    }
    if verbose && !misses.is_empty() {
        println!("hybrid misses at 5:");
        for m in misses {
            println!("{m}");
        }
    }
    Ok(())
}
