//! Retention passes on real databases: rows older than a tenant's limits go (with timestamps set
//! directly), newer ones and other tenants' stay, deletes come in batches of `batch_size`, each
//! tenant that lost anything gets one audit entry with the counts, and on PostgreSQL a second
//! replica's pass does nothing while the first holds the lock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tria_core::{ConversationId, MessageRole, TenantContext};
use tria_store::repo::{AuditFilter, Exchange, NewConversation, NewMessage, NewTenant};
use tria_store::retention::{
    RETENTION_ACTION, RetentionCounts, RetentionJob, RetentionOptions, RetentionPolicy, RetentionRun, TenantPurge,
};
use tria_store::{Backend, Store};
use uuid::Uuid;

fn days_ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - chrono::Duration::days(days)
}

async fn tenant_with(store: &Store, slug: &str, settings: serde_json::Value) -> TenantContext {
    store
        .tenants()
        .create(NewTenant { name: format!("Tenant {slug}"), slug: slug.into(), currency: "USD".into(), tone: Default::default(), settings })
        .await
        .expect("create tenant")
}

fn backend(store: &Store) -> DbBackend {
    match store.backend() {
        Backend::Postgres => DbBackend::Postgres,
        Backend::Sqlite => DbBackend::Sqlite,
    }
}

fn placeholders(store: &Store, n: usize) -> Vec<String> {
    (1..=n).map(|i| if store.backend() == Backend::Postgres { format!("${i}") } else { format!("?{i}") }).collect()
}

async fn exec(store: &Store, sql: String, values: Vec<sea_orm::Value>) {
    store.connection().execute_raw(Statement::from_sql_and_values(backend(store), sql, values)).await.expect("raw statement");
}

/// A conversation of two messages whose last activity (and every message) was at `at`.
async fn conversation_at(store: &Store, tenant: &TenantContext, at: DateTime<Utc>) -> ConversationId {
    let conv = ConversationId::new_random();
    let exchange = Exchange {
        conversation: conv,
        opens_conversation: Some(NewConversation { customer: None, channel: "api".into() }),
        user: NewMessage::new(MessageRole::User, "where is my order?"),
        assistant: NewMessage::new(MessageRole::Assistant, "on its way"),
    };
    store.conversations().record_exchange(tenant.id, exchange).await.expect("record");
    age_conversation(store, conv, at).await;
    let p = placeholders(store, 2);
    exec(store, format!("UPDATE messages SET created_at = {} WHERE conversation_id = {}", p[0], p[1]), vec![at.into(), conv.0.into()])
        .await;
    conv
}

/// Sets the conversation's last activity (a hand-off touches it).
async fn age_conversation(store: &Store, conv: ConversationId, at: DateTime<Utc>) {
    let p = placeholders(store, 2);
    exec(
        store,
        format!("UPDATE conversations SET started_at = {0}, updated_at = {0} WHERE id = {1}", p[0], p[1]),
        vec![at.into(), conv.0.into()],
    )
    .await;
}

/// An escalation on `conv` last changed at `at`.
async fn escalation_at(store: &Store, tenant: &TenantContext, conv: ConversationId, at: DateTime<Utc>) -> Uuid {
    let esc = store.conversations().hand_off(tenant.id, conv, "customer asked for a person").await.expect("hand off").id;
    let p = placeholders(store, 2);
    exec(
        store,
        format!("UPDATE escalations SET created_at = {0}, updated_at = {0} WHERE id = {1}", p[0], p[1]),
        vec![at.into(), esc.into()],
    )
    .await;
    esc
}

/// An audit entry written at `at` (the log refuses UPDATE, so it is inserted as it was).
async fn audit_at(store: &Store, tenant: Option<&TenantContext>, at: DateTime<Utc>) {
    let p = placeholders(store, 6);
    let sql = format!(
        "INSERT INTO audit_log (id, tenant_id, tenant_slug, actor_key_id, actor_role, action, target, request_id, details, created_at) \
         VALUES ({}, {}, {}, NULL, 'admin', 'key.created', 'k', 'r', {}, {})",
        p[0], p[1], p[2], p[3], p[4]
    );
    let values = vec![
        Uuid::new_v4().into(),
        tenant.map(|t| t.id.0).into(),
        tenant.map(|t| t.slug.clone()).into(),
        serde_json::json!({}).into(),
        at.into(),
    ];
    exec(store, sql, values).await;
}

async fn audit_entries(store: &Store) -> Vec<tria_store::records::AuditEntry> {
    store.audit().list(&AuditFilter { limit: 1000, ..AuditFilter::default() }).await.expect("audit list")
}

