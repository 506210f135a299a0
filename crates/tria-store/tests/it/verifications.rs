//! Failed-verification counts: per tenant and subject, within a window, taken back by id,
//! pruned by age — on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use tria_store::repo::{VerificationScope, VerificationSubject};

use crate::tenant;

#[tokio::test]
async fn failures_are_counted_per_tenant_and_subject_within_the_window() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (a, b) = (tenant(store, "verify-a").await, tenant(store, "verify-b").await);
        let repo = store.verifications();
        let number = VerificationSubject::new(VerificationScope::CustomerNumber, "CUST-1001");
        let client = VerificationSubject::new(VerificationScope::Client, "203.0.113.9");
        let now = Utc::now();
        repo.record(a.id, &[number.clone(), client.clone()], now - Duration::hours(2)).await.expect("old");
        let rows = repo.record(a.id, &[number.clone(), client.clone()], now).await.expect("record");
        assert_eq!(rows.len(), 2);
        repo.record(b.id, std::slice::from_ref(&number), now).await.expect("other tenant");
        let hour_ago = now - Duration::hours(1);
        assert_eq!(repo.failures_since(a.id, &number, hour_ago).await.expect("count"), 1, "{}", db.label);
        assert_eq!(repo.failures_since(a.id, &number, now - Duration::hours(3)).await.expect("count"), 2);
        assert_eq!(repo.failures_since(a.id, &client, hour_ago).await.expect("count"), 1);
        // The same text in another scope is another subject.
        let as_session = VerificationSubject::new(VerificationScope::Session, "CUST-1001");
        assert_eq!(repo.failures_since(a.id, &as_session, hour_ago).await.expect("count"), 0);

        repo.forget(a.id, &rows).await.expect("forget");
        assert_eq!(repo.failures_since(a.id, &number, hour_ago).await.expect("count"), 0);
        assert_eq!(repo.failures_since(b.id, &number, hour_ago).await.expect("count"), 1, "another tenant's rows stay");
        assert_eq!(repo.prune(a.id, hour_ago).await.expect("prune"), 2, "{}", db.label);
        assert_eq!(repo.failures_since(a.id, &number, now - Duration::hours(3)).await.expect("count"), 0);

        let long = VerificationSubject::new(VerificationScope::CustomerNumber, &"9".repeat(10_000));
        repo.record(a.id, std::slice::from_ref(&long), now).await.expect("a long subject is cut, not refused");
        assert_eq!(repo.failures_since(a.id, &long, hour_ago).await.expect("count"), 1);
        db.cleanup().await;
    }
}
