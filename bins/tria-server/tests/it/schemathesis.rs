//! `schemathesis` (PyPI, installed into a venv under the target dir) generates requests from
//! `/openapi.json` — valid ones and deliberately broken ones — and sends them to a real socket
//! with a tenant key. Every response must be documented (status, content type, headers, body
//! schema) and no input may produce a 5xx. Bounded: few examples per operation, a time budget.

use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;
use tria_server::{LimitSettings, ServeOptions, ServiceSettings, serve};

use crate::{NORTHWIND_KEY, TestApp};

const SCHEMATHESIS_PACKAGE: &str = "schemathesis==4.32.5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_or_schema_violations() {
    let venv = match tokio::task::spawn_blocking(|| crate::pyenv::venv_with("py-schemathesis", SCHEMATHESIS_PACKAGE, "schemathesis"))
        .await
        .expect("join")
    {
        Ok(venv) => venv,
        Err(e) => return crate::pyenv::skip_or_panic("schemathesis", &e),
    };
    // Generous rate limits: the run sends a few hundred requests from one tenant in seconds.
    let settings = ServiceSettings {
        limits: LimitSettings { tenant_per_second: 10_000.0, tenant_burst: 10_000, ..LimitSettings::default() },
        ..ServiceSettings::default()
    };
    let app = TestApp::with_settings(settings).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = ServeOptions { header_read_timeout: Duration::from_secs(5), drain_timeout: Duration::from_secs(5) };
    let server = tokio::spawn(serve(
        listener,
        app.router.clone(),
        async move {
            let _ = stopped.await;
        },
        opts,
    ));

    let report = crate::pyenv::target_dir().join("schemathesis-report");
    let output = tokio::process::Command::new(venv.join("bin/st"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["--no-color", "run", &format!("http://{addr}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {NORTHWIND_KEY}")])
        .args(["--checks", "all", "--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--max-time", "45", "--workers", "2", "--seed", "1"])
        .args(["--suppress-health-check", "all", "--request-timeout", "10"])
        .arg("--report-dir")
        .arg(&report)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(80), output).await.expect("schemathesis within 80 s").expect("run st");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis found problems:\n{stdout}\n{stderr}");
}
