//! Sealing and opening one secret: XChaCha20-Poly1305 with a random 24-byte nonce and the
//! tenant id and secret name as associated data, so a row copied to another tenant or name fails
//! to open instead of handing one client's credentials to another.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use tria_core::TenantId;
use zeroize::Zeroizing;

use crate::{Keyring, SecretName, SecretValue, SecretsError};

const NONCE_LEN: usize = 24;

/// A sealed secret as stored: the id of the key that sealed it, the nonce and the ciphertext
/// (with its 16-byte tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Versioned, NUL-separated: no (tenant, name) pair can be made to read as another.
fn associated_data(tenant: TenantId, name: SecretName) -> Vec<u8> {
    format!("tria-secrets v1\0{}\0{}", tenant.0, name.as_str()).into_bytes()
}

impl Keyring {
    /// Seals `value` for `tenant`'s secret `name` under the current key.
    pub fn seal(&self, tenant: TenantId, name: SecretName, value: &SecretValue) -> Result<Sealed, SecretsError> {
        let key = self.current();
        let cipher = XChaCha20Poly1305::new_from_slice(key.bytes()).map_err(|_| SecretsError::CannotSeal)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(tenant, name);
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: value.expose().as_bytes(), aad: &aad })
            .map_err(|_| SecretsError::CannotSeal)?;
        Ok(Sealed { key_id: key.id().as_str().to_owned(), nonce: nonce.to_vec(), ciphertext })
    }

    /// Opens a sealed secret with the key its row names (current or previous).
    pub fn open(&self, tenant: TenantId, name: SecretName, sealed: &Sealed) -> Result<SecretValue, SecretsError> {
        let key = self.find(&sealed.key_id).ok_or_else(|| SecretsError::UnknownKey { key_id: sealed.key_id.clone() })?;
        let cipher = XChaCha20Poly1305::new_from_slice(key.bytes()).map_err(|_| SecretsError::CannotOpen)?;
        let nonce = XNonce::try_from(sealed.nonce.as_slice()).map_err(|_| SecretsError::CannotOpen)?;
        let aad = associated_data(tenant, name);
        let plain =
            Zeroizing::new(cipher.decrypt(&nonce, Payload { msg: &sealed.ciphertext, aad: &aad }).map_err(|_| SecretsError::CannotOpen)?);
        let text = std::str::from_utf8(&plain).map_err(|_| SecretsError::CannotOpen)?;
        Ok(SecretValue::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterKey;

    fn ring() -> Keyring {
        Keyring::new(MasterKey::generate(), Vec::new())
    }

    const VALUE: &str = "xero-client-secret-0123456789";

    #[test]
    fn a_sealed_secret_opens_to_its_value_and_hides_it() {
        let ring = ring();
        let tenant = TenantId::new_random();
        let sealed = ring.seal(tenant, SecretName::XeroClientSecret, &SecretValue::new(VALUE)).expect("seal");
        assert_eq!(sealed.key_id, ring.current().id().as_str());
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert_eq!(sealed.ciphertext.len(), VALUE.len() + 16);
        assert!(!sealed.ciphertext.windows(8).any(|w| VALUE.as_bytes().windows(8).any(|v| v == w)));
        let opened = ring.open(tenant, SecretName::XeroClientSecret, &sealed).expect("open");
        assert_eq!(opened.expose(), VALUE);
        let again = ring.seal(tenant, SecretName::XeroClientSecret, &SecretValue::new(VALUE)).expect("seal");
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce every time");
    }

    #[test]
    fn another_tenant_or_name_cannot_open_it() {
        let ring = ring();
        let tenant = TenantId::new_random();
        let sealed = ring.seal(tenant, SecretName::GorgiasApiKey, &SecretValue::new(VALUE)).expect("seal");
        let other = TenantId::new_random();
        assert!(matches!(ring.open(other, SecretName::GorgiasApiKey, &sealed), Err(SecretsError::CannotOpen)));
        assert!(matches!(ring.open(tenant, SecretName::LlmApiKey, &sealed), Err(SecretsError::CannotOpen)));
    }

    #[test]
    fn a_tampered_row_fails_to_open() {
        let ring = ring();
        let tenant = TenantId::new_random();
        let sealed = ring.seal(tenant, SecretName::LlmApiKey, &SecretValue::new(VALUE)).expect("seal");
        for i in [0, sealed.ciphertext.len() / 2, sealed.ciphertext.len() - 1] {
            let mut bad = sealed.clone();
            bad.ciphertext[i] ^= 0x01;
            assert!(matches!(ring.open(tenant, SecretName::LlmApiKey, &bad), Err(SecretsError::CannotOpen)), "byte {i}");
        }
        let mut bad = sealed.clone();
        bad.nonce[0] ^= 0x01;
        assert!(matches!(ring.open(tenant, SecretName::LlmApiKey, &bad), Err(SecretsError::CannotOpen)));
        let mut short = sealed;
        short.nonce.truncate(12);
        assert!(matches!(ring.open(tenant, SecretName::LlmApiKey, &short), Err(SecretsError::CannotOpen)));
    }

    #[test]
    fn the_wrong_key_fails_and_an_unknown_key_id_is_named() {
        let (a, b) = (ring(), ring());
        let tenant = TenantId::new_random();
        let sealed = a.seal(tenant, SecretName::SlackSigningSecret, &SecretValue::new(VALUE)).expect("seal");
        let err = b.open(tenant, SecretName::SlackSigningSecret, &sealed).expect_err("other key");
        assert!(matches!(&err, SecretsError::UnknownKey { key_id } if *key_id == sealed.key_id), "{err}");
        // Same id, different key (a row whose key_id was rewritten): authentication fails.
        let forged = Sealed { key_id: b.current().id().as_str().to_owned(), ..sealed.clone() };
        assert!(matches!(b.open(tenant, SecretName::SlackSigningSecret, &forged), Err(SecretsError::CannotOpen)));
        // During a rotation, the previous key still opens what it sealed.
        let rotating = Keyring::new(MasterKey::generate(), vec![a.current().clone()]);
        assert_eq!(rotating.open(tenant, SecretName::SlackSigningSecret, &sealed).expect("previous key").expose(), VALUE);
        for err in [err, SecretsError::CannotOpen] {
            assert!(!err.to_string().contains(VALUE) && !format!("{err:?}").contains(VALUE));
        }
    }
}
