//! `OutboxRepo::backlog`: the `tria_outbox_depth` / `tria_outbox_oldest_age_seconds` gauges read it.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, Set};
use tria_store::entity::outbox;
use uuid::Uuid;

use crate::tenant;

#[tokio::test]
async fn the_backlog_counts_pending_and_leased_rows_per_kind_with_the_oldest() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "backlog").await;
        let now = Utc::now();
        let row = |kind: &str, state: &str, age_s: i64| outbox::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(t.id.0),
            kind: Set(kind.to_owned()),
            payload: Set(serde_json::json!({})),
            idempotency_key: Set(Uuid::new_v4().to_string()),
            state: Set(state.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            lease_token: Set(None),
            lease_expires_at: Set(None),
            created_at: Set(now - Duration::seconds(age_s)),
            updated_at: Set(now),
        };
        for (kind, state, age) in [
            ("invoice", "pending", 30),
            ("invoice", "leased", 600),
            ("invoice", "done", 9000),
            ("invoice", "failed", 9000),
            ("notify", "pending", 5),
        ] {
            row(kind, state, age).insert(store.connection()).await.expect("insert");
        }
        let mut backlog = store.outbox().backlog().await.expect("backlog");
        backlog.sort_by(|a, b| a.kind.cmp(&b.kind));
        let summary: Vec<(&str, u64)> = backlog.iter().map(|b| (b.kind.as_str(), b.depth)).collect();
        assert_eq!(summary, [("invoice", 2), ("notify", 1)], "done and failed rows are not backlog ({})", db.label);
        let oldest = backlog[0].oldest_created_at.expect("oldest");
        assert!((now - oldest - Duration::seconds(600)).num_seconds().abs() <= 1, "{}: {oldest}", db.label);
        db.cleanup().await;
    }
}
