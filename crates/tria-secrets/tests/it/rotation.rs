//! Rotation: every row re-wrapped under the new key, resumable, and the old key unneeded after.

use tria_secrets::{Keyring, MasterKey, SecretName, SecretStore, SecretValue, SecretsError, rotate};

use crate::tenant;

#[tokio::test]
async fn rotation_rewraps_every_row_and_the_old_key_is_no_longer_needed() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let tenants = [tenant(store, "rot-a").await, tenant(store, "rot-b").await, tenant(store, "rot-c").await];
        let old = MasterKey::generate();
        let before = SecretStore::new(store.clone(), Keyring::new(old.clone(), Vec::new()));
        for t in &tenants {
            for name in [SecretName::XeroRefreshToken, SecretName::SlackWebhookUrl, SecretName::LlmApiKey] {
                before.put(t.id, name, &SecretValue::new(format!("{}-{name}-value", t.slug))).await.expect("put");
            }
        }
        let hints_before = before.list(tenants[0].id).await.expect("list");

        let new = MasterKey::generate();
        let during = Keyring::new(new.clone(), vec![old.clone()]);
        // Batches of 2 over 9 rows; then again: nothing left to do.
        let report = rotate(store, &during, 2).await.expect("rotate");
        assert_eq!(report.rewrapped, 9, "{}", db.label);
        assert_eq!(rotate(store, &during, 2).await.expect("again").rewrapped, 0, "idempotent");
        let counts = store.secrets().count_by_key().await.expect("counts");
        assert_eq!(counts, [(new.id().as_str().to_owned(), 9)], "{}", db.label);

        let after = SecretStore::new(store.clone(), Keyring::new(new.clone(), Vec::new()));
        for t in &tenants {
            let value = after.get(t.id, SecretName::SlackWebhookUrl).await.expect("opens with the new key alone").expect("set");
            assert_eq!(value.expose(), format!("{}-slack_webhook_url-value", t.slug));
        }
        assert_eq!(after.list(tenants[0].id).await.expect("list"), hints_before, "hints and times unchanged");
        let old_only = SecretStore::new(store.clone(), Keyring::new(old, Vec::new()));
        assert!(matches!(old_only.get(tenants[0].id, SecretName::LlmApiKey).await, Err(SecretsError::UnknownKey { .. })));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_rotation_missing_a_key_stops_and_resumes_once_it_is_given() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "rot-resume").await;
        let (k1, k2, k3) = (MasterKey::generate(), MasterKey::generate(), MasterKey::generate());
        SecretStore::new(store.clone(), Keyring::new(k1.clone(), Vec::new()))
            .put(t.id, SecretName::GorgiasApiKey, &SecretValue::new("under-key-one"))
            .await
            .expect("put");
        SecretStore::new(store.clone(), Keyring::new(k2.clone(), Vec::new()))
            .put(t.id, SecretName::XeroClientId, &SecretValue::new("under-key-two"))
            .await
            .expect("put");
        // k3 with only k2 as previous: the k1 row (gorgias) sorts first and stops the run.
        let partial = Keyring::new(k3.clone(), vec![k2.clone()]);
        let err = rotate(store, &partial, 10).await.expect_err("k1 is missing");
        assert!(matches!(&err, SecretsError::UnknownKey { key_id } if key_id == k1.id().as_str()), "{err}");
        let full = Keyring::new(k3.clone(), vec![k1, k2]);
        assert_eq!(rotate(store, &full, 10).await.expect("resume").rewrapped, 2, "{}", db.label);
        let after = SecretStore::new(store.clone(), Keyring::new(k3, Vec::new()));
        assert_eq!(after.get(t.id, SecretName::XeroClientId).await.expect("get").expect("set").expose(), "under-key-two");
        db.cleanup().await;
    }
}
