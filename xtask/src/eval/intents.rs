//! `eval intents`: accuracy, macro-F1, per-intent precision and recall and the confusion matrix
//! of the full classifier, with the rules-only classifier for comparison, on the held-out set;
//! accuracy and macro-F1 on the fresh and multilingual sets; the model's own k-fold accuracy.
//! With `--intent-fallback`, the cost and gain of the LLM intent fallback (`intent_fallback.rs`).

use std::time::Instant;

use anyhow::{Context, bail};
use serde::Deserialize;
use tria_config::Settings;
use tria_core::IntentLabel;
use tria_intent::{Classification, IntentClassifier, IntentModel, ModelOptions, RuleClassifier, load_examples};
use tria_rag::Embedder;

#[derive(Debug, Deserialize)]
struct Case {
    label: IntentLabel,
    text: String,
    /// ISO 639-1 code, on non-English sets.
    #[serde(default)]
    lang: Option<String>,
    /// `plain`, `hard` (a boundary case) or `non_english`, on the independent set.
    #[serde(default)]
    slice: Option<String>,
}

struct Scores {
    accuracy: f64,
    macro_f1: f64,
    confusion: [[usize; 10]; 10],
}

fn score(truth: &[IntentLabel], predicted: &[IntentLabel]) -> Scores {
    let idx = |l: IntentLabel| IntentLabel::ALL.iter().position(|x| *x == l).unwrap_or(0);
    let mut confusion = [[0usize; 10]; 10];
    for (t, p) in truth.iter().zip(predicted) {
        confusion[idx(*t)][idx(*p)] += 1;
    }
    let correct: usize = (0..10).map(|i| confusion[i][i]).sum();
    let f1s: Vec<f64> = (0..10)
        .map(|i| {
            let tp = confusion[i][i] as f64;
            let fp: f64 = (0..10).filter(|&r| r != i).map(|r| confusion[r][i] as f64).sum();
            let fn_: f64 = (0..10).filter(|&c| c != i).map(|c| confusion[i][c] as f64).sum();
            if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + fp + fn_) }
        })
        .collect();
    Scores { accuracy: correct as f64 / truth.len().max(1) as f64, macro_f1: f1s.iter().sum::<f64>() / 10.0, confusion }
}

/// A labelled message set under `fixtures/eval/`.
struct EvalSet {
    name: &'static str,
    file: &'static str,
    about: &'static str,
    cases: Vec<Case>,
}

const SETS: [(&str, &str, &str); 4] = [
    ("held-out", "eval/intents.jsonl", "the main held-out set"),
    ("fresh", "eval/intents_fresh.jsonl", "written after the training examples grew, to detect overfitting"),
    ("blind", "eval/intents_blind.jsonl", "never looked at while tuning; first run after training froze"),
    ("multilingual", "eval/intents_multilingual.jsonl", "Spanish, French and German"),
];

/// The final split: written independently of the training text, run once after training is
/// frozen (`--final`), never used for tuning.
const FINAL_SET: (&str, &str, &str) =
    ("independent", "eval/intents_independent.jsonl", "written from CONTRACT's rules without the training text; the final split");

fn load_cases(path: &std::path::Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
}

/// `INTENT_MODEL_OPTIONS="epochs=30,lr=0.1,l2=0.0001,dense=2,lexical=2,folds=5"` overrides the
/// model's training options for tuning experiments; several configurations separated by `;` are
/// compared on one line each. Judge them on the k-fold figure, not on the eval sets.
fn options_from_env() -> anyhow::Result<Vec<ModelOptions>> {
    let Ok(spec) = std::env::var("INTENT_MODEL_OPTIONS") else { return Ok(vec![ModelOptions::default()]) };
    spec.split(';').map(parse_options).collect()
}

fn parse_options(spec: &str) -> anyhow::Result<ModelOptions> {
    let mut options = ModelOptions::default();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = part.split_once('=').with_context(|| format!("expected key=value, got {part}"))?;
        let value = value.trim();
        match key.trim() {
            "epochs" => options.epochs = value.parse()?,
            "lr" => options.learning_rate = value.parse()?,
            "l2" => options.l2 = value.parse()?,
            "dense" => options.dense_scale = value.parse()?,
            "lexical" => options.lexical_scale = value.parse()?,
            "folds" => options.folds = value.parse()?,
            other => bail!("unknown model option {other}"),
        }
    }
    Ok(options)
}

