//! `[secrets]`: where the master key that seals tenants' integration secrets comes from. The key
//! itself is never in a config file that is checked in, nor in the database.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ConfigError;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSecrets {
    pub master_key_file: String,
    /// Base64 of 32 bytes; meant for `TRIA_SECRETS__MASTER_KEY`, not for files.
    pub master_key: String,
    pub previous_key_files: Vec<String>,
}

/// Text that must not be printed: Debug shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedText(pub(crate) String);

impl RedactedText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedactedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Debug, Default)]
pub struct SecretsSettings {
    /// `secrets.master_key_file`: the current key (base64 text or 32 raw bytes).
    pub master_key_file: Option<PathBuf>,
    /// `secrets.master_key` (`TRIA_SECRETS__MASTER_KEY`), when no file is named.
    pub master_key: Option<RedactedText>,
    /// `secrets.previous_key_files`: older keys, still accepted for opening during a rotation.
    pub previous_key_files: Vec<PathBuf>,
    /// Profile `dev` with no key configured: `{data_dir}/secrets.key`, created on first start.
    pub dev_key_file: Option<PathBuf>,
}

pub(crate) fn validate_secrets(raw: &RawSecrets, profile: &str, data_dir: &Path) -> Result<SecretsSettings, ConfigError> {
    let file = raw.master_key_file.trim();
    let key = raw.master_key.trim();
    if !file.is_empty() && !key.is_empty() {
        return Err(ConfigError::invalid("secrets.master_key", "set either secrets.master_key_file or secrets.master_key, not both"));
    }
    let mut previous = Vec::new();
    for (i, p) in raw.previous_key_files.iter().enumerate() {
        if p.trim().is_empty() {
            return Err(ConfigError::invalid(format!("secrets.previous_key_files[{i}]"), "is empty"));
        }
        previous.push(PathBuf::from(p.trim()));
    }
    let configured = !file.is_empty() || !key.is_empty();
    if !configured && !previous.is_empty() {
        return Err(ConfigError::invalid("secrets.previous_key_files", "needs a current key: set secrets.master_key_file"));
    }
    Ok(SecretsSettings {
        master_key_file: (!file.is_empty()).then(|| PathBuf::from(file)),
        master_key: (!key.is_empty()).then(|| RedactedText(key.to_owned())),
        previous_key_files: previous,
        dev_key_file: (!configured && profile == "dev").then(|| data_dir.join("secrets.key")),
    })
}

#[cfg(test)]
mod tests {
    use crate::{ConfigSources, load};

    fn env(pairs: &[(&str, &str)]) -> ConfigSources {
        ConfigSources { env: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), ..ConfigSources::default() }
    }

    #[test]
    fn secrets_keys_come_from_env_and_never_print() {
        let dev = load(&env(&[])).expect("valid");
        assert!(dev.secrets.master_key_file.is_none());
        assert!(dev.secrets.dev_key_file.as_ref().is_some_and(|p| p.ends_with("secrets.key")), "dev makes a key file");
        let test = load(&env(&[("TRIA_PROFILE", "test")])).expect("valid");
        assert!(test.secrets.dev_key_file.is_none(), "only dev generates a key");

        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let with_key = load(&env(&[("TRIA_SECRETS__MASTER_KEY", key)])).expect("valid");
        assert_eq!(with_key.secrets.master_key.as_ref().map(|k| k.expose()), Some(key));
        assert!(with_key.secrets.dev_key_file.is_none());
        assert!(!format!("{with_key:?}").contains(key), "Settings' Debug must not show the key");

        let file = load(&env(&[("TRIA_SECRETS__MASTER_KEY_FILE", "/run/secrets/tria.key")])).expect("valid");
        assert_eq!(file.secrets.master_key_file.as_deref(), Some(std::path::Path::new("/run/secrets/tria.key")));
        let both = load(&env(&[("TRIA_SECRETS__MASTER_KEY_FILE", "/k"), ("TRIA_SECRETS__MASTER_KEY", key)]));
        assert!(both.expect_err("both").to_string().contains("secrets.master_key"));
    }
}
