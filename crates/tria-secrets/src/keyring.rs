//! Master keys: loaded from a file or a base64 value (never from the database), identified by a
//! digest so rows sealed under an older key still find it while a rotation runs.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::SecretsError;

const KEY_LEN: usize = 32;

/// Which master key sealed a row: the first 8 bytes of SHA-256 over a label and the key, in hex.
/// It names the key without revealing anything usable about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 32-byte master key, zeroed on drop; Debug shows only its id.
#[derive(Clone)]
pub struct MasterKey {
    id: KeyId,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let bytes = Zeroizing::new(bytes);
        let digest = Sha256::new().chain_update(b"tria-secrets key id v1\0").chain_update(bytes.as_slice()).finalize();
        Self { id: KeyId(hex::encode(&digest[..8])), bytes }
    }

    /// A fresh random key (the thread-local CSPRNG, seeded from the OS).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut_slice());
        Self::from_bytes(*bytes)
    }

    /// A key written as base64 (standard alphabet, padding optional); `source_name` says where
    /// it came from in the error.
    pub fn from_base64(text: &str, source_name: &str) -> Result<Self, SecretsError> {
        let text = text.trim().trim_end_matches('=');
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text)
                .map_err(|_| SecretsError::BadKey { source_name: source_name.to_owned(), reason: "is not base64".into() })?,
        );
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| SecretsError::BadKey {
            source_name: source_name.to_owned(),
            reason: format!("must decode to {KEY_LEN} bytes (got {})", decoded.len()),
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// A key file: the key in base64 on one line (what [`generate_key_file`] writes), or the 32
    /// raw bytes.
    pub fn from_file(path: &Path) -> Result<Self, SecretsError> {
        let content = Zeroizing::new(std::fs::read(path).map_err(|source| SecretsError::KeyFile { path: path.to_owned(), source })?);
        let source_name = path.display().to_string();
        if let Ok(raw) = <[u8; KEY_LEN]>::try_from(content.as_slice()) {
            return Ok(Self::from_bytes(raw));
        }
        let text = std::str::from_utf8(&content).map_err(|_| SecretsError::BadKey {
            source_name: source_name.clone(),
            reason: "is neither 32 raw bytes nor base64 text".into(),
        })?;
        Self::from_base64(text, &source_name)
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_slice()))
    }
}

/// Writes a fresh key to `path` (base64, one line; mode 0600 on Unix) and returns it. Refuses to
/// overwrite an existing file: a lost key is every secret sealed under it lost.
pub fn generate_key_file(path: &Path) -> Result<MasterKey, SecretsError> {
    use std::io::Write as _;
    let key = MasterKey::generate();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| SecretsError::KeyFile { path: dir.to_owned(), source })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| SecretsError::KeyFile { path: path.to_owned(), source })?;
    let line = key.to_base64();
    file.write_all(line.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|source| SecretsError::KeyFile { path: path.to_owned(), source })?;
    Ok(key)
}

/// Where the keys come from, as configuration names them (`[secrets]`).
#[derive(Clone, Debug, Default)]
pub struct KeySources {
    /// `secrets.master_key_file`.
    pub master_key_file: Option<PathBuf>,
    /// `secrets.master_key` / `TRIA_SECRETS__MASTER_KEY`: base64. Used when no file is named.
    pub master_key_base64: Option<crate::SecretValue>,
    /// `secrets.previous_key_files`: keys still accepted for opening while a rotation runs.
    pub previous_key_files: Vec<PathBuf>,
    /// Dev only: with no key configured, this file is used, and created with a fresh key when
    /// missing.
    pub dev_key_file: Option<PathBuf>,
}

impl KeySources {
    /// The sources `[secrets]` names (`tria_config` has validated them).
    pub fn from_settings(settings: &tria_config::SecretsSettings) -> Self {
        Self {
            master_key_file: settings.master_key_file.clone(),
            master_key_base64: settings.master_key.as_ref().map(|k| crate::SecretValue::new(k.expose())),
            previous_key_files: settings.previous_key_files.clone(),
            dev_key_file: settings.dev_key_file.clone(),
        }
    }
}

/// The current key (seals everything new) and the previous ones (open rows not yet rotated).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        let previous = previous.into_iter().filter(|k| k.id != current.id).collect();
        Self { current, previous }
    }

    /// The keyring the sources name; `Ok(None)` when no key is configured (secrets are then
    /// unavailable, and nothing else is affected). The second value says whether a dev key file
    /// was created just now, for the start-up log (which names the file, never the key).
    pub fn load(sources: &KeySources) -> Result<(Option<Self>, bool), SecretsError> {
        let mut created = false;
        let current = if let Some(path) = &sources.master_key_file {
            MasterKey::from_file(path)?
        } else if let Some(text) = &sources.master_key_base64 {
            MasterKey::from_base64(text.expose(), "secrets.master_key")?
        } else if let Some(path) = &sources.dev_key_file {
            if path.exists() {
                MasterKey::from_file(path)?
            } else {
                created = true;
                generate_key_file(path)?
            }
        } else {
            return Ok((None, false));
        };
        let previous = sources.previous_key_files.iter().map(|p| MasterKey::from_file(p)).collect::<Result<Vec<_>, _>>()?;
        Ok((Some(Self::new(current, previous)), created))
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// Every key, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    pub(crate) fn find(&self, id: &str) -> Option<&MasterKey> {
        self.all().find(|k| k.id.as_str() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_hold_base64_or_raw_bytes_and_are_never_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keys/master.key");
        let key = generate_key_file(&path).expect("generate");
        assert_eq!(MasterKey::from_file(&path).expect("read").id(), key.id());
        assert!(matches!(generate_key_file(&path), Err(SecretsError::KeyFile { .. })), "an existing key file is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, key.bytes()).expect("write raw");
        assert_eq!(MasterKey::from_file(&raw).expect("raw").id(), key.id());
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "c2hvcnQ=").expect("write");
        let err = MasterKey::from_file(&bad).expect_err("short key");
        assert!(err.to_string().contains("32 bytes"), "{err}");
    }

    #[test]
    fn debug_names_the_key_id_only() {
        let key = MasterKey::from_bytes([7u8; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains(key.id().as_str()) && !shown.contains("7, 7"), "{shown}");
        assert_eq!(key.id().as_str().len(), 16);
    }

    #[test]
    fn nothing_configured_means_no_keyring_and_the_dev_file_is_made_once() {
        assert!(Keyring::load(&KeySources::default()).expect("load").0.is_none());
        let dir = tempfile::tempdir().expect("dir");
        let sources = KeySources { dev_key_file: Some(dir.path().join("secrets.key")), ..KeySources::default() };
        let (first, created) = Keyring::load(&sources).expect("first");
        assert!(created);
        let (second, created_again) = Keyring::load(&sources).expect("second");
        assert!(!created_again);
        assert_eq!(first.expect("ring").current().id(), second.expect("ring").current().id());
    }
}
