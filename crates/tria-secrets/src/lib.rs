//! Tenants' integration secrets sealed at rest (XChaCha20-Poly1305, bound to tenant and name) under
//! a master key kept outside the database; values are write-only and print as `[redacted]`.

mod error;
mod keyring;
mod names;
mod rotate;
mod seal;
mod store;
mod value;

pub use error::SecretsError;
pub use keyring::{KeyId, KeySources, Keyring, MasterKey, generate_key_file};
pub use names::{SecretName, UnknownSecretName};
pub use rotate::{RotationReport, rotate};
pub use seal::Sealed;
pub use store::{SecretHint, SecretStore};
pub use value::{SecretValue, masked_hint};
