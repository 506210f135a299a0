//! The final table printed in the terminal: one line per scenario, then the failed targets.

use std::fmt::Write;

use crate::report::Report;

fn mb(bytes: Option<f64>) -> String {
    bytes.map_or_else(|| "-".to_owned(), |b| format!("{:.0}", b / 1_048_576.0))
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>7}  {:<10} result",
        "scenario", "reqs", "ok %", "rps", "avg ms", "p50", "p95", "p99", "max", "hit %", "ttft95", "rss MB", "grade"
    );
    for s in &report.scenarios {
        let l = &s.served_latency_ms;
        let hit = s.cache.hit_pct.map_or_else(|| "-".to_owned(), |h| format!("{h:.0}"));
        let ttft = s.stream.as_ref().map_or_else(|| "-".to_owned(), |st| format!("{:.0}", st.ttft_ms.p95));
        let rss = mb(s.server.as_ref().and_then(|sv| sv.rss_peak_bytes));
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>7.2} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6} {:>7} {:>7}  {:<10} {}",
            s.name,
            s.requests.total,
            s.success_pct,
            s.throughput_rps,
            l.avg,
            l.p50,
            l.p95,
            l.p99,
            l.max,
            hit,
            ttft,
            rss,
            s.grade.as_str(),
            if s.passed { "PASS" } else { "FAIL" }
        );
    }
    for s in &report.scenarios {
        for t in s.failed_targets() {
            let _ = writeln!(out, "  {}: {} {} {} not met (actual {})", s.name, t.name, t.op, t.target, t.actual);
        }
        if !s.errors.is_empty() {
            let errors: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "  {} errors: {}", s.name, errors.join(" "));
        }
        for f in &s.faults {
            let code = f.exit_code.map_or_else(|| "-".to_owned(), |c| c.to_string());
            let _ = writeln!(out, "  {} fault at {:.1}s: {} (exit {code}) {}", s.name, f.at_s, f.hook, f.note);
        }
    }
    let _ = write!(out, "{}", if report.passed { "all targets met" } else { "some targets NOT met" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn the_table_has_a_line_per_scenario_with_grade_and_verdict_and_lists_failures() {
        let report =
            Report::new("http://127.0.0.1:1", false, "t".into(), vec![sample_report("baseline", 900), sample_report("slow", 3500)]);
        let text = render(&report);
        let baseline = text.lines().find(|l| l.starts_with("baseline")).expect("baseline line");
        assert!(baseline.contains("EXCELLENT") && baseline.ends_with("PASS"), "{baseline}");
        let slow = text.lines().find(|l| l.starts_with("slow ")).expect("slow line");
        assert!(slow.contains("GOOD") && slow.ends_with("FAIL"), "{slow}");
        assert!(text.contains("slow: avg_ms <= 3000.0 not met"), "{text}");
        assert!(text.contains("errors: http_503=1"), "{text}");
        assert!(text.ends_with("some targets NOT met"));
    }
}
