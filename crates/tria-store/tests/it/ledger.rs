//! The LLM cost ledger: rows written through the batch writer (flush waits for them), grouped
//! by day, intent and model per tenant or for all, a retried batch not counted twice — on
//! SQLite and PostgreSQL.

use chrono::{NaiveDate, TimeZone, Utc};
use tria_store::ledger::LedgerWriter;
use tria_store::repo::{LedgerKind, NewLedgerRow, UsageGroup};

use crate::tenant;

fn row(tenant: tria_core::TenantId, day: u32, model: &str, outcome: &str, tokens: (u64, u64), cost: u64) -> NewLedgerRow {
    NewLedgerRow {
        id: uuid::Uuid::new_v4(),
        tenant: Some(tenant),
        conversation: None,
        message: None,
        intent: Some("policy_question".into()),
        kind: LedgerKind::Call,
        provider: "openai".into(),
        model: model.into(),
        attempts: 1,
        input_tokens: tokens.0,
        output_tokens: tokens.1,
        cached_input_tokens: 0,
        tokens_estimated: outcome == "timeout",
        outcome: outcome.into(),
        price_micro_per_mtok: [150_000, 600_000, 75_000],
        cost_micro_usd: cost,
        saved_micro_usd: 0,
        latency_ms: 12,
        at: Utc.with_ymd_and_hms(2025, 3, day, 10, 0, 0).single().expect("time"),
    }
}

#[tokio::test]
async fn rows_written_in_batches_add_up_by_day_intent_and_model() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (a, b) = (tenant(store, "ledger-a").await, tenant(store, "ledger-b").await);
        let writer = LedgerWriter::spawn(store.clone());
        let first = row(a.id, 1, "gpt-4o-mini", "used", (1000, 200), 270);
        writer.record(first.clone());
        writer.record(row(a.id, 1, "gpt-4o-mini", "discarded_by_validation", (1000, 100), 210));
        writer.record(row(a.id, 2, "gpt-4o", "timeout", (900, 0), 2250));
        let mut hit = row(a.id, 2, "gpt-4o-mini", "cache_hit", (0, 0), 0);
        hit.kind = LedgerKind::CacheHit;
        hit.intent = None;
        hit.saved_micro_usd = 270;
        writer.record(hit);
        writer.record(row(b.id, 1, "gpt-4o-mini", "used", (5, 5), 1));
        assert!(writer.flush().await, "{}", db.label);
        // A batch written again (after an unclear failure) is not counted twice.
        store.ledger().insert(&[first]).await.expect("same id again");

        let (from, to) = (NaiveDate::from_ymd_opt(2025, 3, 1).expect("day"), NaiveDate::from_ymd_opt(2025, 3, 31).expect("day"));
        let days = store.ledger().usage(Some(a.id), from, to, UsageGroup::Day).await.expect("by day");
        assert_eq!(days.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), ["2025-03-01", "2025-03-02"], "{}", db.label);
        assert_eq!((days[0].calls, days[0].wasted_calls, days[0].input_tokens, days[0].output_tokens), (2, 1, 2000, 300));
        assert_eq!(days[0].cost_micro_usd, 480);
        assert_eq!((days[1].calls, days[1].cache_hits, days[1].saved_micro_usd, days[1].estimated_calls), (1, 1, 270, 1));
        assert_eq!(days[1].cost_micro_usd, 2250);

        let models = store.ledger().usage(Some(a.id), from, to, UsageGroup::Model).await.expect("by model");
        assert_eq!(models.iter().map(|m| (m.key.as_str(), m.cost_micro_usd)).collect::<Vec<_>>(), [("gpt-4o", 2250), ("gpt-4o-mini", 480)]);
        let intents = store.ledger().usage(Some(a.id), from, to, UsageGroup::Intent).await.expect("by intent");
        assert_eq!(intents.iter().map(|m| (m.key.as_str(), m.calls)).collect::<Vec<_>>(), [("none", 0), ("policy_question", 3)]);

        let everyone = store.ledger().usage(None, from, to, UsageGroup::Model).await.expect("all tenants");
        assert_eq!(everyone.iter().map(|m| m.calls).sum::<i64>(), 4, "{}", db.label);
        let outside = store.ledger().usage(Some(a.id), to, to, UsageGroup::Day).await.expect("empty range");
        assert!(outside.is_empty());
        db.cleanup().await;
    }
}
