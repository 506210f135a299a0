//! The report `data/load_test_results.json` (schema in docs/LOAD_TESTING.md): one entry per
//! scenario with its settings, latency percentiles, outcomes, cache and streaming figures,
//! server figures, a timeline, the faults injected, the grade and every target's verdict.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::grade::{Grade, Measured, TargetResult};
use crate::scenario::{Endpoint, LoadModel, Scenario};
use crate::server_metrics::ServerFigures;
use crate::stats::{CacheLevel, LatencySummary, Tally, round3};

/// Bumped when a field changes meaning or goes away (adding fields keeps the version).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    /// `tria-load 0.1.0`.
    pub tool: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub target: String,
    pub quick: bool,
    pub scenarios: Vec<ScenarioReport>,
    /// True when every scenario met every target.
    pub passed: bool,
}

/// The settings a scenario ran with (after overrides and `--quick`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub model: LoadModel,
    pub endpoint: Endpoint,
    pub users: u32,
    pub requests_per_user: Option<u32>,
    pub duration_s: Option<f64>,
    pub rate: Option<f64>,
    pub stages: Vec<crate::scenario::Stage>,
    pub ramp_up_s: f64,
    pub think_time_ms: u64,
    pub timeout_ms: u64,
    pub paraphrase_pct: f64,
    pub novel_pct: f64,
    pub warmup: bool,
}

