//! `eval answers`: the whole pipeline (offline grounded responder) on fixtures/eval/answers.jsonl
//! — policy and product questions for the demo tenants with the facts a right answer states.
//! Reports correctness (every expected fact present), the ungrounded-number rate (numbers in a
//! reply that are in none of the sources it cites nor the question; goal 0) and p50/p99 latency
//! of `Agent::chat` per question (each in a fresh conversation, so every answer is computed).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tria_config::Settings;
use tria_core::ChatRequest;
use tria_guard::check_grounding;

use super::harness::{EvalWorld, fact_present, percentile, read_jsonl};

#[derive(Debug, Deserialize)]
struct Case {
    tenant: String,
    kind: String,
    question: String,
    /// Each must appear in the reply (case-insensitive); `a|b` accepts either.
    facts: Vec<String>,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    correct: usize,
    with_numbers: usize,
    ungrounded: usize,
}

pub(super) fn run(settings: &Settings, semantic: bool, verbose: bool) -> anyhow::Result<()> {
    let cases: Vec<Case> = read_jsonl(&settings.fixtures_dir.join("eval/answers.jsonl"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let world = EvalWorld::open(settings, semantic).await?;
        let agent = world.agent(None);
        println!("Answers on fixtures/eval/answers.jsonl ({} questions; offline grounded responder; {})", cases.len(), world.describe());
        // Warm the per-tenant indexes so the first question does not pay for loading them.
        for tenant in world.tenants.values() {
            agent.reindexed(tenant.id).await?;
        }
        let mut tallies: HashMap<&str, Tally> = HashMap::new();
        let mut latencies = Vec::with_capacity(cases.len());
        for case in &cases {
            let tenant = world.tenant(&case.tenant)?;
            let started = Instant::now();
            let reply = agent.chat(tenant, ChatRequest::new(case.question.clone())).await.with_context(|| case.question.clone())?;
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
            let missing: Vec<&str> = case.facts.iter().map(String::as_str).filter(|f| !fact_present(&reply.reply, f)).collect();
            let grounding = world.grounding(tenant, &reply.sources).await?;
            let mut texts: Vec<&str> = grounding.iter().map(String::as_str).collect();
            texts.push(&case.question);
            let report = check_grounding(&reply.reply, &texts);
            for kind in [case.kind.as_str(), "all"] {
                let tally = tallies.entry(kind).or_default();
                tally.cases += 1;
                tally.correct += usize::from(missing.is_empty());
                tally.with_numbers += usize::from(!tria_guard::extract_claims(&reply.reply).is_empty());
                tally.ungrounded += usize::from(!report.is_grounded());
            }
            if verbose && (!missing.is_empty() || !report.is_grounded()) {
                println!(
                    "- [{}] {}\n    missing {:?}; ungrounded {:?}\n    reply: {}",
                    case.tenant,
                    case.question,
                    missing,
                    report.ungrounded,
                    reply.reply.replace('\n', " ")
                );
            }
        }
        println!();
        println!("| set | questions | correct (all facts) | replies with numbers | ungrounded-number replies |");
        println!("|---|---:|---:|---:|---:|");
        for kind in ["policy", "product", "all"] {
            if let Some(t) = tallies.get(kind) {
                println!(
                    "| {kind} | {} | {} ({:.1}%) | {} | {} ({:.1}%) |",
                    t.cases,
                    t.correct,
                    100.0 * t.correct as f64 / t.cases.max(1) as f64,
                    t.with_numbers,
                    t.ungrounded,
                    100.0 * t.ungrounded as f64 / t.cases.max(1) as f64
                );
            }
        }
        println!();
        println!(
            "Pipeline latency per question (Agent::chat, cache misses, SQLite): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&mut latencies, 50.0),
            percentile(&mut latencies, 99.0)
        );
        Ok(())
    })
}