fn options(batch_size: u64, defaults: RetentionPolicy) -> RetentionOptions {
    // A lock key of the test's own: other tests (and servers) share the PostgreSQL database.
    RetentionOptions { defaults, batch_size, pause: Duration::ZERO, lock_key: rand_key() }
}

fn rand_key() -> i64 {
    i64::from_be_bytes(Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"))
}

fn done(run: RetentionRun) -> Vec<TenantPurge> {
    match run {
        RetentionRun::Done(purges) => purges,
        RetentionRun::Skipped => panic!("the pass was skipped"),
    }
}

#[tokio::test]
async fn a_pass_removes_exactly_what_is_past_each_tenants_limits_in_bounded_batches() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let now = Utc::now();
        let a = tenant_with(
            store,
            "keeps-30",
            serde_json::json!({ "retention": { "transcripts_days": 30, "escalations_days": 60, "audit_days": 90 } }),
        )
        .await;
        let b = tenant_with(store, "keeps-all", serde_json::json!({})).await;

        let mut old = Vec::new();
        for _ in 0..5 {
            old.push(conversation_at(store, &a, days_ago(now, 40)).await);
        }
        // Handed off 45 days ago, quiet since: goes with its conversation.
        escalation_at(store, &a, old[0], days_ago(now, 45)).await;
        age_conversation(store, old[0], days_ago(now, 40)).await;
        let fresh = conversation_at(store, &a, days_ago(now, 1)).await;
        let lively = conversation_at(store, &a, now).await;
        // An escalation older than 60 days on a conversation kept (its own limit), and a recent one.
        let stale_escalation = escalation_at(store, &a, fresh, days_ago(now, 70)).await;
        let recent_escalation = escalation_at(store, &a, lively, days_ago(now, 2)).await;
        audit_at(store, Some(&a), days_ago(now, 100)).await;
        audit_at(store, Some(&a), days_ago(now, 95)).await;
        audit_at(store, Some(&a), days_ago(now, 10)).await;
        // Another tenant with nothing set keeps its old transcripts; its audit entry is within
        // the deployment's 365 days; an entry of no tenant is past them.
        let b_old = conversation_at(store, &b, days_ago(now, 400)).await;
        audit_at(store, Some(&b), days_ago(now, 100)).await;
        audit_at(store, None, days_ago(now, 400)).await;

        let defaults = RetentionPolicy { audit_days: Some(365), ..RetentionPolicy::default() };
        let job = RetentionJob::new(store, options(2, defaults));
        let purges = done(job.run_once(now).await.expect("pass"));

        let of_a = purges.iter().find(|p| p.tenant == Some(a.id)).expect("tenant a's purge");
        assert_eq!(of_a.removed, RetentionCounts { conversations: 5, messages: 10, escalations: 2, audit_entries: 2 }, "{}", db.label);
        // 10 messages two at a time, 5 conversations two at a time, then escalations and audit.
        assert!(of_a.batches >= 10, "{} batches on {}", of_a.batches, db.label);
        let of_b = purges.iter().find(|p| p.tenant == Some(b.id)).expect("tenant b has the default audit limit");
        assert!(of_b.removed.is_empty(), "{:?}", of_b.removed);
        let deployment = purges.iter().find(|p| p.tenant.is_none()).expect("entries of no tenant");
        assert_eq!(deployment.removed.audit_entries, 1);

        for conv in &old {
            assert!(store.conversations().get(a.id, *conv).await.expect("get").is_none(), "{}", db.label);
            assert!(store.conversations().messages(a.id, *conv).await.expect("messages").is_empty());
            assert!(store.conversations().escalations(a.id, *conv).await.expect("escalations").is_empty());
        }
        for conv in [fresh, lively] {
            assert!(store.conversations().get(a.id, conv).await.expect("get").is_some());
            assert_eq!(store.conversations().messages(a.id, conv).await.expect("messages").len(), 2);
        }
        let kept: Vec<Uuid> = store.conversations().escalations(a.id, lively).await.expect("escalations").iter().map(|e| e.id).collect();
        assert_eq!(kept, vec![recent_escalation]);
        assert!(store.conversations().escalations(a.id, fresh).await.expect("escalations").iter().all(|e| e.id != stale_escalation));
        assert!(store.conversations().get(b.id, b_old).await.expect("get").is_some(), "the other tenant is untouched");
        assert_eq!(store.conversations().messages(b.id, b_old).await.expect("messages").len(), 2);

        // What is left of the log: a's recent entry, b's entry, and one report per tenant that
        // lost anything, by the retention job.
        let entries = audit_entries(store).await;
        let reports: Vec<_> = entries.iter().filter(|e| e.action == RETENTION_ACTION).collect();
        assert_eq!(reports.len(), 2, "a and the deployment: {reports:?}");
        let report_a = reports.iter().find(|e| e.tenant_id == Some(a.id.0)).expect("a's report");
        assert_eq!((report_a.actor_role.as_str(), report_a.actor_key_id), ("system", None));
        assert_eq!(report_a.details["actor"], "system:retention");
        assert_eq!(
            report_a.details["removed"],
            serde_json::json!({ "conversations": 5, "messages": 10, "escalations": 2, "audit_entries": 2 })
        );
        let others: Vec<_> = entries.iter().filter(|e| e.action != RETENTION_ACTION).collect();
        assert_eq!(others.len(), 2, "{others:?}");
        assert!(others.iter().all(|e| e.created_at > days_ago(now, 101)));

        let totals = job.totals().snapshot();
        assert_eq!(totals.removed, RetentionCounts { conversations: 5, messages: 10, escalations: 2, audit_entries: 3 });
        assert_eq!((totals.runs_done, totals.runs_skipped, totals.runs_failed), (1, 0, 0));

        // A second pass finds nothing and writes no report.
        let again = done(job.run_once(now).await.expect("second pass"));
        assert!(again.iter().all(|p| p.removed.is_empty()), "{again:?}");
        assert_eq!(audit_entries(store).await.len(), entries.len());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_conversation_active_again_keeps_its_new_messages_and_nothing_is_removed_without_limits() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let now = Utc::now();
        let t =
            tenant_with(store, "revived", serde_json::json!({ "retention": { "transcripts_days": 30, "escalations_days": null } })).await;
        let conv = conversation_at(store, &t, days_ago(now, 40)).await;
        // A new exchange today: the conversation's last activity moves to now.
        let exchange = Exchange {
            conversation: conv,
            opens_conversation: None,
            user: NewMessage::new(MessageRole::User, "hello again"),
            assistant: NewMessage::new(MessageRole::Assistant, "welcome back"),
        };
        store.conversations().record_exchange(t.id, exchange).await.expect("record");
        let job = RetentionJob::new(store, options(500, RetentionPolicy::default()));
        let purges = done(job.run_once(now).await.expect("pass"));
        assert_eq!(purges.len(), 1);
        assert!(purges[0].removed.is_empty(), "{:?} on {}", purges[0].removed, db.label);
        assert_eq!(store.conversations().messages(t.id, conv).await.expect("messages").len(), 4);

        // A tenant keeping everything, under a deployment keeping everything, is not even visited.
        let keep = tenant_with(store, "keeps", serde_json::json!({ "retention": {} })).await;
        let old = conversation_at(store, &keep, days_ago(now, 3000)).await;
        let purges = done(job.run_once(now).await.expect("pass"));
        assert!(purges.iter().all(|p| p.tenant != Some(keep.id)));
        assert!(store.conversations().get(keep.id, old).await.expect("get").is_some());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn one_pass_at_a_time_a_second_replica_does_nothing_while_the_first_holds_the_lock() {
    for db in tria_testkit::all_backends().await {
        let now = Utc::now();
        let t = tenant_with(&db.store, "locked", serde_json::json!({ "retention": { "transcripts_days": 30 } })).await;
        let old = conversation_at(&db.store, &t, days_ago(now, 31)).await;
        let opts = options(500, RetentionPolicy::default());
        let first = RetentionJob::new(&db.store, opts);
        // On PostgreSQL the other replica has its own pool; a SQLite store is one process's.
        let other_store = match db.store.backend() {
            Backend::Postgres => Some(db.connect_again().await),
            Backend::Sqlite => None,
        };
        let second = RetentionJob::new(other_store.as_ref().unwrap_or(&db.store), opts);

        let held = first.try_lock().await.expect("lock").expect("free at first");
        if db.store.backend() == Backend::Postgres {
            assert_eq!(second.run_once(now).await.expect("pass"), RetentionRun::Skipped);
            assert_eq!(second.totals().snapshot().runs_skipped, 1);
            assert!(db.store.conversations().get(t.id, old).await.expect("get").is_some(), "nothing done while held");
        } else {
            // The same job cannot run two passes at once.
            assert!(first.try_lock().await.expect("lock").is_none());
            assert_eq!(first.run_once(now).await.expect("pass"), RetentionRun::Skipped);
        }
        held.release().await;
        let purges = done(second.run_once(now).await.expect("pass after release"));
        assert_eq!(purges[0].removed.conversations, 1, "{}", db.label);
        assert!(db.store.conversations().get(t.id, old).await.expect("get").is_none());
        if let Some(other) = other_store {
            other.close().await;
        }
        db.cleanup().await;
    }
}
