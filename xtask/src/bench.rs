//! `bench pipeline`: the two latency budgets of the chat pipeline, measured on this machine.
//!
//! 1. Overhead beyond the LLM call on a full miss: `Agent::chat` with generation through the
//!    mock LLM (loopback, 0 ms latency), every question new (no cache level can answer), minus
//!    the time inside the generation stage (the LLM round trip). Goal ≤ 20 ms p50.
//! 2. A cache hit end to end through HTTP: `POST /api/chat` on a real socket to the release
//!    `tria-server` binary, started as a process on its embedded defaults (dev profile, a fresh
//!    data dir, the demo tenants and keys; tenant rate limit off), with a keep-alive client, the
//!    same question again and again. Goal ≤ 2 ms p50.
//!
//! The first runs on a throwaway SQLite database seeded with the demo tenants, BM25 retrieval and
//! rule intents. Run in release mode (`cargo run --release -p xtask -- bench pipeline`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use tria_config::Settings;
use tria_core::ChatRequest;
use tria_llm::{LlmClient, OpenAiClient, OpenAiConfig, PromptLibrary};
use tria_mock_llm::{MockConfig, MockServer};

use crate::eval::harness::{EvalWorld, percentile, read_jsonl};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Full-miss overhead with the mock LLM at 0 ms, and a cache hit through HTTP.
    Pipeline {
        /// Requests measured per figure (after a warm-up of 20).
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// Issue 25's onboarding goals over HTTP: a new tenant, a 200-page PDF, 1,000 Markdown
    /// pages, a grounded answer, retrieval at that size, another tenant's chat p99 meanwhile.
    Onboarding(crate::onboarding::OnboardingArgs),
}

/// The dev profile's fixed key for the Northwind demo tenant (README, "Try it").
const NORTHWIND_DEV_KEY: &str = "tria_dev_northwind_4f3c9a1e7b2d48e6a0c5";

#[derive(serde::Deserialize)]
struct Question {
    tenant: String,
    question: String,
}

pub(crate) fn run(args: &BenchArgs, settings: &Settings) -> anyhow::Result<()> {
    match args.which {
        Which::Pipeline { requests } => pipeline(settings, requests),
        Which::Onboarding(ref onboarding) => crate::onboarding::run(onboarding),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pipeline(settings: &Settings, requests: usize) -> anyhow::Result<()> {
    let questions: Vec<Question> = read_jsonl(&settings.fixtures_dir.join("eval/answers.jsonl"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(full_misses(settings, &questions, requests))?;
    // Built and started outside the runtime: starting blocks until the server is ready.
    let fixtures = settings.fixtures_dir.display().to_string();
    let server = crate::loadtest::start_release_server_with(&[("TRIA_LIMITS__TENANT_PER_SECOND", "0"), ("TRIA_FIXTURES_DIR", &fixtures)])?;
    runtime.block_on(cache_hits(server.addr, requests))
}

/// 1. Full misses through the mock LLM at 0 ms.
async fn full_misses(settings: &Settings, questions: &[Question], requests: usize) -> anyhow::Result<()> {
    let world = EvalWorld::open(settings, false).await?;
    println!("Pipeline latency ({}; {requests} requests per figure)", if cfg!(debug_assertions) { "DEBUG build" } else { "release build" });
    let mock = MockServer::start(MockConfig::default()).await.context("mock LLM")?;
    let client: Arc<dyn LlmClient> = Arc::new(OpenAiClient::new(OpenAiConfig::new(mock.base_url(), "tria-mock"))?);
    let agent = world.agent(Some((client, Arc::new(PromptLibrary::embedded()?))));
    for tenant in world.tenants.values() {
        agent.reindexed(tenant.id).await?;
    }
    let (mut total, mut overhead, mut llm) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..requests + 20 {
        let q = &questions[i % questions.len()];
        let tenant = world.tenant(&q.tenant)?;
        // A new wording every time: no cache level has it.
        let message = format!("{} (ticket {i})", q.question);
        let started = Instant::now();
        let (reply, debug) = agent.chat_traced(tenant, ChatRequest::new(message)).await?;
        let elapsed = ms(started.elapsed());
        anyhow::ensure!(reply.cache == tria_core::CacheLevel::None, "request {i} was a cache hit");
        if i >= 20 {
            total.push(elapsed);
            llm.push(debug.timings_ms.generation);
            overhead.push(elapsed - debug.timings_ms.generation);
        }
    }
    println!(
        "- full miss, total: p50 {:.2} ms, p99 {:.2} ms; of which the LLM call (mock, loopback, 0 ms): p50 {:.2} ms",
        percentile(&mut total, 50.0),
        percentile(&mut total, 99.0),
        percentile(&mut llm, 50.0)
    );
    println!(
        "- full miss, pipeline overhead beyond the LLM call: p50 {:.2} ms, p99 {:.2} ms (goal p50 ≤ 20 ms); mock requests: {}",
        percentile(&mut overhead, 50.0),
        percentile(&mut overhead, 99.0),
        mock.stats().requests
    );
    Ok(())
}

/// 2. Cache hits through HTTP on a socket, from the server at `addr`.
async fn cache_hits(addr: SocketAddr, requests: usize) -> anyhow::Result<()> {
    let key = NORTHWIND_DEV_KEY;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/api/chat");
    let body = serde_json::json!({ "message": "What is the restocking fee on returns?" });
    let mut hits = Vec::new();
    for i in 0..requests + 20 {
        let started = Instant::now();
        let response = http.post(&url).bearer_auth(key).json(&body).send().await?;
        let status = response.status();
        let reply: serde_json::Value = response.json().await?;
        let elapsed = ms(started.elapsed());
        anyhow::ensure!(status.is_success(), "HTTP {status}: {reply}");
        if i >= 20 {
            anyhow::ensure!(reply["cache"] != "none", "request {i} was not a cache hit: {reply}");
            hits.push(elapsed);
        }
    }
    println!(
        "- cache hit end to end through HTTP (POST /api/chat, keep-alive): p50 {:.2} ms, p99 {:.2} ms (goal p50 ≤ 2 ms)",
        percentile(&mut hits, 50.0),
        percentile(&mut hits, 99.0)
    );
    Ok(())
}
