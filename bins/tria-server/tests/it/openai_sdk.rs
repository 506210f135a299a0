//! The official `openai` Python package (from PyPI, installed into a venv under the target dir)
//! talking to a real Tria socket: non-streaming, streaming, and its error classes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tria_server::ServeOptions;

use crate::{NORTHWIND_KEY, TestApp};

const OPENAI_PACKAGE: &str = "openai==3.54.0";

/// The venv's python, creating the venv and installing the SDK on first use.
fn python_with_openai() -> Result<PathBuf, String> {
    crate::pyenv::venv_with("py-openai", OPENAI_PACKAGE, "openai").map(|venv| venv.join("bin/python"))
}

#[tokio::test]
async fn the_official_openai_sdk_works_against_tria() {
    let python = match tokio::task::spawn_blocking(python_with_openai).await.expect("join") {
        Ok(p) => p,
        // CI must exercise the real SDK; a developer machine without PyPI access may skip.
        Err(e) => return crate::pyenv::skip_or_panic("openai SDK", &e),
    };
    let app = TestApp::new().await;
    let server = crate::serve_on_loopback(
        app.router.clone(),
        ServeOptions { header_read_timeout: Duration::from_secs(5), drain_timeout: Duration::from_secs(5), ..Default::default() },
    )
    .await;
    let addr = server.addr;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/openai_sdk.py");
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .env("TRIA_BASE", format!("http://{addr}"))
        .env("TRIA_KEY", NORTHWIND_KEY)
        .output()
        .await
        .expect("run python");
    let _ = server.stop(Duration::from_secs(5)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openai SDK script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("openai sdk: ok"), "{stdout}");
}
