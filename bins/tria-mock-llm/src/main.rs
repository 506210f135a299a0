//! `tria-mock-llm`: serve the mock LLM (OpenAI-compatible, Anthropic or Azure) until interrupted.
#![allow(clippy::print_stdout)] // prints the address it listens on, for scripts

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tria_mock_llm::{Fault, MockConfig, MockServer, Provider};

#[derive(Debug, Parser)]
#[command(about = "Mock LLM (OpenAI-compatible, Anthropic Messages or Azure OpenAI) for tests and load tests")]
struct Cli {
    /// The protocol spoken: openai, anthropic or azure (whose one deployment is --model).
    #[arg(long, env = "TRIA_MOCK_LLM_PROTOCOL", default_value = "openai", value_parser = |s: &str| s.parse::<Provider>())]
    protocol: Provider,
    #[arg(long, env = "TRIA_MOCK_LLM_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Fixed delay before each response head.
    #[arg(long, env = "TRIA_MOCK_LLM_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Extra random delay, uniform in [0, jitter].
    #[arg(long, env = "TRIA_MOCK_LLM_JITTER_MS", default_value_t = 0)]
    jitter_ms: u64,
    /// Share of requests answered 500/503, 0..1.
    #[arg(long, env = "TRIA_MOCK_LLM_ERROR_RATE", default_value_t = 0.0)]
    error_rate: f64,
    /// Share of requests answered 429, 0..1.
    #[arg(long, env = "TRIA_MOCK_LLM_RATE_LIMIT_RATE", default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// Retry-After of the 429s, seconds.
    #[arg(long, env = "TRIA_MOCK_LLM_RETRY_AFTER_SECS", default_value_t = 1)]
    retry_after_secs: u64,
    /// Delay between streamed tokens.
    #[arg(long, env = "TRIA_MOCK_LLM_TOKEN_DELAY_MS", default_value_t = 0)]
    token_delay_ms: u64,
    #[arg(long, env = "TRIA_MOCK_LLM_SEED", default_value_t = 42)]
    seed: u64,
    /// Echo 1..=max-sentences grounding sentences at random instead of always the maximum.
    #[arg(long, env = "TRIA_MOCK_LLM_VARY_REPLIES")]
    vary_replies: bool,
    #[arg(long, env = "TRIA_MOCK_LLM_MAX_SENTENCES", default_value_t = 2)]
    max_sentences: usize,
    #[arg(long, env = "TRIA_MOCK_LLM_MODEL", default_value = "tria-mock")]
    model: String,
    /// Fail every request this way (a provider that is down): hung, 500, 503,
    /// slow-first-token, stall, 429 (with --retry-after-secs), malformed-sse, wrong-json, reset.
    #[arg(long, env = "TRIA_MOCK_LLM_FAULT")]
    fault: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let cli = Cli::parse();
    for (name, rate) in [("--error-rate", cli.error_rate), ("--rate-limit-rate", cli.rate_limit_rate)] {
        anyhow::ensure!((0.0..=1.0).contains(&rate), "{name} must be between 0 and 1, got {rate}");
    }
    let config = MockConfig {
        model: cli.model,
        latency: Duration::from_millis(cli.latency_ms),
        jitter: Duration::from_millis(cli.jitter_ms),
        error_rate: cli.error_rate,
        rate_limit_rate: cli.rate_limit_rate,
        retry_after: Duration::from_secs(cli.retry_after_secs),
        token_delay: Duration::from_millis(cli.token_delay_ms),
        seed: cli.seed,
        vary_replies: cli.vary_replies,
        max_sentences: cli.max_sentences,
        protocol: cli.protocol,
    };
    let fault = cli.fault.as_deref().map(|name| Fault::from_name(name, cli.retry_after_secs)).transpose().map_err(anyhow::Error::msg)?;
    let server = MockServer::bind(config, cli.listen).await?;
    server.set_fault(fault);
    println!("tria-mock-llm ({}) listening on {}", cli.protocol, server.base_url());
    tokio::select! {
        () = server.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
