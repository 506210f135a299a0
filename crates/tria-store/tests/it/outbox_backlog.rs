//! `OutboxRepo::backlog`: the `tria_outbox_depth` / `tria_outbox_oldest_age_seconds` gauges read it.

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

use crate::tenant;

#[tokio::test]
async fn the_backlog_counts_pending_and_leased_rows_per_kind_with_the_oldest() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "backlog").await;
        let now = Utc::now();
        // Raw rows with chosen ages: nothing in the repositories back-dates a job (the entities
        // stay inside tria-store), so the test writes the table itself.
        let conn = store.connection();
        let insert = "INSERT INTO integration_outbox \
             (id, tenant_id, kind, payload, idempotency_key, state, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        for (kind, state, age) in [
            ("invoice", "pending", 30),
            ("invoice", "leased", 600),
            ("invoice", "done", 9000),
            ("invoice", "failed", 9000),
            ("notify", "pending", 5),
        ] {
            let values: Vec<Value> = vec![
                Uuid::new_v4().into(),
                t.id.0.into(),
                kind.into(),
                serde_json::json!({}).into(),
                Uuid::new_v4().to_string().into(),
                state.into(),
                0i32.into(),
                now.into(),
                (now - Duration::seconds(age)).into(),
                now.into(),
            ];
            conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), insert, values)).await.expect("insert");
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
