//! Per-tenant Xero connections (m0011), on SQLite and PostgreSQL: a connect state is taken once;
//! a refresh is claimed from the generation read and by one holder at a time, its new token
//! stored with the generation bump only by the holder; a revocation is reported once; a
//! disconnect removes the row and the refresh token.

use chrono::{Duration, Utc};
use tria_store::repo::{NewXeroConnection, SealedSecret};

use crate::tenant;

const REFRESH: &str = "xero_refresh_token";

fn sealed(byte: u8) -> SealedSecret {
    SealedSecret { key_id: "k1".into(), nonce: vec![byte; 24], ciphertext: vec![byte; 32], hint: "ab…yz".into() }
}

fn org(id: &str) -> NewXeroConnection {
    NewXeroConnection {
        connection_id: format!("conn-{id}"),
        xero_tenant_id: id.into(),
        org_name: format!("Org {id}"),
        client_id: "app".into(),
    }
}

#[tokio::test]
async fn states_are_single_use_and_refreshes_are_claimed_by_one_holder() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (t, other) = (tenant(store, "xero-a").await, tenant(store, "xero-b").await);
        let repo = store.xero_connections();

        // A state is taken once; an expired one is taken too (the caller refuses it) and purged.
        repo.insert_state(t.id, "h1", Some("Acme"), Utc::now() + Duration::minutes(10)).await.expect("state");
        let taken = repo.take_state("h1").await.expect("take").expect("first take");
        assert_eq!((taken.tenant_id, taken.organisation.as_deref()), (t.id.0, Some("Acme")), "{}", db.label);
        assert_eq!(repo.take_state("h1").await.expect("take"), None, "{}: a replay finds nothing", db.label);
        assert_eq!(repo.take_state("never").await.expect("take"), None);

        assert_eq!(repo.get(t.id).await.expect("get"), None);
        let c = repo.connect(t.id, org("o1"), REFRESH, sealed(1)).await.expect("connect");
        assert!(c.is_connected());
        assert_eq!((c.xero_tenant_id.as_str(), c.token_generation), ("o1", 0));
        assert_eq!(store.secrets().get(t.id, REFRESH).await.expect("secret").map(|s| s.nonce), Some(vec![1; 24]));
        assert_eq!(repo.get(other.id).await.expect("get"), None, "other tenants have none");

        // One holder claims generation 0; a second claim (same or other holder) fails while held.
        let lease = Utc::now() + Duration::seconds(60);
        assert!(repo.claim_refresh(t.id, 0, "a", lease).await.expect("claim"));
        assert!(!repo.claim_refresh(t.id, 0, "b", lease).await.expect("claim"), "{}: held", db.label);
        // Only the holder completes; the token and the generation move together.
        assert!(!repo.complete_refresh(t.id, 0, "b", REFRESH, sealed(9)).await.expect("complete"));
        assert!(repo.complete_refresh(t.id, 0, "a", REFRESH, sealed(2)).await.expect("complete"));
        let c = repo.get(t.id).await.expect("get").expect("row");
        assert_eq!((c.token_generation, c.refresh_holder.as_deref()), (1, None));
        assert_eq!(store.secrets().get(t.id, REFRESH).await.expect("secret").map(|s| s.nonce), Some(vec![2; 24]));
        // A claim from the old generation fails: that token is used up.
        assert!(!repo.claim_refresh(t.id, 0, "b", lease).await.expect("claim"));
        // An expired lease can be taken over; a released one too.
        assert!(repo.claim_refresh(t.id, 1, "a", Utc::now() - Duration::seconds(1)).await.expect("claim"));
        assert!(repo.claim_refresh(t.id, 1, "b", lease).await.expect("claim"), "{}: expired lease", db.label);
        repo.release_refresh(t.id, 1, "b").await.expect("release");
        assert!(repo.get(t.id).await.expect("get").expect("row").refresh_lease_until.is_none());

        // Revoked once; no claim on a revoked connection.
        assert!(repo.mark_revoked(t.id, 1).await.expect("revoke"));
        assert!(!repo.mark_revoked(t.id, 1).await.expect("revoke"), "{}: reported once", db.label);
        assert!(!repo.claim_refresh(t.id, 1, "a", lease).await.expect("claim"));
        let revoked = repo.get(t.id).await.expect("get").expect("row");
        assert_eq!(revoked.status, "revoked");
        assert!(revoked.revoked_at.is_some());
        // Reconnecting clears it and moves the generation on.
        let again = repo.connect(t.id, org("o2"), REFRESH, sealed(3)).await.expect("reconnect");
        assert_eq!((again.status.as_str(), again.xero_tenant_id.as_str(), again.token_generation), ("connected", "o2", 2));
        assert_eq!(repo.list().await.expect("list").len(), 1);

        let removed = repo.disconnect(t.id, REFRESH).await.expect("disconnect").expect("was connected");
        assert_eq!(removed.xero_tenant_id, "o2");
        assert_eq!(repo.get(t.id).await.expect("get"), None);
        assert_eq!(store.secrets().get(t.id, REFRESH).await.expect("secret"), None, "{}: the token goes too", db.label);
        assert_eq!(repo.disconnect(t.id, REFRESH).await.expect("disconnect"), None);
        db.cleanup().await;
    }
}
