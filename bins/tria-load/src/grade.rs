//! Grades (from the served requests' average latency, as the seeds graded) and PASS/FAIL per
//! target.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The seeds' latency grades: EXCELLENT < 3 s, GOOD < 5 s, ACCEPTABLE < 10 s, POOR otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Grade {
    Excellent,
    Good,
    Acceptable,
    Poor,
}

impl Grade {
    /// The grade of an average latency in milliseconds.
    pub fn of_avg_ms(avg_ms: f64) -> Self {
        if avg_ms < 3000.0 {
            Grade::Excellent
        } else if avg_ms < 5000.0 {
            Grade::Good
        } else if avg_ms < 10_000.0 {
            Grade::Acceptable
        } else {
            Grade::Poor
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Excellent => "EXCELLENT",
            Grade::Good => "GOOD",
            Grade::Acceptable => "ACCEPTABLE",
            Grade::Poor => "POOR",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a scenario must achieve. Every field is optional; unset ones are not checked.
/// Rates are percentages, latencies milliseconds of served (2xx) requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_success_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_avg_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cache_hit_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<f64>,
    /// Requests that did not succeed, at most (chaos: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed: Option<u64>,
    /// Every answer must carry one of these statuses (spike: 200, 429, 503); timeouts and broken
    /// connections fail it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_statuses: Option<Vec<u16>>,
}

/// The figures targets are checked against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    pub success_pct: f64,
    pub avg_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cache_hit_pct: Option<f64>,
    pub failed: u64,
    /// Status keys seen (`"200"`, `"503"`, `"timeout"`, …).
    pub statuses: Vec<String>,
}

/// One target's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// e.g. `success_pct`.
    pub name: String,
    /// `>=`, `<=` or `in`.
    pub op: String,
    pub target: serde_json::Value,
    pub actual: serde_json::Value,
    pub pass: bool,
}

impl Targets {
    pub fn evaluate(&self, m: &Measured) -> Vec<TargetResult> {
        let mut out = Vec::new();
        let mut check = |name: &str, op: &str, target: f64, actual: f64, pass: bool| {
            out.push(TargetResult { name: name.into(), op: op.into(), target: target.into(), actual: actual.into(), pass });
        };
        if let Some(t) = self.min_success_pct {
            check("success_pct", ">=", t, m.success_pct, m.success_pct >= t);
        }
        if let Some(t) = self.max_avg_ms {
            check("avg_ms", "<=", t, m.avg_ms, m.avg_ms <= t);
        }
        if let Some(t) = self.min_cache_hit_pct {
            // No answer said where it came from (e.g. every request failed): not met.
            let actual = m.cache_hit_pct.unwrap_or(0.0);
            check("cache_hit_pct", ">=", t, actual, m.cache_hit_pct.is_some() && actual >= t);
        }
        if let Some(t) = self.max_p95_ms {
            check("p95_ms", "<=", t, m.p95_ms, m.p95_ms <= t);
        }
        if let Some(t) = self.max_p99_ms {
            check("p99_ms", "<=", t, m.p99_ms, m.p99_ms <= t);
        }
        if let Some(t) = self.max_failed {
            out.push(TargetResult {
                name: "failed".into(),
                op: "<=".into(),
                target: t.into(),
                actual: m.failed.into(),
                pass: m.failed <= t,
            });
        }
        if let Some(allowed) = &self.only_statuses {
            let allowed_keys: Vec<String> = allowed.iter().map(u16::to_string).collect();
            let pass = m.statuses.iter().all(|s| allowed_keys.contains(s));
            out.push(TargetResult {
                name: "statuses".into(),
                op: "in".into(),
                target: serde_json::json!(allowed),
                actual: serde_json::json!(m.statuses),
                pass,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_seed_boundaries() {
        assert_eq!(Grade::of_avg_ms(0.0), Grade::Excellent);
        assert_eq!(Grade::of_avg_ms(2999.9), Grade::Excellent);
        assert_eq!(Grade::of_avg_ms(3000.0), Grade::Good);
        assert_eq!(Grade::of_avg_ms(4999.0), Grade::Good);
        assert_eq!(Grade::of_avg_ms(5000.0), Grade::Acceptable);
        assert_eq!(Grade::of_avg_ms(9999.0), Grade::Acceptable);
        assert_eq!(Grade::of_avg_ms(10_000.0), Grade::Poor);
        assert_eq!(serde_json::to_string(&Grade::Excellent).expect("json"), "\"EXCELLENT\"");
    }

    fn measured() -> Measured {
        Measured {
            success_pct: 96.0,
            avg_ms: 1200.0,
            p95_ms: 1400.0,
            p99_ms: 2100.0,
            cache_hit_pct: Some(55.0),
            failed: 2,
            statuses: vec!["200".into(), "503".into()],
        }
    }

    #[test]
    fn each_target_passes_at_its_bound_and_fails_beyond_it() {
        let t = Targets {
            min_success_pct: Some(96.0),
            max_avg_ms: Some(1200.0),
            min_cache_hit_pct: Some(60.0),
            max_p95_ms: Some(1500.0),
            max_p99_ms: Some(2000.0),
            max_failed: Some(0),
            only_statuses: Some(vec![200, 429, 503]),
        };
        let verdicts: Vec<(String, bool)> = t.evaluate(&measured()).into_iter().map(|r| (r.name, r.pass)).collect();
        let expected = [
            ("success_pct", true),
            ("avg_ms", true),
            ("cache_hit_pct", false),
            ("p95_ms", true),
            ("p99_ms", false),
            ("failed", false),
            ("statuses", true),
        ];
        assert_eq!(verdicts, expected.map(|(n, p)| (n.to_owned(), p)));
    }

    #[test]
    fn an_unexpected_status_or_a_missing_cache_figure_fails_its_target() {
        let t = Targets { only_statuses: Some(vec![200, 429, 503]), min_cache_hit_pct: Some(0.0), ..Targets::default() };
        let m = Measured { statuses: vec!["200".into(), "timeout".into()], cache_hit_pct: None, ..measured() };
        assert!(t.evaluate(&m).iter().all(|r| !r.pass));
        assert!(Targets::default().evaluate(&m).is_empty(), "no targets, nothing checked");
    }
}
