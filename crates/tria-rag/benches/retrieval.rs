//! Retrieval benchmarks: one query embedding, hybrid search over the demo tenant and over a
//! synthetic 100k-chunk index (BM25, flat vectors, hybrid), and index build throughput.
//! Needs the model: `cargo xtask model fetch`. Run: `cargo bench -p tria-rag --bench retrieval`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tria_rag::bm25::Bm25Index;
use tria_rag::chunk::{ChunkOptions, chunk_markdown, document_title};
use tria_rag::flat::FlatVectors;
use tria_rag::{Embedder, IndexedChunk, LocalEmbedder, LocalEmbedderOptions, RetrievalMode, TenantIndex};
use uuid::Uuid;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn embedder(threads: usize) -> Arc<LocalEmbedder> {
    let mut options = LocalEmbedderOptions::new(root().join("models"));
    options.intra_threads = Some(threads);
    Arc::new(LocalEmbedder::load(&options).unwrap_or_else(|e| panic!("run `cargo xtask model fetch` first: {e}")))
}

fn demo_chunks() -> Vec<IndexedChunk> {
    let dir = root().join("fixtures/tenants/northwind/policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("policies").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let markdown = std::fs::read_to_string(&path).expect("read");
        let title = document_title(&markdown, "policy");
        for c in chunk_markdown(&title, &markdown, ChunkOptions::default()).expect("chunk") {
            out.push(IndexedChunk {
                id: Uuid::new_v4(),
                title: title.clone(),
                source_path: path.display().to_string(),
                heading_path: c.heading_path,
                text: c.text,
            });
        }
    }
    out
}

/// Deterministic pseudo-random numbers (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 20_000) as f32 / 10_000.0 - 1.0
    }
}

fn synthetic(n: usize, dim: usize) -> (Vec<IndexedChunk>, FlatVectors) {
    let mut rng = Lcg(42);
    let vocabulary: Vec<String> = (0..20_000).map(|i| format!("w{i}")).collect();
    let mut vectors = FlatVectors::with_capacity(dim, n);
    let mut chunks = Vec::with_capacity(n);
    for i in 0..n {
        // Zipf-ish: low word numbers are common, as in real text.
        let words: Vec<&str> = (0..120)
            .map(|_| {
                let r = rng.next() % 20_000;
                &vocabulary[((r * r) / 20_000) as usize][..]
            })
            .collect();
        chunks.push(IndexedChunk {
            id: Uuid::from_u128(i as u128),
            title: "Synthetic".into(),
            source_path: "synthetic.md".into(),
            heading_path: format!("Synthetic › Section {i}"),
            text: words.join(" "),
        });
        let mut v: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
        tria_rag::embed::normalize(&mut v);
        vectors.push(&v);
    }
    (chunks, vectors)
}

fn benches(c: &mut Criterion) {
    let one_core = embedder(1);
    c.bench_function("embed/one_query_1_thread", |b| {
        b.iter(|| one_core.embed_one(black_box("How many days do I have to return an unopened case?")).expect("embed"))
    });

    // Index build throughput: embedding the demo tenant's chunks in batches, and BM25.
    let chunks = demo_chunks();
    let texts: Vec<String> = chunks.iter().map(IndexedChunk::embedding_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all_cores = embedder(2);
    let mut group = c.benchmark_group("index_build");
    group.sample_size(10);
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.bench_function(BenchmarkId::new("embed_chunks_2_threads", refs.len()), |b| {
        b.iter(|| all_cores.embed_batch(black_box(&refs)).expect("embed"))
    });
    group.bench_function(BenchmarkId::new("bm25", refs.len()), |b| b.iter(|| Bm25Index::build(refs.iter().copied())));
    group.finish();

    // Hybrid over the demo tenant (query embedding excluded: measured above).
    let vectors = all_cores.embed_batch(&refs).expect("embed");
    let mut flat = FlatVectors::new(all_cores.dimension());
    for v in &vectors {
        flat.push(v);
    }
    let demo = TenantIndex::from_parts(chunks, Some(flat), Some(all_cores.model_id().to_owned()));
    let question = "my package showed up smashed, what now?";
    let q = all_cores.embed_one(question).expect("embed");
    c.bench_function(&format!("search/demo_{}_chunks/hybrid", demo.len()), |b| {
        b.iter(|| demo.hybrid_search(black_box(question), Some(&q), 5))
    });

    // 100k synthetic chunks.
    let (chunks, flat) = synthetic(100_000, 384);
    flat_100k(c, &flat);
    let big = TenantIndex::from_parts(chunks, Some(flat), Some("synthetic".into()));
    let mut rng = Lcg(7);
    let mut q: Vec<f32> = (0..384).map(|_| rng.unit()).collect();
    tria_rag::embed::normalize(&mut q);
    let query = "w12 w345 w7 w9000 w15000";
    let mut group = c.benchmark_group("search/synthetic_100k");
    group.sample_size(30);
    for mode in RetrievalMode::ALL {
        group.bench_function(mode.as_str(), |b| b.iter(|| big.search_with(mode, black_box(query), Some(&q), 5)));
    }
    group.finish();
}

/// The vector side alone at hybrid depth (30): exact f32 scan against the sign-bit pre-filter
/// with exact re-rank, and the pre-filter's recall@30 against the exact scan on this data
/// (isotropic random vectors and random queries: no true neighbours, its worst case).
fn flat_100k(c: &mut Criterion, flat: &FlatVectors) {
    let mut rng = Lcg(11);
    let queries: Vec<Vec<f32>> = (0..20)
        .map(|_| {
            let mut q: Vec<f32> = (0..384).map(|_| rng.unit()).collect();
            tria_rag::embed::normalize(&mut q);
            q
        })
        .collect();
    let depth = 30;
    let mut found = 0;
    for q in &queries {
        let exact = flat.search_exact(q, depth);
        let fast = flat.search(q, depth);
        found += exact.iter().filter(|(row, _)| fast.iter().any(|(r, _)| r == row)).count();
    }
    eprintln!("flat_100k: sign pre-filter recall@{depth} vs exact over 20 noise queries = {:.3}", found as f64 / (20 * depth) as f64);
    let q = &queries[0];
    let mut group = c.benchmark_group("flat_100k_top30");
    group.sample_size(20);
    group.bench_function("exact_f32", |b| b.iter(|| flat.search_exact(black_box(q), depth)));
    group.bench_function("sign_prefilter_then_exact_rerank", |b| b.iter(|| flat.search(black_box(q), depth)));
    group.finish();
}

criterion_group!(retrieval, benches);
criterion_main!(retrieval);
