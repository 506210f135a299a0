//! The self-contained HTML report: no scripts, no external files — inline SVG charts (latency
//! percentiles, throughput and errors, cache hit rate and server memory over time, per
//! scenario; p95 and cache hit rate across scenarios) and the tables, readable offline.

use std::fmt::Write;

use crate::report::{Report, ScenarioReport};

const W: f64 = 560.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A "nice" axis maximum (1, 2, 2.5, 5 × 10^n) at or above `v`.
pub(crate) fn nice_max(v: f64) -> f64 {
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let exp = v.log10().floor();
    let base = 10f64.powf(exp);
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * base * 1.000_001 {
            return m * base;
        }
    }
    10.0 * base
}

fn fmt_tick(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One named series of a line chart (`None` = no value in that window).
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<Option<f64>>,
}

/// A line chart over `xs` (seconds), with vertical markers (faults) and a legend.
pub(crate) fn line_chart(title: &str, unit: &str, xs: &[f64], series: &[Series<'_>], markers: &[(f64, String)]) -> String {
    let mut svg = String::new();
    let x_max = xs.iter().copied().fold(0.0, f64::max).max(1.0);
    let y_max = nice_max(series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0, f64::max));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + x / x_max * pw;
    let py = |y: f64| TOP + ph - (y / y_max) * ph;
    let _ = write!(svg, r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#, escape(title));
    let _ = write!(svg, r#"<text x="{LEFT}" y="16" class="title">{} ({})</text>"#, escape(title), escape(unit));
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y1:.1}" y2="{y1:.1}" stroke="#e3e6ea"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            py(y) + 4.0,
            fmt_tick(y),
            y1 = py(y)
        );
    }
    for i in 0..=4 {
        let x = x_max * f64::from(i) / 4.0;
        let _ =
            write!(svg, r#"<text x="{:.1}" y="{}" class="tick" text-anchor="middle">{}s</text>"#, px(x), H - BOTTOM + 16.0, fmt_tick(x));
    }
    let _ = write!(svg, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#b8bec6"/>"##);
    for (at, label) in markers {
        let x = px(at.min(x_max));
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" class="marker">{}</text>"##,
            TOP + ph,
            x + 3.0,
            TOP + 10.0,
            escape(label)
        );
    }
    for s in series {
        // Gaps split the line so a window with no value is not drawn as a slope.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (x, v) in xs.iter().zip(&s.values) {
            match v {
                Some(v) => segments.last_mut().map_or((), |seg| seg.push((px(*x), py(*v)))),
                None => segments.push(Vec::new()),
            }
        }
        for seg in segments.iter().filter(|s| !s.is_empty()) {
            if seg.len() == 1 {
                let (x, y) = seg[0];
                let _ = write!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{}"/>"#, s.color);
            } else {
                let points: Vec<String> = seg.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(svg, r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#, s.color, points.join(" "));
            }
        }
    }
    let mut lx = LEFT;
    for s in series {
        let _ = write!(
            svg,
            r#"<rect x="{lx:.1}" y="{}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{}" class="legend">{}</text>"#,
            H - 14.0,
            s.color,
            lx + 14.0,
            H - 5.0,
            escape(s.name)
        );
        lx += 24.0 + 7.0 * s.name.len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// A vertical bar chart, one bar per label.
pub(crate) fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)], color: &str) -> String {
    let mut svg = String::new();
    let y_max = nice_max(bars.iter().map(|(_, v)| *v).fold(0.0, f64::max));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let slot = pw / bars.len().max(1) as f64;
    let _ = write!(svg, r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#, escape(title));
    let _ = write!(svg, r#"<text x="{LEFT}" y="16" class="title">{} ({})</text>"#, escape(title), escape(unit));
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        let yy = TOP + ph - y / y_max * ph;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e3e6ea"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            fmt_tick(y)
        );
    }
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = v / y_max * ph;
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text><text x="{:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"#,
            TOP + ph - h,
            slot * 0.7,
            x + slot * 0.35,
            TOP + ph - h - 4.0,
            fmt_tick(*v),
            x + slot * 0.35,
            H - BOTTOM + 16.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn scenario_section(s: &ScenarioReport) -> String {
    let mut out = String::new();
    let xs: Vec<f64> = s.timeline.iter().map(|p| p.t_s).collect();
    let markers: Vec<(f64, String)> = s.faults.iter().map(|f| (f.at_s, f.hook.clone())).collect();
    let served = |f: fn(&crate::report::TimelinePoint) -> f64| -> Vec<Option<f64>> {
        s.timeline.iter().map(|p| (p.requests > p.errors).then(|| f(p))).collect()
    };
    let verdict = if s.passed { r#"<span class="pass">PASS</span>"# } else { r#"<span class="fail">FAIL</span>"# };
    let _ =
        write!(out, r#"<section><h2 id="{0}">{0} <span class="grade g-{1}">{1}</span> {verdict}</h2>"#, escape(&s.name), s.grade.as_str());
    let _ = write!(out, "<p class=\"desc\">{}</p>", escape(&s.description));
    let l = &s.served_latency_ms;
    let hit = s.cache.hit_pct.map_or_else(|| "–".to_owned(), |h| format!("{h:.1} %"));
    let rss = s.server.as_ref().and_then(|sv| sv.rss_peak_bytes).map_or_else(|| "–".to_owned(), |b| format!("{:.0} MB", b / 1_048_576.0));
    let cpu = s.server.as_ref().and_then(|sv| sv.cpu_pct).map_or_else(|| "–".to_owned(), |c| format!("{c:.0} %"));
    let _ = write!(
        out,
        "<div class=\"cards\"><div><b>{}</b>requests</div><div><b>{:.2} %</b>success</div><div><b>{:.1}</b>req/s</div><div><b>{:.0} ms</b>avg</div><div><b>{:.0} ms</b>p50</div><div><b>{:.0} ms</b>p95</div><div><b>{:.0} ms</b>p99</div><div><b>{}</b>cache hits</div><div><b>{}</b>peak RSS</div><div><b>{}</b>server CPU</div></div>",
        s.requests.total, s.success_pct, s.throughput_rps, l.avg, l.p50, l.p95, l.p99, hit, rss, cpu
    );
    out.push_str("<div class=\"charts\">");
    out.push_str(&line_chart(
        "Latency of served requests",
        "ms",
        &xs,
        &[
            Series { name: "p50", color: "#2e86de", values: served(|p| p.p50_ms) },
            Series { name: "p95", color: "#e67e22", values: served(|p| p.p95_ms) },
            Series { name: "p99", color: "#c0392b", values: served(|p| p.p99_ms) },
        ],
        &markers,
    ));
    out.push_str(&line_chart(
        "Throughput and errors",
        "per second",
        &xs,
        &[
            Series { name: "requests/s", color: "#27ae60", values: s.timeline.iter().map(|p| Some(p.rps)).collect() },
            Series {
                name: "errors/s",
                color: "#c0392b",
                values: s.timeline.iter().map(|p| Some(p.rps * p.errors as f64 / p.requests.max(1) as f64)).collect(),
            },
        ],
        &markers,
    ));
    out.push_str(&line_chart(
        "Cache hit rate",
        "%",
        &xs,
        &[Series { name: "hit %", color: "#8e44ad", values: s.timeline.iter().map(|p| p.cache_hit_pct).collect() }],
        &markers,
    ));
    if s.timeline.iter().any(|p| p.rss_mb.is_some()) {
        out.push_str(&line_chart(
            "Server resident memory",
            "MB",
            &xs,
            &[Series { name: "RSS", color: "#16a085", values: s.timeline.iter().map(|p| p.rss_mb).collect() }],
            &markers,
        ));
    }
    out.push_str("</div>");
    out.push_str("<table><tr><th>target</th><th>wanted</th><th>actual</th><th></th></tr>");
    for t in &s.targets {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            escape(&t.name),
            escape(&t.op),
            escape(&t.target.to_string()),
            escape(&t.actual.to_string()),
            if t.pass { r#"<span class="pass">PASS</span>"# } else { r#"<span class="fail">FAIL</span>"# }
        );
    }
    out.push_str("</table>");
    let statuses: Vec<String> = s.statuses.iter().map(|(k, v)| format!("{}: {v}", escape(k))).collect();
    let errors: Vec<String> = s.errors.iter().map(|(k, v)| format!("{}: {v}", escape(k))).collect();
    let _ = write!(
        out,
        "<p><b>Statuses</b> {} &nbsp; <b>Errors</b> {} &nbsp; <b>Cache</b> l1 {} · l2 {} · l3 {} · none {}</p>",
        statuses.join(", "),
        if errors.is_empty() { "none".to_owned() } else { errors.join(", ") },
        s.cache.l1,
        s.cache.l2,
        s.cache.l3,
        s.cache.none
    );
    if let Some(st) = &s.stream {
        let _ = write!(
            out,
            "<p><b>Streaming</b> {} responses · time to first token p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms · {:.0} tokens/s (median)</p>",
            st.responses, st.ttft_ms.p50, st.ttft_ms.p95, st.ttft_ms.p99, st.tokens_per_sec.p50
        );
    }
    if !s.faults.is_empty() {
        out.push_str("<table><tr><th>fault at</th><th>hook</th><th>exit</th><th>note</th></tr>");
        for f in &s.faults {
            let _ = write!(
                out,
                "<tr><td>{:.1} s</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.at_s,
                escape(&f.hook),
                f.exit_code.map_or_else(|| "–".to_owned(), |c| c.to_string()),
                escape(&f.note)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1f2933;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin:28px 0 4px;border-top:1px solid #d9dee3;padding-top:16px}
.meta,.desc{color:#52606d;margin:2px 0 10px}
table{border-collapse:collapse;margin:10px 0}td,th{border:1px solid #d9dee3;padding:3px 9px;text-align:right}th{background:#f3f5f7}
td:first-child,th:first-child{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.cards div{background:#f3f5f7;border-radius:6px;padding:6px 12px;min-width:78px;color:#52606d;font-size:12px}
.cards b{display:block;font-size:16px;color:#1f2933}
.charts{display:flex;flex-wrap:wrap;gap:8px}.chart{background:#fff;border:1px solid #e3e6ea;border-radius:6px}
.chart .title{font-size:13px;font-weight:600;fill:#1f2933}.chart .tick{font-size:10px;fill:#52606d}.chart .legend{font-size:11px;fill:#1f2933}
.chart .marker{font-size:10px;fill:#c0392b}
.pass{color:#fff;background:#27ae60;border-radius:4px;padding:1px 6px;font-size:12px}
.fail{color:#fff;background:#c0392b;border-radius:4px;padding:1px 6px;font-size:12px}
.grade{border-radius:4px;padding:1px 6px;font-size:12px;color:#fff}.g-EXCELLENT{background:#1e8449}.g-GOOD{background:#2e86de}
.g-ACCEPTABLE{background:#e67e22}.g-POOR{background:#c0392b}";

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tria load test report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>Tria load test report {}</h1><p class=\"meta\">{} · target {} · started {}{} · {} scenario(s)</p>",
        if report.passed { r#"<span class="pass">ALL TARGETS MET</span>"# } else { r#"<span class="fail">TARGETS NOT MET</span>"# },
        escape(&report.tool),
        escape(&report.target),
        escape(&report.started_at),
        if report.quick { " · quick run" } else { "" },
        report.scenarios.len()
    );
    out.push_str("<table><tr><th>scenario</th><th>requests</th><th>success %</th><th>req/s</th><th>avg ms</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th><th>cache hit %</th><th>grade</th><th>result</th></tr>");
    for s in &report.scenarios {
        let l = &s.served_latency_ms;
        let _ = write!(
            out,
            "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1}</td><td>{2:.2}</td><td>{3:.1}</td><td>{4:.1}</td><td>{5:.1}</td><td>{6:.1}</td><td>{7:.1}</td><td>{8:.1}</td><td>{9:.1}</td><td>{10}</td><td>{11}</td><td>{12}</td></tr>",
            escape(&s.name),
            s.requests.total,
            s.success_pct,
            s.throughput_rps,
            l.avg,
            l.p50,
            l.p90,
            l.p95,
            l.p99,
            l.max,
            s.cache.hit_pct.map_or_else(|| "–".to_owned(), |h| format!("{h:.1}")),
            s.grade.as_str(),
            if s.passed { r#"<span class="pass">PASS</span>"# } else { r#"<span class="fail">FAIL</span>"# }
        );
    }
    out.push_str("</table>");
    if report.scenarios.len() > 1 {
        out.push_str("<div class=\"charts\">");
        let p95: Vec<(String, f64)> = report.scenarios.iter().map(|s| (s.name.clone(), s.served_latency_ms.p95)).collect();
        out.push_str(&bar_chart("p95 latency per scenario", "ms", &p95, "#e67e22"));
        let hits: Vec<(String, f64)> = report.scenarios.iter().map(|s| (s.name.clone(), s.cache.hit_pct.unwrap_or(0.0))).collect();
        out.push_str(&bar_chart("Cache hit rate per scenario", "%", &hits, "#8e44ad"));
        out.push_str("</div>");
    }
    for s in &report.scenarios {
        out.push_str(&scenario_section(s));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(1200.0), 2000.0);
        assert_eq!(nice_max(2400.0), 2500.0);
        assert_eq!(nice_max(100.0), 100.0);
    }

    #[test]
    fn the_report_is_self_contained_and_names_every_scenario() {
        let mut second = sample_report("light <b>", 1200);
        second.faults.push(crate::report::FaultRecord {
            at_s: 0.5,
            hook: "kill-redis".into(),
            command: None,
            exit_code: Some(0),
            note: String::new(),
        });
        let html = render(&Report::new("http://127.0.0.1:1", true, "t".into(), vec![sample_report("baseline", 900), second]));
        assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href=\"http"), "nothing loaded from outside");
        assert!(html.contains("id=\"baseline\""));
        assert!(html.contains("light &lt;b&gt;"), "names are escaped");
        assert!(html.matches("<svg").count() >= 2 * 4 + 2, "four charts per scenario plus the two summaries");
        assert!(html.contains("kill-redis"), "fault markers are drawn");
        assert!(html.contains("<polyline"));
    }
}
