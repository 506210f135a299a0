//! Command-line interface: `run`, `compare`, `list`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::scenario::{Endpoint, LoadModel};

#[derive(Debug, Parser)]
#[command(name = "tria-load", version, about = "Load and resilience tests for a Tria deployment")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a target and write the JSON and HTML reports.
    Run(Box<RunArgs>),
    /// Compare two reports; exits 1 when a figure got worse beyond the threshold.
    Compare(CompareArgs),
    /// List the built-in scenarios with their settings and targets.
    List,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenarios to run: built-in names (baseline light medium heavy stress sustained burst spike
    /// soak chaos cached), `seeds` (the first five, the default), or names from --scenario-file.
    pub scenarios: Vec<String>,
    /// Base URL of the Tria server.
    #[arg(long, env = "TRIA_LOAD_TARGET", default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// Allow a target that is not on this machine (loopback). Load tests are attacks to anyone
    /// who did not ask for them: name the target deliberately.
    #[arg(long)]
    pub allow_remote: bool,
    /// Shrink every scenario to seconds (CI).
    #[arg(long)]
    pub quick: bool,
    /// Custom scenarios: a TOML file of [[scenario]] tables (docs/LOAD_TESTING.md).
    #[arg(long)]
    pub scenario_file: Option<PathBuf>,
    /// Conversation scripts (default: the built-in copy of fixtures/load/conversations.toml).
    #[arg(long)]
    pub scripts: Option<PathBuf>,
    /// A tenant to send as: SLUG=API_KEY or SLUG=API_KEY:WEIGHT (repeat). Default: the two dev
    /// demo tenants, northwind 3 : velo 2.
    #[arg(long = "tenant", value_name = "SLUG=KEY[:WEIGHT]")]
    pub tenants: Vec<String>,
    /// Override: users (closed), most in flight (open), the peak of a staged scenario.
    #[arg(long)]
    pub users: Option<u32>,
    /// Override: requests per user (closed).
    #[arg(long)]
    pub requests: Option<u32>,
    /// Override: run for this long instead of a request count, e.g. 90s, 10m, 1h.
    #[arg(long, value_parser = parse_duration_s)]
    pub duration: Option<f64>,
    /// Override: open model at this many arrivals per second.
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    #[arg(long)]
    pub think_time_ms: Option<u64>,
    /// Ramp-up, e.g. 10s.
    #[arg(long, value_parser = parse_duration_s)]
    pub ramp_up: Option<f64>,
    /// Per-request timeout in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    #[arg(long, value_enum)]
    pub endpoint: Option<EndpointArg>,
    /// Do not ask the scripts' questions once before measuring (measure a cold cache).
    #[arg(long)]
    pub no_warmup: bool,
    /// A fault hook: NAME=SHELL COMMAND, run when a scenario's schedule reaches NAME (chaos:
    /// kill-redis, start-redis, llm-faults, llm-normal).
    #[arg(long = "fault-cmd", value_name = "NAME=COMMAND")]
    pub fault_cmds: Vec<String>,
    /// Schedule a hook in every selected scenario: NAME@SECONDS (repeat).
    #[arg(long = "fault-at", value_name = "NAME@SECONDS")]
    pub fault_at: Vec<String>,
    #[arg(long, default_value = "data/load_test_results.json")]
    pub out: PathBuf,
    #[arg(long, default_value = "data/load_test_report.html")]
    pub html: PathBuf,
    /// No progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Seed of every random choice (conversations, wordings, think times).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Exit 0 even when targets are not met (the report still says).
    #[arg(long)]
    pub no_fail: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ModelArg {
    Closed,
    Open,
}

impl From<ModelArg> for LoadModel {
    fn from(m: ModelArg) -> Self {
        match m {
            ModelArg::Closed => LoadModel::Closed,
            ModelArg::Open => LoadModel::Open,
        }
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum EndpointArg {
    Chat,
    Stream,
    Mixed,
}

impl From<EndpointArg> for Endpoint {
    fn from(e: EndpointArg) -> Self {
        match e {
            EndpointArg::Chat => Endpoint::Chat,
            EndpointArg::Stream => Endpoint::Stream,
            EndpointArg::Mixed => Endpoint::Mixed,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub baseline: PathBuf,
    pub candidate: PathBuf,
    /// How much worse a figure may get before it counts as a regression, e.g. 10%.
    #[arg(long, default_value = "10%", value_parser = crate::compare::parse_threshold)]
    pub threshold: f64,
}

/// `90`, `90s`, `500ms`, `10m`, `1h` → seconds.
pub fn parse_duration_s(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = number.trim().parse().map_err(|_| format!("`{s}` is not a duration like 90s, 10m or 1h"))?;
    if v.is_finite() && v > 0.0 { Ok(v * scale) } else { Err(format!("`{s}` must be a positive duration")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_s("90"), Ok(90.0));
        assert_eq!(parse_duration_s("90s"), Ok(90.0));
        assert_eq!(parse_duration_s("10m"), Ok(600.0));
        assert_eq!(parse_duration_s("1h"), Ok(3600.0));
        assert_eq!(parse_duration_s("500ms"), Ok(0.5));
        assert!(parse_duration_s("soon").is_err());
        assert!(parse_duration_s("0s").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
