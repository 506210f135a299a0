//! `dist`: the tarball an image or a bare host runs — `tria-server` (without the demo fake),
//! `config/`, `fixtures/` and the embedding model with ONNX Runtime — and `--check`, which
//! unpacks it somewhere else and starts it under the production profile until `/health/ready`
//! reports the model loaded, then again without the model to see readiness refused.
//!
//! The image (deploy/Dockerfile) copies the same pieces; this is the check that runs where no
//! container tool can pull a base image.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;

use crate::loadtest::free_port;

#[derive(Debug, Args)]
pub(crate) struct DistArgs {
    /// Build with the dev profile (quicker; what CI checks) instead of release.
    #[arg(long)]
    debug: bool,
    /// Unpack the tarball into a temporary directory and start it with the production profile:
    /// ready with the model, not ready (503 naming it) without.
    #[arg(long)]
    check: bool,
    /// Where the tarball is written.
    #[arg(long, default_value = "target/dist")]
    out: PathBuf,
}

pub(crate) fn run(args: &DistArgs, models_dir: &Path) -> anyhow::Result<()> {
    let profile = if args.debug { "debug" } else { "release" };
    let mut build = crate::loadtest::cargo_command();
    build.args(["build", "-p", "tria-server", "--no-default-features"]);
    if !args.debug {
        build.arg("--release");
    }
    ensure!(build.status().context("running cargo build")?.success(), "cargo build failed");
    crate::model::fetch(models_dir, false)?;

    let name = format!("tria-{}", env!("CARGO_PKG_VERSION"));
    let staging = args.out.join(&name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)?;
    let binary = crate::loadtest::target_dir().join(profile).join("tria-server");
    std::fs::copy(&binary, staging.join("tria-server")).with_context(|| format!("copying {}", binary.display()))?;
    for (from, to) in [(Path::new("config"), "config"), (Path::new("fixtures"), "fixtures"), (models_dir, "models")] {
        copy_tree(from, &staging.join(to))?;
    }
    let tarball = args.out.join(format!("{name}-{}-{}.tar.gz", std::env::consts::OS, std::env::consts::ARCH));
    let status = Command::new("tar").arg("czf").arg(&tarball).arg("-C").arg(&args.out).arg(&name).status().context("running tar")?;
    ensure!(status.success(), "tar failed ({status})");
    std::fs::remove_dir_all(&staging)?;
    println!("dist: {} ({} MiB)", tarball.display(), std::fs::metadata(&tarball)?.len() >> 20);
    if args.check {
        check(&tarball, &name)?;
    }
    Ok(())
}

/// Unpacks `tarball` and starts it as an operator would: production profile, its own directory.
fn check(tarball: &Path, name: &str) -> anyhow::Result<()> {
    let unpacked = tempfile::tempdir()?;
    let status = Command::new("tar").arg("xzf").arg(tarball).arg("-C").arg(unpacked.path()).status().context("running tar")?;
    ensure!(status.success(), "unpacking failed ({status})");
    let root = unpacked.path().join(name);

    let with_model = readiness(&root, None, true)?;
    ensure!(with_model.0 == 200, "/health/ready answered {} with the shipped model: {}", with_model.0, with_model.1);
    let embedding = component(&with_model.1, "embedding")?;
    ensure!(embedding["status"] == "ok", "the shipped model did not load: {embedding}");
    println!("dist check: production profile ready, embedding {}", embedding["detail"]);

    let empty = tempfile::tempdir()?;
    let without = readiness(&root, Some(empty.path()), false)?;
    ensure!(without.0 == 503, "/health/ready answered {} without the model (expected 503): {}", without.0, without.1);
    let embedding = component(&without.1, "embedding")?;
    ensure!(embedding["required"] == true && embedding["status"] == "down", "without the model: {embedding}");
    println!("dist check: without the model, /health/ready is 503 naming it ({})", embedding["detail"]);
    Ok(())
}

/// Starts the unpacked server (optionally pointed at another models directory) and returns
/// `/health/ready`'s status and body: the first answer, or (`until_ready`) the first 200 within
/// 60 s, else the last answer seen.
fn readiness(root: &Path, models_dir: Option<&Path>, until_ready: bool) -> anyhow::Result<(u16, serde_json::Value)> {
    let data = tempfile::tempdir()?;
    let (api, ops) = (free_port()?, free_port()?);
    let mut cmd = Command::new(root.join("tria-server"));
    cmd.current_dir(root)
        .env("TRIA_PROFILE", "production")
        .env("TRIA_LISTEN", format!("127.0.0.1:{api}"))
        .env("TRIA_SERVER__OPS_LISTEN", format!("127.0.0.1:{ops}"))
        .env("TRIA_DATA_DIR", data.path())
        .env_remove("TRIA_DATABASE_URL")
        .env_remove("TRIA_REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = models_dir {
        cmd.env("TRIA_MODELS_DIR", dir);
    }
    let mut server = Stopped(cmd.spawn().context("starting the unpacked tria-server")?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{ops}/health/ready");
    let started = Instant::now();
    let mut last = None;
    loop {
        let answer = runtime.block_on(async {
            let response = client.get(&url).timeout(Duration::from_secs(5)).send().await.ok()?;
            let status = response.status().as_u16();
            Some((status, response.json::<serde_json::Value>().await.ok()?))
        });
        match answer {
            Some(answer) if !until_ready || answer.0 == 200 => return Ok(answer),
            Some(answer) => last = Some(answer),
            None => {}
        }
        if let Some(status) = server.0.try_wait()? {
            bail!("the unpacked tria-server exited before answering ({status})");
        }
        if started.elapsed() > Duration::from_secs(60) {
            return last.with_context(|| format!("the unpacked tria-server did not answer {url} within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn component<'a>(report: &'a serde_json::Value, name: &str) -> anyhow::Result<&'a serde_json::Value> {
    report["components"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .with_context(|| format!("no `{name}` component in {report}"))
}

/// A started server, killed when dropped whatever happened.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
