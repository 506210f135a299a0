//! `eval safety`: the input screen (tria-guard) on fixtures/eval/safety — refusal rate on attack
//! attempts per category (goal 100%) and false-refusal rate on benign look-alikes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tria_config::Settings;
use tria_guard::{InputScreen, ScreenVerdict};

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
