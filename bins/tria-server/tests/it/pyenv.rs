//! Python tools from PyPI for the tests that drive a real socket with them (the `openai` SDK,
//! `schemathesis`): one venv per tool under the target dir, created and filled on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The venv `name`'s directory, with `package` (a pip requirement) installed; `import` is the
/// module whose import proves it is there.
pub(crate) fn venv_with(name: &str, package: &str, import: &str) -> Result<PathBuf, String> {
    let venv = target_dir().join(name);
    let python = venv.join("bin/python");
    let has_it = |p: &Path| Command::new(p).args(["-c", &format!("import {import}")]).status().is_ok_and(|s| s.success());
    if python.exists() && has_it(&python) {
        return Ok(venv);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() { Ok(()) } else { Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr))) }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", package]))?;
    Ok(venv)
}

/// Whether a failed install may skip the test: never on CI, which must exercise the real tool.
pub(crate) fn skip_or_panic(what: &str, err: &str) {
    if std::env::var("CI").is_ok() {
        panic!("installing {what}: {err}");
    }
    eprintln!("skipping the {what} test: {err}");
}
