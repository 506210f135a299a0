use tria_core::ApiRole;

use crate::tenant;

#[tokio::test]
async fn keys_authenticate_until_revoked_and_are_stored_hashed() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "keys").await;
        let plaintext = "tria_test_key_0123456789abcdef";
        let id = store.keys().insert(Some(t.id), ApiRole::Tenant, "test", plaintext).await.expect("insert");
        let auth = store.keys().authenticate(plaintext).await.expect("auth").expect("valid key");
        assert_eq!(auth.tenant_id, Some(t.id));
        assert_eq!(auth.role, ApiRole::Tenant);

        let rows = store.keys().list(Some(t.id)).await.expect("list");
        assert_eq!(rows.len(), 1);
        assert_ne!(rows[0].key_hash, plaintext);
        assert!(!rows[0].key_hash.contains(plaintext));
        assert_eq!(rows[0].key_hash, tria_store::repo::hash_key(plaintext));
        // The auth cache's key is the same digest as bytes; a known SHA-256 vector pins it.
        assert_eq!(tria_store::repo::hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let digest = tria_store::repo::key_digest(plaintext);
        assert_eq!(rows[0].key_hash, digest.iter().map(|b| format!("{b:02x}")).collect::<String>());
        assert_ne!(digest, tria_store::repo::key_digest("tria_test_key_0123456789abcdeX"));

        // Same prefix, different secret: no match.
        assert!(store.keys().authenticate("tria_test_key_0123456789abcdeX").await.expect("auth").is_none());
        assert!(store.keys().authenticate("").await.expect("auth").is_none());

        store.keys().revoke(id).await.expect("revoke");
        assert!(store.keys().authenticate(plaintext).await.expect("auth").is_none(), "{}", db.label);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn key_shape_is_checked() {
    let db = tria_testkit::sqlite().await;
    let t = tenant(&db.store, "shape").await;
    assert!(db.store.keys().insert(Some(t.id), ApiRole::Tenant, "short", "too-short").await.is_err());
    assert!(db.store.keys().insert(None, ApiRole::Tenant, "no tenant", "tria_test_key_without_tenant_000").await.is_err());
    assert!(db.store.keys().insert(Some(t.id), ApiRole::Admin, "admin with tenant", "tria_test_admin_key_00000000000").await.is_err());
    assert!(db.store.keys().insert(None, ApiRole::Admin, "admin", "tria_test_admin_key_00000000000").await.is_ok());
}
