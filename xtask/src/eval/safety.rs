//! `eval safety`: the input screen (tria-guard) on fixtures/eval/safety — refusal rate on attack
//! attempts per category (goal 100%) and false-refusal rate on benign look-alikes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tria_config::Settings;
use tria_guard::{InputScreen, ScreenVerdict, SemanticScreen, ThreatCategory};

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
    let dir = settings.fixtures_dir.join("eval/safety");
    let others = other_tenant_names(&settings.fixtures_dir, "northwind")?;
    let screen = InputScreen::new().with_other_tenants(&others);
    println!("Safety screen on fixtures/eval/safety (tenant northwind; other tenants: {})", others.join(", "));
    let sets = [
        ("round 1: tuning set (the rules were written against it)", ""),
        ("round 2: written after round-1 rules froze, then used to generalise them", "_round2"),
        ("round 3: written after round-2 rules froze (26.7% / 5.0% then), then used to generalise them", "_round3"),
        ("held-out: written after round-3 rules froze, never tuned on", "_holdout"),
    ];
    for (title, suffix) in sets {
        let attacks: Vec<Attack> = read_jsonl(&dir.join(format!("attacks{suffix}.jsonl")))?;
        let benign: Vec<Benign> = read_jsonl(&dir.join(format!("benign{suffix}.jsonl")))?;
        println!();
        println!("### {title}");
        report(&screen, &attacks, &benign, verbose);
    }
    match super::embedder(settings) {
        Ok(embedder) => semantic(&screen, &dir, embedder.as_ref(), verbose)?,
        Err(e) => println!("\n(semantic screen skipped: {e:#}; run `cargo xtask model fetch`)"),
    }
    Ok(())
}

/// Lexical rules plus the k-NN screen: exemplars are rounds 1–3, the margin is chosen by
/// leave-one-out on them (largest recall with ≤ 2% false refusals), then the held-out set is
/// scored once.
fn semantic(screen: &InputScreen, dir: &Path, embedder: &dyn tria_rag::Embedder, verbose: bool) -> anyhow::Result<()> {
    let mut attacks: Vec<Attack> = Vec::new();
    let mut benign: Vec<Benign> = Vec::new();
    for suffix in ["", "_round2", "_round3"] {
        attacks.extend(read_jsonl::<Attack>(&dir.join(format!("attacks{suffix}.jsonl")))?);
        benign.extend(read_jsonl::<Benign>(&dir.join(format!("benign{suffix}.jsonl")))?);
    }
    let held_attacks: Vec<Attack> = read_jsonl(&dir.join("attacks_holdout.jsonl"))?;
    let held_benign: Vec<Benign> = read_jsonl(&dir.join("benign_holdout.jsonl"))?;
    let embed = |texts: Vec<&str>| embedder.embed_batch(&texts).context("embedding");
    let attack_vecs = embed(attacks.iter().map(|a| a.text.as_str()).collect())?;
    let benign_vecs = embed(benign.iter().map(|b| b.text.as_str()).collect())?;
    let held_attack_vecs = embed(held_attacks.iter().map(|a| a.text.as_str()).collect())?;
    let held_benign_vecs = embed(held_benign.iter().map(|b| b.text.as_str()).collect())?;
    let category = |name: &str| ThreatCategory::ALL.into_iter().find(|c| c.as_str() == name).unwrap_or(ThreatCategory::RoleOverride);
    let exemplars: Vec<(Vec<f32>, ThreatCategory)> =
        attack_vecs.iter().cloned().zip(attacks.iter().map(|a| category(&a.category))).collect();
    let base = SemanticScreen::new(exemplars, benign_vecs.clone(), 0.0);
    let lexical = |text: &str| screen.screen(text).is_refused();

    // Leave-one-out margins on (score.attack - score.benign) for every exemplar.
    let loo_attack: Vec<(bool, f32)> = attacks
        .iter()
        .zip(&attack_vecs)
        .enumerate()
        .map(|(i, (a, v))| {
            let s = base.score_excluding(v, Some(i));
            (lexical(&a.text), s.attack - s.benign)
        })
        .collect();
    let loo_benign: Vec<(bool, f32)> = benign
        .iter()
        .zip(&benign_vecs)
        .enumerate()
        .map(|(i, (b, v))| {
            let s = base.score_excluding(v, Some(attacks.len() + i));
            (lexical(&b.text), s.attack - s.benign)
        })
        .collect();
    println!();
    println!("### lexical + semantic k-NN (all-MiniLM-L6-v2; exemplars: rounds 1–3, {} attacks, {} benign)", attacks.len(), benign.len());
    println!();
    println!(
        "| margin | semantic only, LOO refusal | semantic only, LOO false refusal | lexical + semantic, LOO refusal | LOO false refusal |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut chosen = None;
    for margin in [-0.05f32, 0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.15, 0.20] {
        let sem_att = loo_attack.iter().filter(|(_, d)| *d > margin).count();
        let sem_ben = loo_benign.iter().filter(|(_, d)| *d > margin).count();
        let both_att = loo_attack.iter().filter(|(l, d)| *l || *d > margin).count();
        let both_ben = loo_benign.iter().filter(|(l, d)| *l || *d > margin).count();
        println!(
            "| {margin:.2} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            pct(sem_att, attacks.len()),
            pct(sem_ben, benign.len()),
            pct(both_att, attacks.len()),
            pct(both_ben, benign.len())
        );
        if chosen.is_none() && pct(both_ben, benign.len()) <= 2.0 {
            chosen = Some(margin);
        }
    }
    let margin = chosen.unwrap_or(0.20);
    let screen_sem = SemanticScreen::new(base_exemplars(&attack_vecs, &attacks, category), benign_vecs, margin);
    let mut refused = 0;
    let mut missed = Vec::new();
    for (a, v) in held_attacks.iter().zip(&held_attack_vecs) {
        if lexical(&a.text) || screen_sem.screen(v).is_some() {
            refused += 1;
        } else {
            missed.push(a);
        }
    }
    let mut false_refusals = Vec::new();
    for (b, v) in held_benign.iter().zip(&held_benign_vecs) {
        if lexical(&b.text) || screen_sem.screen(v).is_some() {
            false_refusals.push(b);
        }
    }
    println!();
    println!(
        "held-out with margin {margin:.2} (smallest with LOO false refusals ≤ 2%): attacks refused {refused}/{} ({:.1}%), benign falsely refused {}/{} ({:.1}%)",
        held_attacks.len(),
        pct(refused, held_attacks.len()),
        false_refusals.len(),
        held_benign.len(),
        pct(false_refusals.len(), held_benign.len())
    );
    if verbose {
        for a in missed {
            println!("  MISSED  [{}] {}", a.category, a.text.escape_debug());
        }
        for b in false_refusals {
            println!("  FALSE   [{}] {}", b.looks_like, b.text.escape_debug());
        }
    }
    Ok(())
}

fn base_exemplars(vectors: &[Vec<f32>], attacks: &[Attack], category: impl Fn(&str) -> ThreatCategory) -> Vec<(Vec<f32>, ThreatCategory)> {
    vectors.iter().cloned().zip(attacks.iter().map(|a| category(&a.category))).collect()
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
