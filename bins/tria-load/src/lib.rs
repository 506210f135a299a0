//! `tria-load`: Tria's load and resilience test tool. Scenarios (the seeds' five with their
//! targets, sustained, burst, spike, soak, chaos, cached, or custom TOML) drive simulated customers
//! through scripted conversations against a server; the run is measured (HDR latency, errors,
//! cache hits, SSE time to first token, server RSS/CPU) and written as JSON and HTML reports.
//!
//! The binary is a thin wrapper over [`run`] and [`compare`]; tests call them in-process.

pub mod cli;
pub mod client;
pub mod compare;
pub mod faults;
pub mod grade;
pub mod html;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod script;
pub mod server_metrics;
pub mod stats;
pub mod table;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use crate::cli::RunArgs;
use crate::faults::FaultHooks;
use crate::report::Report;
use crate::runner::{RunConfig, TenantKey};
use crate::scenario::{FaultAt, Overrides, Scenario};
use crate::script::ScriptBook;

/// The dev profile's demo tenants (README), used when no `--tenant` is given.
pub const DEV_TENANTS: &[(&str, &str, f64)] =
    &[("northwind", "tria_dev_northwind_4f3c9a1e7b2d48e6a0c5", 3.0), ("velo", "tria_dev_velo_8d2b6e0f1a9c47d3b5e1", 2.0)];

/// Refuses targets off this machine unless `allow_remote`: a load test is only ever pointed at
/// a server on purpose.
pub fn check_target(target: &str, allow_remote: bool) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(target).with_context(|| format!("--target `{target}` is not a URL"))?;
    anyhow::ensure!(matches!(url.scheme(), "http" | "https"), "--target must be an http:// or https:// URL, got `{target}`");
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        loopback || allow_remote,
        "--target {target} is not on this machine; pass --allow-remote to load-test a remote server you are responsible for"
    );
    Ok(target.trim_end_matches('/').to_owned())
}

/// `SLUG=KEY` or `SLUG=KEY:WEIGHT`.
pub fn parse_tenants(specs: &[String]) -> anyhow::Result<Vec<TenantKey>> {
    if specs.is_empty() {
        return Ok(DEV_TENANTS.iter().map(|(s, k, w)| TenantKey { slug: (*s).into(), key: (*k).into(), weight: *w }).collect());
    }
    specs
        .iter()
        .map(|spec| {
            let (slug, rest) = spec.split_once('=').with_context(|| format!("--tenant wants SLUG=KEY[:WEIGHT], got `{spec}`"))?;
            let (key, weight) = match rest.rsplit_once(':') {
                Some((key, w)) => (key, w.parse::<f64>().with_context(|| format!("--tenant `{spec}`: weight `{w}` is not a number"))?),
                None => (rest, 1.0),
            };
            anyhow::ensure!(!slug.is_empty() && !key.is_empty() && weight >= 0.0, "--tenant wants SLUG=KEY[:WEIGHT], got `{spec}`");
            Ok(TenantKey { slug: slug.into(), key: key.into(), weight })
        })
        .collect()
}

