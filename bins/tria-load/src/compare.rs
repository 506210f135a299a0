//! `tria-load compare BASELINE CANDIDATE --threshold 10%`: flags every scenario figure that got
//! worse by more than the threshold (latency up, throughput/success/cache hit rate down).

use std::fmt;

use serde::Serialize;

use crate::report::{Report, ScenarioReport};

/// Which way is better for a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub scenario: String,
    pub metric: &'static str,
    pub baseline: f64,
    pub candidate: f64,
    /// Relative change, percent (positive = the figure went up).
    pub change_pct: f64,
    pub better: Better,
    pub regression: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Comparison {
    pub threshold_pct: f64,
    pub changes: Vec<Change>,
    /// Scenarios in only one of the two reports.
    pub unmatched: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.regression)
    }

    pub fn has_regressions(&self) -> bool {
        self.regressions().next().is_some()
    }
}

/// Latencies below this are compared as if they were this (a 0.2 → 0.3 ms move is noise, not
/// a 50 % regression).
const LATENCY_FLOOR_MS: f64 = 1.0;

fn figures(s: &ScenarioReport) -> Vec<(&'static str, f64, Better)> {
    let mut f = vec![
        ("avg_ms", s.served_latency_ms.avg, Better::Lower),
        ("p50_ms", s.served_latency_ms.p50, Better::Lower),
        ("p95_ms", s.served_latency_ms.p95, Better::Lower),
        ("p99_ms", s.served_latency_ms.p99, Better::Lower),
        ("throughput_rps", s.throughput_rps, Better::Higher),
        ("success_pct", s.success_pct, Better::Higher),
    ];
    if let Some(hit) = s.cache.hit_pct {
        f.push(("cache_hit_pct", hit, Better::Higher));
    }
    if let Some(stream) = &s.stream {
        f.push(("ttft_p95_ms", stream.ttft_ms.p95, Better::Lower));
    }
    if let Some(rss) = s.server.as_ref().and_then(|sv| sv.rss_peak_bytes) {
        f.push(("rss_peak_mb", rss / 1_048_576.0, Better::Lower));
    }
    f
}

/// Parses `10%`, `10` or `0.1`-style thresholds into percent (`0.1` means 0.1 %, not 10 %).
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().trim_end_matches('%').trim().parse().map_err(|_| format!("threshold `{s}` is not a percentage like 10%"))?;
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(format!("threshold `{s}` must be a non-negative percentage")) }
}

pub fn compare(baseline: &Report, candidate: &Report, threshold_pct: f64) -> Comparison {
    let mut out = Comparison { threshold_pct, ..Comparison::default() };
    for b in &baseline.scenarios {
        let Some(c) = candidate.scenarios.iter().find(|c| c.name == b.name) else {
            out.unmatched.push(b.name.clone());
            continue;
        };
        let candidate_figures = figures(c);
        for (metric, before, better) in figures(b) {
            let Some(&(_, after, _)) = candidate_figures.iter().find(|(m, _, _)| *m == metric) else { continue };
            let floor = if metric.ends_with("_ms") { LATENCY_FLOOR_MS } else { f64::MIN_POSITIVE };
            let (b_eff, a_eff) = (before.max(floor), after.max(floor));
            let change_pct = (a_eff - b_eff) / b_eff * 100.0;
            let worse_pct = match better {
                Better::Lower => change_pct,
                Better::Higher => -change_pct,
            };
            out.changes.push(Change {
                scenario: b.name.clone(),
                metric,
                baseline: before,
                candidate: after,
                change_pct: crate::stats::round3(change_pct),
                better,
                regression: worse_pct > threshold_pct,
            });
        }
    }
    out.unmatched
        .extend(candidate.scenarios.iter().filter(|c| !baseline.scenarios.iter().any(|b| b.name == c.name)).map(|c| c.name.clone()));
    out
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<12} {:<15} {:>12} {:>12} {:>9}  verdict", "scenario", "metric", "baseline", "candidate", "change")?;
        for c in &self.changes {
            let verdict = if c.regression { "REGRESSION" } else { "ok" };
            writeln!(
                f,
                "{:<12} {:<15} {:>12.2} {:>12.2} {:>+8.1}%  {verdict}",
                c.scenario, c.metric, c.baseline, c.candidate, c.change_pct
            )?;
        }
        for name in &self.unmatched {
            writeln!(f, "{name}: in one report only, not compared")?;
        }
        let n = self.regressions().count();
        write!(f, "{n} regression(s) beyond {}%", self.threshold_pct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    fn report(scenarios: Vec<ScenarioReport>) -> Report {
        Report::new("http://127.0.0.1:8080", false, "2026-11-23T16:00:00Z".into(), scenarios)
    }

    #[test]
    fn slower_latency_beyond_the_threshold_is_a_regression_and_within_it_is_not() {
        let a = report(vec![sample_report("baseline", 1000)]);
        let b = report(vec![sample_report("baseline", 1200)]);
        let cmp = compare(&a, &b, 10.0);
        let p95 = cmp.changes.iter().find(|c| c.metric == "p95_ms").expect("p95 compared");
        assert!(p95.regression && p95.change_pct > 19.0, "{p95:?}");
        assert!(cmp.has_regressions());
        assert!(!compare(&a, &b, 25.0).has_regressions(), "20 % slower is within 25 %");
        // Faster is never a regression, however large the change.
        assert!(!compare(&b, &a, 1.0).has_regressions());
    }

    #[test]
    fn a_throughput_drop_is_a_regression_and_unmatched_scenarios_are_listed() {
        let a = report(vec![sample_report("baseline", 100)]);
        let mut slower = sample_report("baseline", 100);
        slower.throughput_rps = a.scenarios[0].throughput_rps * 0.5;
        let b = report(vec![slower, sample_report("light", 100)]);
        let cmp = compare(&a, &b, 10.0);
        let regressions: Vec<_> = cmp.regressions().map(|c| c.metric).collect();
        assert_eq!(regressions, ["throughput_rps"]);
        assert_eq!(cmp.unmatched, ["light"]);
        assert!(cmp.to_string().contains("REGRESSION"));
    }

    #[test]
    fn sub_millisecond_latencies_are_not_flagged_for_relative_noise() {
        let mut a = sample_report("cached", 0);
        let mut b = a.clone();
        a.served_latency_ms.p99 = 0.2;
        b.served_latency_ms.p99 = 0.4;
        let cmp = compare(&report(vec![a]), &report(vec![b]), 10.0);
        assert!(!cmp.changes.iter().any(|c| c.metric == "p99_ms" && c.regression));
    }

    #[test]
    fn thresholds_parse_with_or_without_a_percent_sign() {
        assert_eq!(parse_threshold("10%"), Ok(10.0));
        assert_eq!(parse_threshold(" 2.5 "), Ok(2.5));
        assert!(parse_threshold("ten").is_err());
        assert!(parse_threshold("-5%").is_err());
    }
}