pub(super) use super::intent_fallback::FallbackTarget;

pub(super) fn run(settings: &Settings, verbose: bool, final_split: bool, fallback: Option<FallbackTarget<'_>>) -> anyhow::Result<()> {
    let examples = load_examples(&settings.fixtures_dir.join("intents"))?;
    let mut sets = Vec::new();
    let chosen: Vec<(&str, &str, &str)> = if final_split { vec![FINAL_SET] } else { SETS.to_vec() };
    for (name, file, about) in chosen {
        let path = settings.fixtures_dir.join(file);
        if name != "held-out" && name != "independent" && !path.exists() {
            continue;
        }
        sets.push(EvalSet { name, file, about, cases: load_cases(&path)? });
    }
    let is_training = |text: &str| examples.iter().any(|e| e.text.trim().eq_ignore_ascii_case(text.trim()));
    if final_split {
        // Written apart from the training text, the final split can still meet it word for word
        // (a generic phrase both wrote): such messages are left out of the score, and counted.
        for set in &mut sets {
            let before = set.cases.len();
            set.cases.retain(|c| !is_training(&c.text));
            println!("{} set: {} of {before} messages are also training examples, left out", set.name, before - set.cases.len());
        }
    }
    // Held out means held out: no eval message may also be a training example.
    for case in sets.iter().flat_map(|s| &s.cases) {
        if is_training(&case.text) {
            bail!("eval message is also a training example: {}", case.text);
        }
    }

    let embedder = super::embedder(settings)?;
    let started = Instant::now();
    let example_texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let example_vectors = embedder.embed_batch(&example_texts)?;
    let embed_examples = started.elapsed();
    let configurations = options_from_env()?;
    if configurations.len() > 1 {
        return compare(&configurations, &examples, &example_vectors, &sets, embedder.as_ref());
    }
    let started = Instant::now();
    let model = IntentModel::from_examples_with(&examples, &example_vectors, configurations[0])?;
    let fit_time = started.elapsed();
    let fit = model.fit();

    println!(
        "intent model: {} training examples ({} labels); embedding them {:.2} s, fitting {:.3} s",
        examples.len(),
        IntentLabel::ALL.len(),
        embed_examples.as_secs_f64(),
        fit_time.as_secs_f64()
    );
    println!(
        "mixing fitted on {}-fold out-of-fold predictions: head {}, k-NN {}, keywords {}; k-fold accuracy on the training examples {:.3}",
        fit.folds, fit.mixing.head_weight, fit.mixing.knn_weight, fit.mixing.keyword_weight, fit.cross_validated_accuracy
    );
    report_k_fold(&examples, model.out_of_fold_verdicts(), verbose);

    let fallback = fallback.map(|target| super::intent_fallback::FallbackEval::start(settings, target)).transpose()?;
    let mut first = true;
    for set in &sets {
        let verdicts = report(set, &model, embedder.as_ref(), &example_vectors, verbose, first)?;
        if let Some(fallback) = &fallback {
            let truth: Vec<IntentLabel> = set.cases.iter().map(|c| c.label).collect();
            let texts: Vec<&str> = set.cases.iter().map(|c| c.text.as_str()).collect();
            fallback.report(&model, &texts, &truth, &verdicts)?;
        }
        first = false;
    }
    Ok(())
}

/// One line per configuration: fit time, k-fold accuracy and the accuracy on each set.
fn compare(
    configurations: &[ModelOptions],
    examples: &[tria_intent::LabelledExample],
    example_vectors: &[Vec<f32>],
    sets: &[EvalSet],
    embedder: &dyn Embedder,
) -> anyhow::Result<()> {
    let mut set_vectors = Vec::new();
    for set in sets {
        let texts: Vec<&str> = set.cases.iter().map(|c| c.text.as_str()).collect();
        set_vectors.push(embedder.embed_batch(&texts)?);
    }
    for options in configurations {
        let started = Instant::now();
        let model = IntentModel::from_examples_with(examples, example_vectors, *options)?;
        let fit_time = started.elapsed();
        let fit = model.fit();
        print!("{options:?}: fit {:.2} s, k-fold {:.3}, mixing {:?}", fit_time.as_secs_f64(), fit.cross_validated_accuracy, fit.mixing);
        for (set, vectors) in sets.iter().zip(&set_vectors) {
            let right = set.cases.iter().zip(vectors).filter(|(c, v)| model.classify_embedded(&c.text, Some(v)).label == c.label).count();
            print!(", {} {:.3}", set.name, right as f64 / set.cases.len().max(1) as f64);
        }
        println!();
    }
    Ok(())
}

