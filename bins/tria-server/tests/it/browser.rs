//! The chat page, widget and console in a real browser: Debian's `chromium` (installed with
//! apt-get when missing) driven by npm's `playwright-core` (installed into `target/browser-tests`,
//! never downloading a browser of its own) against the real server on a free port. The steps are
//! in `tests/browser/webui.mjs`; screenshots go to `target/screenshots/`. When Chromium, Node or
//! the package cannot be installed the test says why and skips.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tria_server::ServeOptions;

use crate::web::{WIDGET_KEY, app_with_widget, operator_key};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Each apt-get step when Chromium must be installed first (once per machine).
const APT_TIMEOUT: Duration = Duration::from_secs(240);
/// The whole browser run (its own steps wait at most 15–20 s each).
const RUN_TIMEOUT: Duration = Duration::from_secs(160);

/// `target/` (the parent of Cargo's per-target temporary directory).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"))
}

async fn run(program: &str, args: &[&str], dir: Option<&Path>, limit: Duration) -> Result<(), String> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().map_err(|e| format!("{program}: {e}"))?;
    let out = tokio::time::timeout(limit, child.wait_with_output()).await.map_err(|_| format!("{program} {args:?} timed out"))?;
    let out = out.map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!("{program} {args:?} failed: {}", stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / ")))
    }
}

/// Chromium from Debian, installed when missing.
async fn chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    let install = ["install", "-y", "--no-install-recommends", "chromium"];
    if run("apt-get", &install, None, APT_TIMEOUT).await.is_err() {
        // Stale package lists are the usual reason; refresh once and try again.
        run("apt-get", &["update"], None, APT_TIMEOUT).await?;
        run("apt-get", &install, None, APT_TIMEOUT).await?;
    }
    if Path::new(CHROMIUM).exists() { Ok(()) } else { Err("apt-get install chromium did not provide /usr/bin/chromium".into()) }
}

/// `playwright-core` from the npm registry into `target/browser-tests/node_modules`.
async fn playwright(dir: &Path) -> Result<PathBuf, String> {
    let modules = dir.join("node_modules");
    if modules.join("playwright-core/package.json").exists() {
        return Ok(modules);
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        std::fs::write(&manifest, r#"{"name":"tria-browser-tests","private":true}"#).map_err(|e| e.to_string())?;
    }
    run("npm", &["install", "--no-audit", "--no-fund", "--ignore-scripts", "playwright-core@1"], Some(dir), Duration::from_secs(180))
        .await?;
    Ok(modules)
}

#[tokio::test]
#[allow(clippy::print_stderr, reason = "a skipped run must say why, and a finished one shows its steps")]
async fn the_chat_page_widget_and_console_work_in_chromium() {
    if let Err(reason) = chromium().await {
        eprintln!("SKIPPED browser test: Chromium is not available ({reason})");
        return;
    }
    if let Err(reason) = run("node", &["--version"], None, Duration::from_secs(10)).await {
        eprintln!("SKIPPED browser test: Node.js is not available ({reason})");
        return;
    }
    let target = target_dir();
    let modules = match playwright(&target.join("browser-tests")).await {
        Ok(m) => m,
        Err(reason) => {
            eprintln!("SKIPPED browser test: playwright-core could not be installed ({reason})");
            return;
        }
    };
    let shots = target.join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    let app = app_with_widget().await;
    let operator = operator_key(&app, &["northwind"]).await;
    let admin = app.admin_key().await;
    // A conversation of another tenant, which the operator must never see.
    let (_, velo) = app.chat(crate::VELO_KEY, serde_json::json!({ "message": "Do you sell bike helmets?" })).await;
    assert!(velo["session_id"].is_string());
    let server = crate::serve_on_loopback(
        app.router.clone(),
        ServeOptions { header_read_timeout: Duration::from_secs(5), drain_timeout: Duration::from_secs(1), ..Default::default() },
    )
    .await;
    let base = format!("http://{}", server.addr);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/webui.mjs");
    let child = Command::new("node")
        .arg(&script)
        .env("TRIA_BASE", &base)
        .env("TRIA_WIDGET_KEY", WIDGET_KEY)
        .env("TRIA_OPERATOR_KEY", &operator)
        .env("TRIA_ADMIN_KEY", &admin)
        .env("TRIA_SHOTS", &shots)
        .env("CHROMIUM", CHROMIUM)
        .env("NODE_PATH", &modules)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output()).await;
    let _ = server.stop(Duration::from_secs(60)).await;
    let output = output.expect("the browser run finishes within its time limit").expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(output.status.success(), "browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("browser tests passed"), "{stdout}");
    for shot in [
        "01-chat-reply-with-citation.png",
        "04-console-conversation.png",
        "06-dashboard.png",
        "07-phone.png",
        "08-clients-report.png",
        "09-clients.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot} was written");
    }
}
