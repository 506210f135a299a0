//! Put, get, list, delete through `SecretStore`; what the database holds.

use tria_secrets::{Keyring, MasterKey, SecretName, SecretStore, SecretValue, SecretsError};
use tria_store::{DbOptions, Store};

use crate::tenant;

const VALUE: &str = "gorgias-api-key-PLAINTEXT-4242";

#[tokio::test]
async fn secrets_round_trip_per_tenant_and_list_shows_hints_only() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (a, b) = (tenant(store, "secrets-a").await, tenant(store, "secrets-b").await);
        let secrets = SecretStore::new(store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
        let hint = secrets.put(a.id, SecretName::GorgiasApiKey, &SecretValue::new(VALUE)).await.expect("put");
        assert_eq!((hint.name.as_str(), hint.hint.as_str()), ("gorgias_api_key", "••••4242"), "{}", db.label);
        assert_eq!(secrets.get(a.id, SecretName::GorgiasApiKey).await.expect("get").expect("set").expose(), VALUE);
        assert!(secrets.get(b.id, SecretName::GorgiasApiKey).await.expect("get").is_none(), "another tenant's");
        assert!(secrets.get(a.id, SecretName::LlmApiKey).await.expect("get").is_none());

        // Replacing keeps one row, with the new value and hint.
        secrets.put(a.id, SecretName::GorgiasApiKey, &SecretValue::new("replaced-value-0000-9999")).await.expect("replace");
        secrets.put(a.id, SecretName::LlmApiKey, &SecretValue::new("sk-short")).await.expect("put");
        let listed = secrets.list(a.id).await.expect("list");
        let shown: Vec<_> = listed.iter().map(|h| (h.name.as_str(), h.hint.as_str())).collect();
        assert_eq!(shown, [("gorgias_api_key", "••••9999"), ("llm_api_key", "••••")], "{}", db.label);
        assert!(format!("{listed:?}").find("replaced-value").is_none());
        assert!(secrets.list(b.id).await.expect("list").is_empty());

        assert!(secrets.delete(a.id, SecretName::LlmApiKey).await.expect("delete"));
        assert!(!secrets.delete(a.id, SecretName::LlmApiKey).await.expect("delete again"));
        assert!(!secrets.delete(b.id, SecretName::GorgiasApiKey).await.expect("other tenant's"), "{}", db.label);
        assert_eq!(secrets.list(a.id).await.expect("list").len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_row_copied_to_another_tenant_or_name_does_not_open() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (a, b) = (tenant(store, "copy-a").await, tenant(store, "copy-b").await);
        let secrets = SecretStore::new(store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
        secrets.put(a.id, SecretName::XeroClientSecret, &SecretValue::new(VALUE)).await.expect("put");
        let row = store.secrets().get(a.id, "xero_client_secret").await.expect("get").expect("row");
        let copied = tria_store::repo::SealedSecret {
            key_id: row.key_id.clone(),
            nonce: row.nonce.clone(),
            ciphertext: row.ciphertext.clone(),
            hint: row.hint.clone(),
        };
        store.secrets().put(b.id, "xero_client_secret", copied.clone()).await.expect("copy to b");
        store.secrets().put(a.id, "llm_api_key", copied).await.expect("copy to another name");
        assert!(matches!(secrets.get(b.id, SecretName::XeroClientSecret).await, Err(SecretsError::CannotOpen)), "{}", db.label);
        assert!(matches!(secrets.get(a.id, SecretName::LlmApiKey).await, Err(SecretsError::CannotOpen)));
        db.cleanup().await;
    }
}

/// The SQLite file holds the ciphertext, never the plaintext (nor its hex or base64).
#[tokio::test]
async fn the_database_file_does_not_contain_the_plaintext() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tria.db");
    let store = Store::connect(&DbOptions::new(format!("sqlite://{}?mode=rwc", path.display()))).await.expect("open");
    store.migrate().await.expect("migrate");
    let t = tenant(&store, "bytes").await;
    let secrets = SecretStore::new(store.clone(), Keyring::new(MasterKey::generate(), Vec::new()));
    for name in SecretName::ALL {
        secrets.put(t.id, name, &SecretValue::new(format!("{name}-{VALUE}"))).await.expect("put");
    }
    store.close().await;
    let mut bytes = std::fs::read(&path).expect("read db");
    for extra in ["-wal", "-journal"] {
        if let Ok(more) = std::fs::read(format!("{}{extra}", path.display())) {
            bytes.extend(more);
        }
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"gorgias_api_key"), "the names are stored in clear (sanity check of the read)");
    assert!(contains("••••4242".as_bytes()), "the hint is");
    assert!(!contains(b"PLAINTEXT"), "no plaintext in the database file");
    assert!(!contains(hex_upper(b"PLAINTEXT").as_bytes()) && !contains(hex_lower(b"PLAINTEXT").as_bytes()));
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