/// The scenarios `args` selects, with overrides and `--quick` applied.
pub fn select_scenarios(args: &RunArgs) -> anyhow::Result<Vec<Scenario>> {
    let custom = match &args.scenario_file {
        Some(path) => scenario::from_toml_file(path)?,
        None => Vec::new(),
    };
    let mut names: Vec<String> = args.scenarios.clone();
    if names.is_empty() {
        names = if custom.is_empty() { vec!["seeds".into()] } else { custom.iter().map(|s| s.name.clone()).collect() };
    }
    let mut selected = Vec::new();
    for name in &names {
        match name.as_str() {
            "seeds" => {
                for seed in scenario::SEED_NAMES {
                    selected.push(scenario::preset(seed)?);
                }
            }
            other => match custom.iter().find(|s| s.name == other) {
                Some(s) => selected.push(s.clone()),
                None => selected.push(scenario::preset(other)?),
            },
        }
    }
    let overrides = Overrides {
        users: args.users,
        requests_per_user: args.requests,
        duration_s: args.duration,
        rate: args.rate,
        model: args.model.map(Into::into),
        think_time_ms: args.think_time_ms,
        ramp_up_s: args.ramp_up,
        timeout_ms: args.timeout_ms,
        endpoint: args.endpoint.map(Into::into),
        warmup: args.no_warmup.then_some(false),
    };
    let extra_faults = args
        .fault_at
        .iter()
        .map(|spec| {
            let (hook, at) = spec.split_once('@').with_context(|| format!("--fault-at wants NAME@SECONDS, got `{spec}`"))?;
            let at_s = cli::parse_duration_s(at).map_err(anyhow::Error::msg)?;
            Ok(FaultAt { at_s, hook: hook.to_owned() })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for s in &mut selected {
        s.apply(&overrides);
        s.faults.extend(extra_faults.iter().cloned());
        if args.quick {
            s.quick();
        }
        s.validate()?;
    }
    Ok(selected)
}

/// The built-in scenarios with every setting, as JSON (what `tria-load list` prints; a
/// scenario file uses the same keys in TOML).
pub fn list() -> anyhow::Result<String> {
    let scenarios = scenario::PRESET_NAMES.iter().map(|n| scenario::preset(n)).collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::to_string_pretty(&scenarios)? + "\n")
}

/// Runs the selected scenarios one after the other and writes both reports.
pub async fn run(args: &RunArgs) -> anyhow::Result<Report> {
    let base_url = check_target(&args.target, args.allow_remote)?;
    let scenarios = select_scenarios(args)?;
    let scripts = match &args.scripts {
        Some(path) => ScriptBook::from_file(path)?,
        None => ScriptBook::builtin()?,
    };
    let config = RunConfig {
        base_url: base_url.clone(),
        tenants: parse_tenants(&args.tenants)?,
        scripts,
        hooks: FaultHooks::parse(&args.fault_cmds)?,
        progress: !args.no_progress,
        seed: args.seed,
        warmed: Mutex::new(HashSet::new()),
    };
    let peak = scenarios.iter().map(Scenario::peak_users).max().unwrap_or(1) as usize;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(peak.max(16))
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let live = client.get(format!("{base_url}/health/live")).timeout(Duration::from_secs(5)).send().await;
    anyhow::ensure!(live.is_ok_and(|r| r.status().is_success()), "{base_url}/health/live does not answer: is the server running?");
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut reports = Vec::new();
    for s in scenarios {
        reports.push(runner::run_scenario(&config, &client, s).await?);
    }
    let report = Report::new(&base_url, args.quick, started_at, reports);
    report.write(&args.out)?;
    if let Some(dir) = args.html.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.html, html::render(&report)).with_context(|| format!("writing {}", args.html.display()))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn run_args(argv: &[&str]) -> RunArgs {
        let cli = Cli::try_parse_from([&["tria-load", "run"], argv].concat()).expect("valid args");
        match cli.command {
            Command::Run(args) => *args,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn only_loopback_targets_are_accepted_without_allow_remote() {
        for ok in ["http://127.0.0.1:8080", "http://localhost:1/", "http://[::1]:8080", "http://127.2.3.4"] {
            assert!(check_target(ok, false).is_ok(), "{ok}");
        }
        for remote in ["http://10.0.0.5:8080", "https://example.com", "http://0.0.0.0:80"] {
            let err = check_target(remote, false).expect_err(remote).to_string();
            assert!(err.contains("--allow-remote"), "{err}");
            assert!(check_target(remote, true).is_ok());
        }
        assert!(check_target("ftp://127.0.0.1", true).is_err());
        assert!(check_target("not a url", true).is_err());
        assert_eq!(check_target("http://127.0.0.1:8080/", false).expect("ok"), "http://127.0.0.1:8080");
    }

    #[test]
    fn tenants_parse_with_optional_weights_and_default_to_the_dev_keys() {
        let t = parse_tenants(&["acme=key_1:2.5".into(), "beta=key:with:colons:1".into(), "solo=k".into()]).expect("valid");
        assert_eq!((t[0].slug.as_str(), t[0].key.as_str(), t[0].weight), ("acme", "key_1", 2.5));
        assert_eq!((t[1].key.as_str(), t[1].weight), ("key:with:colons", 1.0));
        assert_eq!(t[2].weight, 1.0);
        assert!(parse_tenants(&["nokey".into()]).is_err());
        assert_eq!(parse_tenants(&[]).expect("defaults").len(), 2);
    }

    #[test]
    fn selection_defaults_to_the_seeds_and_applies_overrides_then_quick() {
        let names: Vec<String> = select_scenarios(&run_args(&[])).expect("seeds").into_iter().map(|s| s.name).collect();
        assert_eq!(names, scenario::SEED_NAMES);
        let s =
            select_scenarios(&run_args(&["sustained", "--duration", "10m", "--users", "7", "--fault-at", "kill-redis@30s"])).expect("ok");
        assert_eq!((s[0].duration_s, s[0].users), (Some(600.0), 7));
        assert_eq!(s[0].faults, vec![FaultAt { at_s: 30.0, hook: "kill-redis".into() }]);
        let quick = select_scenarios(&run_args(&["sustained", "--quick"])).expect("ok");
        assert!(quick[0].planned_duration_s() <= 4.0 + 1e-9);
        assert!(select_scenarios(&run_args(&["nonesuch"])).is_err());
    }

    #[test]
    fn the_builtin_list_has_every_setting_and_parses_back() {
        let text = list().expect("list");
        let parsed: Vec<Scenario> = serde_json::from_str(&text).expect("the list parses back");
        assert_eq!(parsed.len(), scenario::PRESET_NAMES.len());
        assert_eq!(parsed[0], scenario::preset("baseline").expect("preset"));
    }
}
