//! `secrets keygen|status|rotate`: master keys for tenants' sealed secrets. `rotate` re-wraps
//! every row under a new key in batches; it is idempotent and resumable (each row names its key),
//! so it can be stopped and run again. The keys are never printed.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use tria_config::Settings;
use tria_secrets::{KeySources, Keyring, MasterKey};

use crate::db::{open, runtime};

#[derive(Debug, Args)]
pub(crate) struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Write a fresh master key to FILE (base64, mode 0600); refuses to overwrite.
    Keygen { file: PathBuf },
    /// How many secrets each key id seals, and which key ids the configuration holds.
    Status,
    /// Re-wrap every secret under the key in --new-key-file. The configured keys
    /// (secrets.master_key_file, secrets.previous_key_files) open the rows not yet re-wrapped.
    Rotate {
        #[arg(long)]
        new_key_file: PathBuf,
        /// Rows per batch.
        #[arg(long, default_value_t = 200)]
        batch: u64,
    },
}

pub(crate) fn run(args: &SecretsArgs, settings: &Settings) -> anyhow::Result<()> {
    if let SecretsCommand::Keygen { file } = &args.command {
        let key = tria_secrets::generate_key_file(file)?;
        println!("wrote a new master key to {} (key id {})", file.display(), key.id());
        return Ok(());
    }
    // No dev key file here: a task must not invent the key the server should already have.
    let sources = KeySources { dev_key_file: None, ..KeySources::from_settings(&settings.secrets) };
    let (configured, _) = Keyring::load(&sources)?;
    runtime()?.block_on(async {
        let store = open(settings).await?;
        store.migrate().await?;
        match &args.command {
            SecretsCommand::Keygen { .. } => Ok(()),
            SecretsCommand::Status => {
                match &configured {
                    Some(ring) => println!("current key id {}", ring.current().id()),
                    None => println!("no master key configured (secrets.master_key_file)"),
                }
                for (key_id, rows) in store.secrets().count_by_key().await? {
                    println!("{key_id}\t{rows} secrets");
                }
                Ok(())
            }
            SecretsCommand::Rotate { new_key_file, batch } => {
                let new = MasterKey::from_file(new_key_file)?;
                let old = configured.context("no master key configured: set secrets.master_key_file to the key the rows are under")?;
                let previous: Vec<MasterKey> = old.all().cloned().collect();
                let keyring = Keyring::new(new, previous);
                let report = tria_secrets::rotate(&store, &keyring, *batch).await?;
                println!(
                    "re-wrapped {} secrets under key {} ({} changed meanwhile, {} unknown names left)",
                    report.rewrapped,
                    keyring.current().id(),
                    report.changed_meanwhile,
                    report.skipped_unknown_names
                );
                let left: i64 = store
                    .secrets()
                    .count_by_key()
                    .await?
                    .iter()
                    .filter(|(id, _)| id != keyring.current().id().as_str())
                    .map(|(_, n)| n)
                    .sum();
                println!("{left} secrets still under other keys");
                if left == 0 {
                    println!(
                        "set secrets.master_key_file = {} and drop the old key from secrets.previous_key_files",
                        new_key_file.display()
                    );
                }
                Ok(())
            }
        }
    })
}
