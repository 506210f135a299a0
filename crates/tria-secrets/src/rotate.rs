//! Key rotation: every row not yet under the keyring's current key is opened with the key it
//! names and sealed again under the current one, in batches. Each row is re-wrapped on its own
//! (compare-and-set on the key id and nonce it was read with), so the rotation can stop anywhere
//! and run again: rows already under the new key are not read twice, and a secret written
//! meanwhile (already under the new key) is left alone.

use tria_core::TenantId;

use crate::store::{sealed_of, sealed_row};
use crate::{Keyring, SecretName, SecretsError};

/// What a rotation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows sealed again under the current key.
    pub rewrapped: u64,
    /// Rows changed by someone else between the read and the re-wrap (now under the new key).
    pub changed_meanwhile: u64,
    /// Rows whose name is not a known secret name (left as they are).
    pub skipped_unknown_names: u64,
}

/// Re-wraps every row not under `keyring`'s current key, `batch` rows at a time. Fails on the
/// first row none of the keyring's keys opens (a missing previous key), having re-wrapped
/// everything before it; run it again once the key is added.
pub async fn rotate(store: &tria_store::Store, keyring: &Keyring, batch: u64) -> Result<RotationReport, SecretsError> {
    let current = keyring.current().id().as_str().to_owned();
    let repo = store.secrets();
    let mut report = RotationReport::default();
    let mut after = None;
    loop {
        let rows = repo.not_under_key(&current, after.clone(), batch.max(1)).await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.tenant_id, last.name.clone()));
        for row in &rows {
            let Ok(name) = row.name.parse::<SecretName>() else {
                report.skipped_unknown_names += 1;
                continue;
            };
            let tenant = TenantId(row.tenant_id);
            let value = keyring.open(tenant, name, &sealed_of(row))?;
            let sealed = keyring.seal(tenant, name, &value)?;
            if repo.rewrap(row, sealed_row(sealed, row.hint.clone())).await? {
                report.rewrapped += 1;
            } else {
                report.changed_meanwhile += 1;
            }
        }
        tracing::info!(rewrapped = report.rewrapped, "secrets rotation: batch done");
    }
    Ok(report)
}
