//! `test`: the whole suite, the way CI runs it.

use std::process::Command;

use anyhow::bail;

#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// Extra arguments passed to `cargo test` (after `--workspace`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

pub(crate) fn run(args: &TestArgs) -> anyhow::Result<()> {
    match std::env::var("TRIA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => println!("xtask test: PostgreSQL store tests against {}", crate::db::redact(&url)),
        _ => println!("xtask test: TRIA_TEST_POSTGRES_URL is not set; PostgreSQL store tests are skipped (SQLite always runs)"),
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(["test", "--workspace", "--all-targets", "--no-fail-fast"]).args(&args.rest).status()?;
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}