impl RunSettings {
    pub fn of(s: &Scenario) -> Self {
        Self {
            model: s.model,
            endpoint: s.endpoint,
            users: s.users,
            requests_per_user: s.requests_per_user,
            duration_s: s.duration_s,
            rate: s.rate,
            stages: s.stages.clone(),
            ramp_up_s: s.ramp_up_s,
            think_time_ms: s.think_time_ms,
            timeout_ms: s.timeout_ms,
            paraphrase_pct: s.paraphrase_pct,
            novel_pct: s.novel_pct,
            warmup: s.warmup,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheFigures {
    pub l1: u64,
    pub l2: u64,
    pub l3: u64,
    pub none: u64,
    /// Share of answers from any cache level, percent; null when no answer said.
    pub hit_pct: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFigures {
    pub responses: u64,
    pub ttft_ms: LatencySummary,
    /// Tokens per second after the first token, per response.
    pub tokens_per_sec: LatencySummary,
    pub tokens_total: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantFigures {
    pub requests: u64,
    pub ok: u64,
    pub latency_ms: LatencySummary,
}

/// One window of the timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Window start, seconds since the scenario began.
    pub t_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    /// Served requests that finished in this window.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cache_hit_pct: Option<f64>,
    /// Server resident memory at the window's last scrape.
    pub rss_mb: Option<f64>,
}

/// A fault hook that ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub at_s: f64,
    pub hook: String,
    pub command: Option<String>,
    /// Exit status; null when the hook was not given (`--fault-cmd`) or could not start.
    pub exit_code: Option<i32>,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub settings: RunSettings,
    pub started_at: String,
    pub duration_s: f64,
    pub requests: Requests,
    pub success_pct: f64,
    pub throughput_rps: f64,
    /// Answered requests (any status).
    pub latency_ms: LatencySummary,
    /// Served (2xx) requests; grades and latency targets use these.
    pub served_latency_ms: LatencySummary,
    /// By status code, plus `timeout`, `connect`, `bad_body`.
    pub statuses: BTreeMap<String, u64>,
    /// By kind: `http_503`, `timeout`, `connect`, `bad_json`, `sse_error_<code>`, …
    pub errors: BTreeMap<String, u64>,
    pub cache: CacheFigures,
    pub stream: Option<StreamFigures>,
    pub tenants: BTreeMap<String, TenantFigures>,
    pub server: Option<ServerFigures>,
    pub timeline: Vec<TimelinePoint>,
    pub faults: Vec<FaultRecord>,
    pub grade: Grade,
    pub targets: Vec<TargetResult>,
    pub passed: bool,
}

/// What the runner hands over when a scenario ends.
#[derive(Debug)]
pub struct Finished {
    pub scenario: Scenario,
    pub started_at: String,
    pub elapsed: std::time::Duration,
    pub tally: Tally,
    pub server: Option<ServerFigures>,
    /// (seconds since start, RSS bytes) from the scrapes during the run.
    pub rss_samples: Vec<(f64, f64)>,
    pub faults: Vec<FaultRecord>,
}

impl ScenarioReport {
    pub fn build(f: Finished) -> Self {
        let t = &f.tally;
        let secs = f.elapsed.as_secs_f64();
        let served = t.served.summary();
        let count = |level| t.cache.get(&level).copied().unwrap_or(0);
        let statuses: Vec<String> = t.statuses.keys().cloned().collect();
        let measured = Measured {
            success_pct: t.success_pct(),
            avg_ms: served.avg,
            p95_ms: served.p95,
            p99_ms: served.p99,
            cache_hit_pct: t.cache_hit_pct(),
            failed: t.failed(),
            statuses,
        };
        let targets = f.scenario.targets.evaluate(&measured);
        let window_s = t.window.as_secs_f64();
        let timeline = t
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let start = i as f64 * window_s;
                let rss = f.rss_samples.iter().rfind(|(at, _)| *at < start + window_s).map(|(_, b)| round3(b / 1_048_576.0));
                TimelinePoint {
                    t_s: round3(start),
                    requests: w.requests,
                    errors: w.errors,
                    rps: round3(w.requests as f64 / window_s),
                    p50_ms: w.latency.quantile_ms(0.50),
                    p95_ms: w.latency.quantile_ms(0.95),
                    p99_ms: w.latency.quantile_ms(0.99),
                    cache_hit_pct: (w.cache_answers > 0).then(|| round3(w.cache_hits as f64 * 100.0 / w.cache_answers as f64)),
                    rss_mb: rss,
                }
            })
            .collect();
        let stream = (!t.ttft.is_empty()).then(|| StreamFigures {
            responses: t.ttft.len(),
            ttft_ms: t.ttft.summary(),
            // Stored x 1000 as "microseconds", so the summary's "milliseconds" are tokens/s.
            tokens_per_sec: t.tokens_per_sec_milli.summary(),
            tokens_total: t.tokens_total,
        });
        let passed = targets.iter().all(|r| r.pass);
        Self {
            name: f.scenario.name.clone(),
            description: f.scenario.description.clone(),
            settings: RunSettings::of(&f.scenario),
            started_at: f.started_at,
            duration_s: round3(secs),
            requests: Requests { total: t.requests, ok: t.ok, failed: t.failed() },
            success_pct: t.success_pct(),
            throughput_rps: if secs > 0.0 { round3(t.requests as f64 / secs) } else { 0.0 },
            latency_ms: t.latency.summary(),
            served_latency_ms: served,
            statuses: t.statuses.clone(),
            errors: t.errors.clone(),
            cache: CacheFigures {
                l1: count(CacheLevel::L1),
                l2: count(CacheLevel::L2),
                l3: count(CacheLevel::L3),
                none: count(CacheLevel::None),
                hit_pct: t.cache_hit_pct(),
            },
            stream,
            tenants: t
                .tenants
                .iter()
                .map(|(k, v)| (k.clone(), TenantFigures { requests: v.requests, ok: v.ok, latency_ms: v.latency.summary() }))
                .collect(),
            server: f.server,
            timeline,
            faults: f.faults,
            grade: Grade::of_avg_ms(served.avg),
            targets,
            passed,
        }
    }

    pub fn failed_targets(&self) -> impl Iterator<Item = &TargetResult> {
        self.targets.iter().filter(|t| !t.pass)
    }
}

impl Report {
    pub fn new(target: &str, quick: bool, started_at: String, scenarios: Vec<ScenarioReport>) -> Self {
        let passed = scenarios.iter().all(|s| s.passed);
        Self {
            schema_version: SCHEMA_VERSION,
            tool: format!("tria-load {}", env!("CARGO_PKG_VERSION")),
            started_at,
            target: target.to_owned(),
            quick,
            scenarios,
            passed,
        }
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let report: Report = serde_json::from_str(&text).with_context(|| format!("{} is not a tria-load report", path.display()))?;
        anyhow::ensure!(
            report.schema_version == SCHEMA_VERSION,
            "{} has report schema {}, this tria-load reads {SCHEMA_VERSION}",
            path.display(),
            report.schema_version
        );
        Ok(report)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scenario::preset;
    use crate::stats::{Outcome, Sample, StreamTiming};

    /// A small finished scenario with every section filled.
    pub(crate) fn sample_report(name: &str, latency_ms: u64) -> ScenarioReport {
        let mut tally = Tally::new(Duration::from_secs(1));
        for i in 0..20u64 {
            let outcome = match i {
                0 => Outcome::Status(503),
                1..=5 => Outcome::Ok { status: 200, cache: Some(CacheLevel::None) },
                _ => Outcome::Ok { status: 200, cache: Some(CacheLevel::L1) },
            };
            tally.record(&Sample {
                at: Duration::from_millis(i * 100),
                latency: Duration::from_millis(latency_ms + i),
                outcome,
                tenant: if i % 2 == 0 { "northwind".into() } else { "velo".into() },
                stream: (i == 3).then_some(StreamTiming {
                    ttft: Duration::from_millis(40),
                    tokens: 21,
                    generation: Duration::from_millis(200),
                }),
            });
        }
        let mut scenario = preset("baseline").expect("preset");
        scenario.name = name.into();
        ScenarioReport::build(Finished {
            scenario,
            started_at: "2026-11-23T16:00:00Z".into(),
            elapsed: Duration::from_secs(2),
            tally,
            server: Some(ServerFigures::default()),
            rss_samples: vec![(0.5, 100.0 * 1_048_576.0)],
            faults: vec![],
        })
    }

    #[test]
    fn a_scenario_report_has_its_figures_grade_and_verdicts() {
        let r = sample_report("baseline", 1000);
        assert_eq!(r.requests, Requests { total: 20, ok: 19, failed: 1 });
        assert_eq!(r.success_pct, 95.0);
        assert_eq!(r.throughput_rps, 10.0);
        assert_eq!((r.cache.l1, r.cache.none), (14, 5));
        assert_eq!(r.errors.get("http_503"), Some(&1));
        assert_eq!(r.grade, Grade::Excellent);
        assert_eq!(r.timeline.len(), 2);
        assert_eq!(r.timeline[0].rss_mb, Some(100.0));
        let stream = r.stream.as_ref().expect("one streamed answer");
        assert_eq!(stream.tokens_total, 21);
        assert!((stream.tokens_per_sec.avg - 100.0).abs() < 0.5, "20 gaps in 200 ms: {stream:?}");
        // baseline: success >= 95 (95.0 passes), avg < 3 s, cache hit >= 50 (14/19 = 73.7 %).
        assert!(r.passed, "{:?}", r.targets);
        let slow = sample_report("baseline", 3500);
        assert_eq!(slow.grade, Grade::Good);
        assert!(!slow.passed);
        assert_eq!(slow.failed_targets().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["avg_ms"]);
    }

    #[test]
    fn the_report_round_trips_through_its_json_file() {
        let report = Report::new("http://127.0.0.1:8080", true, "2026-11-23T16:00:00Z".into(), vec![sample_report("baseline", 900)]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/results.json");
        report.write(&path).expect("write");
        let back = Report::read(&path).expect("read");
        assert_eq!(back, report);
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("file")).expect("json");
        for key in ["schema_version", "tool", "started_at", "target", "quick", "scenarios", "passed"] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        let s = &json["scenarios"][0];
        for key in ["latency_ms", "served_latency_ms", "statuses", "errors", "cache", "timeline", "grade", "targets", "throughput_rps"] {
            assert!(s.get(key).is_some(), "scenario.{key} missing");
        }
        assert_eq!(s["served_latency_ms"]["p99"].as_f64().map(|v| v > 900.0), Some(true));
        std::fs::write(&path, json.to_string().replace("\"schema_version\":1", "\"schema_version\":99")).expect("rewrite");
        assert!(Report::read(&path).expect_err("newer schema").to_string().contains("schema 99"));
    }
}
