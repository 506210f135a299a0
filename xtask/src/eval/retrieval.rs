//! `eval retrieval`: recall@1, recall@5 and MRR of BM25, vector and hybrid retrieval over the
//! demo tenants' policies, seeded into a throwaway SQLite database: the English questions of
//! `retrieval.jsonl`, then the German, Spanish and French ones of `retrieval_multilingual.jsonl`
//! searched as written and with their topics' English words added
//! (`tria_rag::cross_lingual::expand_query`, what the agent searches with).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Deserialize;
use tria_config::Settings;
use tria_rag::{Embedder, IndexedChunk, RetrievalMode, TenantIndex};
use tria_store::{DbOptions, Store};

#[derive(Debug, Deserialize)]
struct Relevant {
    document: String,
    heading: String,
}

#[derive(Debug, Deserialize)]
struct Case {
    tenant: String,
    /// ISO 639-1; English when absent.
    #[serde(default = "english")]
    lang: String,
    question: String,
    relevant: Vec<Relevant>,
}

fn english() -> String {
    "en".to_owned()
}

fn read_cases(path: &std::path::Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
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
    let cases = read_cases(&settings.fixtures_dir.join("eval/retrieval.jsonl"))?;
    let multilingual = read_cases(&settings.fixtures_dir.join("eval/retrieval_multilingual.jsonl"))?;
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
    for case in cases.iter().chain(&multilingual) {
        let Some(index) = indexes.get(&case.tenant) else { bail!("unknown tenant {}", case.tenant) };
        if !index.chunks().iter().any(|c| answers(c, &case.relevant)) {
            bail!("no chunk matches the answer of: {} ({:?})", case.question, case.relevant);
        }
    }
    let chunks: usize = indexes.values().map(TenantIndex::len).sum();
    println!("retrieval eval: {} tenants ({chunks} chunks), model {}", indexes.len(), embedder.model_id());
    let english = measure(&indexes, embedder.as_ref(), &cases, false)?;
    print_table(&format!("English: {} questions (retrieval.jsonl)", cases.len()), &english, verbose);
    let by_lang: BTreeMap<&str, usize> = multilingual.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.lang.as_str()).or_default() += 1;
        m
    });
    let langs = by_lang.iter().map(|(l, n)| format!("{l} {n}")).collect::<Vec<_>>().join(", ");
    let title = format!("non-English: {} questions ({langs}; retrieval_multilingual.jsonl)", multilingual.len());
    let as_written = measure(&indexes, embedder.as_ref(), &multilingual, false)?;
    print_table(&format!("{title}, as written"), &as_written, verbose);
    let expanded = measure(&indexes, embedder.as_ref(), &multilingual, true)?;
    print_table(&format!("{title}, with the topics' English words (as the agent searches)"), &expanded, verbose);
    Ok(())
}

/// Each mode's tally over `cases`, and the questions hybrid retrieval misses at 5.
struct Measured {
    n: usize,
    tallies: BTreeMap<&'static str, Tally>,
    misses: Vec<String>,
}

fn measure(indexes: &BTreeMap<String, TenantIndex>, embedder: &dyn Embedder, cases: &[Case], expand: bool) -> anyhow::Result<Measured> {
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let queries: Vec<String> = cases
        .iter()
        .map(|c| if expand { tria_rag::cross_lingual::expand_query(&c.question, &c.lang).into_owned() } else { c.question.clone() })
        .collect();
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let vectors = embedder.embed_batch(&refs)?;
    for ((case, query), vector) in cases.iter().zip(&queries).zip(&vectors) {
        let index = &indexes[&case.tenant];
        for mode in RetrievalMode::ALL {
            let hits = index.search_with(mode, query, Some(vector), 10);
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
    Ok(Measured { n: cases.len(), tallies, misses })
}

fn print_table(title: &str, measured: &Measured, verbose: bool) {
    let n = measured.n.max(1) as f64;
    println!("\n{title}");
    println!("{:<8} {:>9} {:>9} {:>7}", "mode", "recall@1", "recall@5", "MRR@10");
    for mode in RetrievalMode::ALL {
        let t = &measured.tallies[mode.as_str()];
        println!("{:<8} {:>9.3} {:>9.3} {:>7.3}", mode.as_str(), t.at1 as f64 / n, t.at5 as f64 / n, t.reciprocal_ranks / n);
    }
    if verbose && !measured.misses.is_empty() {
        println!("hybrid misses at 5:");
        for m in &measured.misses {
            println!("{m}");
        }
    }
}