/// Eval messages this close (cosine) to a training example count as near-duplicates: reported so
/// a reader can see the score is not carried by paraphrases of the training set.
const NEAR_DUPLICATE: f32 = 0.95;

fn report(
    set: &EvalSet,
    model: &IntentModel,
    embedder: &dyn Embedder,
    example_vectors: &[Vec<f32>],
    verbose: bool,
    full_report: bool,
) -> anyhow::Result<Vec<Classification>> {
    let cases = &set.cases;
    let started = Instant::now();
    let case_texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let vectors = embedder.embed_batch(&case_texts)?;
    let verdicts: Vec<_> = cases.iter().zip(&vectors).map(|(c, v)| model.classify_embedded(&c.text, Some(v))).collect();
    let classify = started.elapsed();
    let rules: Vec<IntentLabel> = cases.iter().map(|c| RuleClassifier.classify(&c.text).label).collect();

    let truth: Vec<IntentLabel> = cases.iter().map(|c| c.label).collect();
    let predicted: Vec<IntentLabel> = verdicts.iter().map(|v| v.label).collect();
    let full = score(&truth, &predicted);
    let rules_only = score(&truth, &rules);

    println!();
    println!("== {} set: {} ({} messages, {})", set.name, set.file, cases.len(), set.about);
    println!("classify: {:.1} ms per message (batch-embedded)", classify.as_secs_f64() * 1000.0 / cases.len().max(1) as f64);
    let near_duplicates = vectors
        .iter()
        .filter(|v| example_vectors.iter().any(|e| e.iter().zip(v.iter()).map(|(a, b)| a * b).sum::<f32>() >= NEAR_DUPLICATE))
        .count();
    println!("near-duplicates of a training example (cosine >= {NEAR_DUPLICATE}): {near_duplicates}");
    println!("{:<34} {:>9} {:>9}", "classifier", "accuracy", "macro-F1");
    println!("{:<34} {:>9.3} {:>9.3}", "linear head + k-NN + rules", full.accuracy, full.macro_f1);
    println!("{:<34} {:>9.3} {:>9.3}", "rules only (no model)", rules_only.accuracy, rules_only.macro_f1);
    let mut languages: Vec<&str> = cases.iter().filter_map(|c| c.lang.as_deref()).collect();
    languages.sort_unstable();
    languages.dedup();
    for lang in languages {
        let ids: Vec<usize> = (0..cases.len()).filter(|&i| cases[i].lang.as_deref() == Some(lang)).collect();
        let right = ids.iter().filter(|&&i| predicted[i] == truth[i]).count();
        println!("  language {lang}: {right}/{} = {:.3}", ids.len(), right as f64 / ids.len().max(1) as f64);
    }
    let mut slices: Vec<&str> = cases.iter().filter_map(|c| c.slice.as_deref()).collect();
    slices.sort_unstable();
    slices.dedup();
    for slice in &slices {
        let ids: Vec<usize> = (0..cases.len()).filter(|&i| cases[i].slice.as_deref() == Some(*slice)).collect();
        let right = ids.iter().filter(|&&i| predicted[i] == truth[i]).count();
        println!("  slice {slice}: {right}/{} = {:.3}", ids.len(), right as f64 / ids.len().max(1) as f64);
    }
    if !slices.is_empty() {
        for label in IntentLabel::ALL {
            let ids: Vec<usize> = (0..cases.len()).filter(|&i| truth[i] == label).collect();
            let right = ids.iter().filter(|&&i| predicted[i] == truth[i]).count();
            println!("  label {label}: {right}/{} = {:.3}", ids.len(), right as f64 / ids.len().max(1) as f64);
        }
    }
    if !full_report {
        if verbose {
            print_misclassified(cases, &verdicts);
        }
        return Ok(verdicts);
    }
    println!();
    println!("{:<16} {:>7} {:>9} {:>7}", "intent", "support", "precision", "recall");
    for (i, label) in IntentLabel::ALL.iter().enumerate() {
        let support: usize = full.confusion[i].iter().sum();
        let predicted_as: usize = (0..10).map(|r| full.confusion[r][i]).sum();
        let tp = full.confusion[i][i];
        println!(
            "{:<16} {:>7} {:>9.3} {:>7.3}",
            label.as_str(),
            support,
            tp as f64 / predicted_as.max(1) as f64,
            tp as f64 / support.max(1) as f64
        );
    }
    println!();
    println!("confusion matrix (rows: truth, columns: predicted)");
    let short = |l: &IntentLabel| l.as_str().chars().take(6).collect::<String>();
    print!("{:<16}", "");
    for l in IntentLabel::ALL.iter() {
        print!(" {:>6}", short(l));
    }
    println!();
    for (i, l) in IntentLabel::ALL.iter().enumerate() {
        print!("{:<16}", l.as_str());
        for c in 0..10 {
            print!(" {:>6}", full.confusion[i][c]);
        }
        println!();
    }
    // Calibration: how often the label is right at each confidence level.
    println!();
    println!("calibration (confidence bucket: messages, accuracy)");
    for (lo, hi) in [(0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)] {
        let in_bucket: Vec<_> = verdicts.iter().zip(&truth).filter(|(v, _)| v.confidence >= lo && v.confidence < hi).collect();
        let right = in_bucket.iter().filter(|(v, t)| v.label == **t).count();
        println!("  [{lo:.1}, {:.1}): {:>4}, {:.3}", hi.min(1.0), in_bucket.len(), right as f64 / in_bucket.len().max(1) as f64);
    }
    if verbose {
        print_misclassified(cases, &verdicts);
    }
    Ok(verdicts)
}

