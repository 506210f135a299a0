//! `eval safety`: the input screen (tria-guard) — the lexical rules on the training rounds in
//! fixtures/safety (regression sets), the learned screen by cross-validation on them, and both on
//! the held-out set in fixtures/eval/safety: refusal rate on attack attempts per category (goal
//! 100%) and false-refusal rate on benign look-alikes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tria_config::Settings;
use tria_guard::{InputScreen, LearnedScreen, ScreenVerdict};

#[derive(Debug, Deserialize)]
struct Attack {
    category: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Benign {
    looks_like: String,
    text: String,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
}

/// `name` and `slug` of every demo tenant except `own`, read from fixtures/tenants/*/tenant.toml.
fn other_tenant_names(fixtures: &Path, own: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(fixtures.join("tenants"))? {
        let dir = entry?.path();
        if dir.file_name().and_then(|n| n.to_str()) == Some(own) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join("tenant.toml")) else { continue };
        for line in text.lines() {
            for key in ["name", "slug"] {
                if let Some(value) = line.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix('=')) {
                    names.push(value.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    Ok(names)
}

pub(super) fn run(settings: &Settings, verbose: bool) -> anyhow::Result<()> {
    let train_dir = settings.fixtures_dir.join("safety");
    let heldout_dir = settings.fixtures_dir.join("eval/safety");
    let others = other_tenant_names(&settings.fixtures_dir, "northwind")?;
    let screen = InputScreen::new().with_other_tenants(&others);
    println!("Safety screen (tenant northwind; other tenants: {})", others.join(", "));
    println!();
    println!("## Lexical rules on the training rounds (fixtures/safety; regression sets)");
    for round in 1..=5 {
        let attacks: Vec<Attack> = read_jsonl(&train_dir.join(format!("attacks_round{round}.jsonl")))?;
        let benign: Vec<Benign> = read_jsonl(&train_dir.join(format!("benign_round{round}.jsonl")))?;
        println!();
        println!("### round {round}");
        report(&screen, &attacks, &benign, verbose);
    }
    let held_attacks: Vec<Attack> = read_jsonl(&heldout_dir.join("attacks_heldout.jsonl"))?;
    let held_benign: Vec<Benign> = read_jsonl(&heldout_dir.join("benign_heldout.jsonl"))?;
    println!();
    println!("## Lexical rules on the held-out set (fixtures/eval/safety, never trained or tuned on)");
    report(&screen, &held_attacks, &held_benign, verbose);
    match super::embedder(settings) {
        Ok(embedder) => learned(&screen, settings, &held_attacks, &held_benign, embedder.as_ref(), verbose)?,
        Err(e) => println!("\n(learned screen skipped: {e:#}; run `cargo xtask model fetch`)"),
    }
    Ok(())
}

const FOLDS: usize = 5;

/// The learned layer: 5-fold cross-validation on the training data (out-of-fold attack
/// probabilities → refusal and false-refusal rates per threshold, split into the labelled
/// look-alikes and the intent examples), then the production screen — trained on everything,
/// default threshold — on the held-out set once.
fn learned(
    screen: &InputScreen,
    settings: &Settings,
    held_attacks: &[Attack],
    held_benign: &[Benign],
    embedder: &dyn tria_rag::Embedder,
    verbose: bool,
) -> anyhow::Result<()> {
    let examples = tria_agent::safety::safety_training_set(&settings.fixtures_dir)?;
    let look_alikes = std::fs::read_dir(settings.fixtures_dir.join("safety"))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("benign"))
        .map(|e| read_jsonl::<Benign>(&e.path()).map(|v| v.len()))
        .sum::<anyhow::Result<usize>>()?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let cache = settings.models_dir.join("vector-cache");
    let vectors = tria_rag::embed_batch_cached(embedder, &texts, &cache).context("embedding the training set")?;
    let attacks_n = examples.iter().filter(|e| e.category.is_some()).count();
    println!();
    println!(
        "## Learned screen (softmax regression over all-MiniLM-L6-v2 + hashed words): {} training messages — {attacks_n} attacks, {look_alikes} look-alikes, {} intent examples",
        examples.len(),
        examples.len() - attacks_n - look_alikes
    );
    // Out-of-fold attack probabilities, fold = index mod FOLDS.
    let mut oof = vec![0.0f32; examples.len()];
    for fold in 0..FOLDS {
        let train: Vec<usize> = (0..examples.len()).filter(|i| i % FOLDS != fold).collect();
        let model = LearnedScreen::train(
            &train.iter().map(|&i| examples[i].clone()).collect::<Vec<_>>(),
            &train.iter().map(|&i| vectors[i].clone()).collect::<Vec<_>>(),
        );
        for i in (0..examples.len()).filter(|i| i % FOLDS == fold) {
            oof[i] = model.score(&examples[i].text, &vectors[i]).attack;
        }
    }
    let lexical: Vec<bool> = examples.iter().map(|e| screen.screen(&e.text).is_refused()).collect();
    // Look-alikes come first in the benign part of the training set (the intent examples follow).
    let is_look_alike = |i: usize| examples[i].category.is_none() && i < attacks_n + look_alikes;
    println!();
    println!("5-fold cross-validation (out-of-fold), lexical rules OR learned screen:");
    println!();
    println!("| threshold | attacks refused | look-alikes falsely refused | intent examples falsely refused |");
    println!("|---:|---:|---:|---:|");
    for threshold in [0.3f32, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
        let refused = |i: usize| lexical[i] || oof[i] > threshold;
        let att = (0..examples.len()).filter(|&i| examples[i].category.is_some() && refused(i)).count();
        let la = (0..examples.len()).filter(|&i| is_look_alike(i) && refused(i)).count();
        let intents_n = examples.len() - attacks_n - look_alikes;
        let it = (0..examples.len()).filter(|&i| examples[i].category.is_none() && !is_look_alike(i) && refused(i)).count();
        let mark = if (threshold - tria_guard::learned::DEFAULT_THRESHOLD).abs() < 1e-6 { " ← default" } else { "" };
        println!(
            "| {threshold:.1}{mark} | {:.1}% ({att}/{attacks_n}) | {:.1}% ({la}/{look_alikes}) | {:.2}% ({it}/{intents_n}) |",
            pct(att, attacks_n),
            pct(la, look_alikes),
            pct(it, intents_n)
        );
    }

    // The production screen: everything, default threshold.
    let production = screen.clone().with_learned(std::sync::Arc::new(LearnedScreen::train(&examples, &vectors)));
    let held_attack_vecs = embedder.embed_batch(&held_attacks.iter().map(|a| a.text.as_str()).collect::<Vec<_>>())?;
    let held_benign_vecs = embedder.embed_batch(&held_benign.iter().map(|b| b.text.as_str()).collect::<Vec<_>>())?;
    let mut per_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    for (a, v) in held_attacks.iter().zip(&held_attack_vecs) {
        let entry = per_category.entry(a.category.as_str()).or_default();
        entry.0 += 1;
        if production.screen_embedded(&a.text, Some(v)).is_refused() {
            entry.1 += 1;
        } else {
            missed.push(a);
        }
    }
    let mut false_refusals = Vec::new();
    for (b, v) in held_benign.iter().zip(&held_benign_vecs) {
        if let ScreenVerdict::Refuse(r) = production.screen_embedded(&b.text, Some(v)) {
            false_refusals.push((b, r));
        }
    }
    let refused: usize = per_category.values().map(|v| v.1).sum();
    println!();
    println!(
        "### Held-out (fixtures/eval/safety), lexical + learned at threshold {:.2}: attacks refused {refused}/{} ({:.1}%), look-alikes falsely refused {}/{} ({:.1}%)",
        tria_guard::learned::DEFAULT_THRESHOLD,
        held_attacks.len(),
        pct(refused, held_attacks.len()),
        false_refusals.len(),
        held_benign.len(),
        pct(false_refusals.len(), held_benign.len())
    );
    println!();
    println!("| category | attempts | refused |");
    println!("|---|---:|---:|");
    for (category, (n, r)) in &per_category {
        println!("| {category} | {n} | {r} |");
    }
    for a in &missed {
        println!("  MISSED  [{}] {}", a.category, a.text.escape_debug());
    }
    for (b, r) in &false_refusals {
        println!("  FALSE   [{} → {} / {}] {}", b.looks_like, r.category.as_str(), r.rule, b.text.escape_debug());
    }
    if verbose {
        for (a, v) in held_attacks.iter().zip(&held_attack_vecs) {
            let learned = production.learned().map(|l| l.score(&a.text, v).attack).unwrap_or_default();
            println!("  score {learned:.3} [{}] {}", a.category, a.text.escape_debug());
        }
    }
    Ok(())
}

fn report(screen: &InputScreen, attacks: &[Attack], benign: &[Benign], verbose: bool) {
    // The first screen compiles every pattern; keep that out of the per-message time.
    let _ = screen.screen("warm-up");
    let started = Instant::now();
    // category → (attempts, refused, refused with the same category)
    let mut per_category: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    for attack in attacks {
        let entry = per_category.entry(attack.category.as_str()).or_default();
        entry.0 += 1;
        match screen.screen(&attack.text) {
            ScreenVerdict::Refuse(refusal) => {
                entry.1 += 1;
                if refusal.category.as_str() == attack.category {
                    entry.2 += 1;
                }
            }
            ScreenVerdict::Allow => missed.push(attack),
        }
    }
    let mut false_refusals = Vec::new();
    for case in benign {
        if let ScreenVerdict::Refuse(refusal) = screen.screen(&case.text) {
            false_refusals.push((case, refusal));
        }
    }
    let per_message = started.elapsed() / u32::try_from(attacks.len() + benign.len()).unwrap_or(1).max(1);

    println!();
    println!("| category | attempts | refused | refusal rate | same category |");
    println!("|---|---:|---:|---:|---:|");
    for (category, (n, refused, same)) in &per_category {
        println!("| {category} | {n} | {refused} | {:.1}% | {same} |", pct(*refused, *n));
    }
    let refused: usize = per_category.values().map(|v| v.1).sum();
    println!("| **all attacks** | {} | {refused} | **{:.1}%** | |", attacks.len(), pct(refused, attacks.len()));
    println!();
    println!(
        "benign look-alikes: {} messages, {} refused — false-refusal rate {:.1}%",
        benign.len(),
        false_refusals.len(),
        pct(false_refusals.len(), benign.len())
    );
    println!("screening time: {per_message:?} per message (mean, this build)");
    for attack in &missed {
        println!("  MISSED  [{}] {}", attack.category, attack.text.escape_debug());
    }
    for (case, refusal) in &false_refusals {
        println!("  FALSE   [{} → {} / {}] {}", case.looks_like, refusal.category.as_str(), refusal.rule, case.text.escape_debug());
    }
    if verbose {
        for attack in attacks {
            if let ScreenVerdict::Refuse(r) = screen.screen(&attack.text) {
                println!("  refused [{} → {} / {}] {}", attack.category, r.category.as_str(), r.rule, attack.text.escape_debug());
            }
        }
    }
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}
