//! What can go wrong with a secret; no variant ever carries a secret's value.

use std::path::PathBuf;

use tria_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No master key is configured, so nothing can be sealed or opened.
    #[error("secrets are not configured: set secrets.master_key_file (or TRIA_SECRETS__MASTER_KEY, a base64 32-byte key)")]
    NotConfigured,
    /// A key file or value that is not a 32-byte key.
    #[error("master key {source_name}: {reason}")]
    BadKey { source_name: String, reason: String },
    #[error("cannot read or write master key file {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    /// The row was sealed under a key this process does not hold.
    #[error("secret sealed under key {key_id}, which is not configured (add its file to secrets.previous_key_files)")]
    UnknownKey { key_id: String },
    /// Authentication failed: the wrong key, an altered row, or a row moved to another tenant or name.
    #[error("secret could not be opened: wrong key, or the stored row was altered or moved")]
    CannotOpen,
    #[error("secret could not be sealed")]
    CannotSeal,
    #[error(transparent)]
    Store(#[from] StoreError),
}