/// The k-fold figure per label, its calibration and (verbose) the training examples it misses:
/// the figure options are tuned on, so the one to read when changing training text or features.
fn report_k_fold(examples: &[tria_intent::LabelledExample], verdicts: &[(IntentLabel, f32)], verbose: bool) {
    let recall: Vec<String> = IntentLabel::ALL
        .iter()
        .map(|label| {
            let ids: Vec<usize> = (0..examples.len()).filter(|&i| examples[i].label == *label).collect();
            let right = ids.iter().filter(|&&i| verdicts[i].0 == *label).count();
            format!("{} {:.3}", label.as_str(), right as f64 / ids.len().max(1) as f64)
        })
        .collect();
    println!("k-fold recall: {}", recall.join(", "));
    let buckets: Vec<String> = [(0.0f32, 0.5f32), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)]
        .iter()
        .map(|&(lo, hi)| {
            let in_bucket: Vec<usize> = (0..verdicts.len()).filter(|&i| verdicts[i].1 >= lo && verdicts[i].1 < hi).collect();
            let right = in_bucket.iter().filter(|&&i| verdicts[i].0 == examples[i].label).count();
            format!("[{lo:.1}, {:.1}) {} {:.3}", hi.min(1.0), in_bucket.len(), right as f64 / in_bucket.len().max(1) as f64)
        })
        .collect();
    println!("k-fold calibration (bucket messages accuracy): {}", buckets.join("; "));
    if verbose {
        for (example, (label, confidence)) in examples.iter().zip(verdicts).filter(|(e, (l, _))| e.label != *l) {
            println!("  k-fold miss {:<16} -> {:<16} {confidence:.2}  {}", example.label.as_str(), label.as_str(), example.text);
        }
    }
}

fn print_misclassified(cases: &[Case], verdicts: &[Classification]) {
    println!();
    println!("misclassified:");
    for (case, verdict) in cases.iter().zip(verdicts).filter(|(c, v)| c.label != v.label) {
        println!("  {:<16} -> {:<16} {:.2}  {}", case.label.as_str(), verdict.label.as_str(), verdict.confidence, case.text);
    }
}
