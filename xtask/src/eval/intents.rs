//! `eval intents`: accuracy, macro-F1, per-intent precision and recall and the confusion matrix
//! of the full classifier, with the rules-only classifier for comparison.

use std::time::Instant;

use anyhow::{Context, bail};
use serde::Deserialize;
use tria_config::Settings;
use tria_core::IntentLabel;
use tria_intent::{IntentClassifier, IntentModel, RuleClassifier, load_examples};

#[derive(Debug, Deserialize)]
struct Case {
    label: IntentLabel,
    text: String,
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

pub(super) fn run(settings: &Settings, verbose: bool) -> anyhow::Result<()> {
    let examples = load_examples(&settings.fixtures_dir.join("intents"))?;
    let path = settings.fixtures_dir.join("eval/intents.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect::<Result<_, _>>()?;
    // Held out means held out: no eval message may also be a training example.
    for case in &cases {
        if examples.iter().any(|e| e.text.trim().eq_ignore_ascii_case(case.text.trim())) {
            bail!("eval message is also a training example: {}", case.text);
        }
    }

    let embedder = super::embedder(settings)?;
    let started = Instant::now();
    let example_texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let example_vectors = embedder.embed_batch(&example_texts)?;
    let model = IntentModel::from_examples(&examples, &example_vectors)?;
    let build = started.elapsed();
    let (temperature, keyword_weight) = model.calibration();

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

    println!("intent eval: {} held-out messages, {} training examples ({} labels)", cases.len(), examples.len(), IntentLabel::ALL.len());
    println!("model: build {:.2} s (embedding examples + calibration: temperature {temperature}, keyword weight {keyword_weight})", build.as_secs_f64());
    println!("classify: {:.1} ms per message (batch-embedded)", classify.as_secs_f64() * 1000.0 / cases.len().max(1) as f64);
    println!();
    println!("{:<28} {:>9} {:>9}", "classifier", "accuracy", "macro-F1");
    println!("{:<28} {:>9.3} {:>9.3}", "embedding k-NN + rules", full.accuracy, full.macro_f1);
    println!("{:<28} {:>9.3} {:>9.3}", "rules only (no model)", rules_only.accuracy, rules_only.macro_f1);
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
        println!();
        println!("misclassified:");
        for ((case, verdict), _) in cases.iter().zip(&verdicts).zip(&truth).filter(|((c, v), _)| c.label != v.label) {
            println!("  {:<16} -> {:<16} {:.2}  {}", case.label.as_str(), verdict.label.as_str(), verdict.confidence, case.text);
        }
    }
    Ok(())
}
