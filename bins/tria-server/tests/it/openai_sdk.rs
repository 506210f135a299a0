//! The official `openai` Python package (from PyPI, installed into a venv under the target dir)
//! talking to a real Tria socket: non-streaming, streaming, and its error classes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio::net::TcpListener;
use tria_server::{ServeOptions, serve};

use crate::{NORTHWIND_KEY, TestApp};

const OPENAI_PACKAGE: &str = "openai==3.54.0";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The venv's python, creating the venv and installing the SDK on first use.
fn python_with_openai() -> Result<PathBuf, String> {
    let venv = target_dir().join("py-openai");
    let python = venv.join("bin/python");
    let has_sdk = |p: &Path| Command::new(p).args(["-c", "import openai"]).status().is_ok_and(|s| s.success());
    if python.exists() && has_sdk(&python) {
        return Ok(python);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() { Ok(()) } else { Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr))) }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", OPENAI_PACKAGE]))?;
    Ok(python)
}

#[tokio::test]
async fn the_official_openai_sdk_works_against_tria() {
    let python = match tokio::task::spawn_blocking(python_with_openai).await.expect("join") {
        Ok(p) => p,
        // CI must exercise the real SDK; a developer machine without PyPI access may skip.
        Err(e) if std::env::var("CI").is_err() => {
            eprintln!("skipping the openai SDK test: {e}");
            return;
        }
        Err(e) => panic!("installing the openai SDK: {e}"),
    };
    let app = TestApp::new().await;
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

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/openai_sdk.py");
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .env("TRIA_BASE", format!("http://{addr}"))
        .env("TRIA_KEY", NORTHWIND_KEY)
        .output()
        .await
        .expect("run python");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openai SDK script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("openai sdk: ok"), "{stdout}");
}
