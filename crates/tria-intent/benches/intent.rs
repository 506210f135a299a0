//! Intent classification end to end: embedding the message plus the model, and the rules alone.
//! Needs the model: `cargo xtask model fetch`. Run: `cargo bench -p tria-intent --bench intent`.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use tria_intent::{IntentClassifier, IntentModel, RuleClassifier, load_examples};
use tria_rag::{Embedder, LocalEmbedder, LocalEmbedderOptions};

fn benches(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = LocalEmbedderOptions::new(root.join("models"));
    options.intra_threads = Some(1);
    let embedder = LocalEmbedder::load(&options).unwrap_or_else(|e| panic!("run `cargo xtask model fetch` first: {e}"));
    let examples = load_examples(&root.join("fixtures/intents")).expect("examples");
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let vectors = embedder.embed_batch(&texts).expect("embed");
    let model = IntentModel::from_examples(&examples, &vectors).expect("model");

    let message = "Hi, the lids in ORD-10004 don't fit our 16 oz cups, can I swap them before it ships?";
    c.bench_function("intent/end_to_end_1_thread", |b| {
        b.iter(|| {
            let v = embedder.embed_one(black_box(message)).expect("embed");
            model.classify_embedded(message, Some(&v))
        })
    });
    let v = embedder.embed_one(message).expect("embed");
    c.bench_function("intent/model_only", |b| b.iter(|| model.classify_embedded(black_box(message), Some(&v))));
    c.bench_function("intent/rules_only", |b| b.iter(|| RuleClassifier.classify(black_box(message))));
    let mut group = c.benchmark_group("intent/build");
    group.sample_size(10);
    group.bench_function("fit_from_embedded_examples", |b| b.iter(|| IntentModel::from_examples(&examples, &vectors)));
    group.finish();
}

criterion_group!(intent, benches);
criterion_main!(intent);
