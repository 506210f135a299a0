use std::time::Duration;

use clap::Parser;
use tria_load::cli::{Cli, Command, RunArgs};
use tria_load::grade::Grade;
use tria_load::report::Report;
use tria_mock_llm::MockConfig;

use crate::{NORTHWIND_KEY, TestServer, VELO_KEY};

fn run_args(argv: &[&str]) -> RunArgs {
    match Cli::try_parse_from([&["tria-load", "run"], argv].concat()).expect("valid args").command {
        Command::Run(args) => *args,
        other => panic!("not a run: {other:?}"),
    }
}

/// `run --quick baseline` against the server: the JSON report on disk has the scenario with
/// every request answered, figures that add up, a grade, verdicts, and the HTML beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_baseline_run_writes_a_complete_report() {
    let server = TestServer::start(MockConfig { latency: Duration::from_millis(20), ..MockConfig::default() }).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, html) = (dir.path().join("results.json"), dir.path().join("report.html"));
    let northwind = format!("northwind={NORTHWIND_KEY}:3");
    let velo = format!("velo={VELO_KEY}:2");
    let args = run_args(&[
        "baseline",
        "--quick",
        "--no-progress",
        "--target",
        &server.base_url,
        "--tenant",
        &northwind,
        "--tenant",
        &velo,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--html",
        html.to_str().expect("utf-8 path"),
    ]);
    let returned = tokio::time::timeout(Duration::from_secs(50), tria_load::run(&args)).await.expect("bounded").expect("run");
    let report = Report::read(&out).expect("the JSON report reads back");
    assert_eq!(report, returned);
    assert!(report.quick);
    assert_eq!(report.target, server.base_url);
    let [baseline] = report.scenarios.as_slice() else { panic!("one scenario: {report:?}") };
    assert_eq!(baseline.name, "baseline");
    assert_eq!(baseline.requests.total, 5, "1 user x 5 requests");
    assert_eq!(baseline.requests.ok, 5, "statuses {:?} errors {:?}", baseline.statuses, baseline.errors);
    assert_eq!(baseline.statuses.get("200"), Some(&5));
    assert_eq!(baseline.success_pct, 100.0);
    let l = &baseline.served_latency_ms;
    assert_eq!(l.count, 5);
    assert!(l.min > 0.0 && l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, "{l:?}");
    assert_eq!(baseline.grade, Grade::Excellent, "{l:?}");
    let c = &baseline.cache;
    assert_eq!(c.l1 + c.l2 + c.l3 + c.none, 5, "every answer says where it came from: {c:?}");
    // The warm-up asked the canonical wordings first, so most answers are cache hits.
    assert!(c.hit_pct.is_some_and(|h| h >= 50.0), "{c:?}");
    assert_eq!(baseline.tenants.values().map(|t| t.requests).sum::<u64>(), 5);
    assert!(baseline.throughput_rps > 0.0);
    assert_eq!(baseline.timeline.iter().map(|p| p.requests).sum::<u64>(), 5);
    let server_figures = baseline.server.as_ref().expect("/metrics was scraped");
    assert!(server_figures.before.rss_bytes.is_some_and(|b| b > 1e6), "{server_figures:?}");
    let names: Vec<&str> = baseline.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["success_pct", "avg_ms", "cache_hit_pct"]);
    assert!(baseline.passed && report.passed, "{:?}", baseline.targets);
    let page = std::fs::read_to_string(&html).expect("HTML report");
    assert!(page.contains("id=\"baseline\"") && page.contains("<svg"));
}

/// The streaming endpoint: time to first token and tokens/s are measured; a refused key shows
/// up as 401s in the error breakdown, not as a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_figures_and_a_bad_key_are_reported() {
    let server = TestServer::start(MockConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("results.json");
    let html = dir.path().join("report.html");
    let northwind = format!("northwind={NORTHWIND_KEY}");
    let args = run_args(&[
        "light",
        "--quick",
        "--no-progress",
        "--endpoint",
        "stream",
        "--requests",
        "2",
        "--target",
        &server.base_url,
        "--tenant",
        &northwind,
        "--out",
        out.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
    ]);
    let report = tokio::time::timeout(Duration::from_secs(50), tria_load::run(&args)).await.expect("bounded").expect("run");
    let light = &report.scenarios[0];
    assert_eq!(light.requests.ok, 10, "{:?}", light.errors);
    let stream = light.stream.as_ref().expect("streaming figures");
    assert_eq!(stream.responses, 10);
    assert!(stream.tokens_total >= 10 && stream.ttft_ms.p50 > 0.0, "{stream:?}");

    let bad = run_args(&[
        "baseline",
        "--quick",
        "--no-progress",
        "--no-warmup",
        "--target",
        &server.base_url,
        "--tenant",
        "northwind=tria_not_a_key",
        "--out",
        out.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
    ]);
    let report = tria_load::run(&bad).await.expect("a run with failures still reports");
    let baseline = &report.scenarios[0];
    assert_eq!(baseline.errors.get("http_401"), Some(&5), "{:?}", baseline.errors);
    assert!(!baseline.passed && !report.passed);
    assert_eq!(baseline.success_pct, 0.0);
}
