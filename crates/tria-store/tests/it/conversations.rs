use tria_core::{CacheLevel, ConversationId, ConversationStatus, IntentLabel, MessageRole};
use tria_store::repo::{Exchange, NewConversation, NewMessage};

use crate::tenant;

#[tokio::test]
async fn an_exchange_stores_both_messages_with_their_metadata() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "conv").await;
        let conv = ConversationId::new_random();
        let mut user = NewMessage::new(MessageRole::User, "Where is my order? \u{1F600} ünïcödé");
        user.intent = Some((IntentLabel::OrderStatus, 0.9));
        let mut assistant = NewMessage::new(MessageRole::Assistant, "On its way.");
        assistant.sources = vec!["chunk-1".into()];
        assistant.latency_ms = 12;
        assistant.tokens_out = 4;
        assistant.cache_level = Some(CacheLevel::None);
        store
            .conversations()
            .record_exchange(
                t.id,
                Exchange {
                    conversation: conv,
                    opens_conversation: Some(NewConversation { customer: None, channel: "api".into() }),
                    user,
                    assistant,
                },
            )
            .await
            .expect("record");
        let msgs = store.conversations().messages(t.id, conv).await.expect("messages");
        assert_eq!(msgs.len(), 2, "{}", db.label);
        assert_eq!(msgs[0].role, "user");
        assert_eq!(msgs[0].content, "Where is my order? \u{1F600} ünïcödé");
        assert_eq!(msgs[0].intent.as_deref(), Some("order_status"));
        assert_eq!(msgs[1].role, "assistant");
        assert_eq!(msgs[1].sources, serde_json::json!(["chunk-1"]));
        assert_eq!(msgs[1].latency_ms, 12);
        assert_eq!(msgs[1].cache_level.as_deref(), Some("none"));

        let row = store.conversations().get(t.id, conv).await.expect("get").expect("exists");
        assert_eq!(row.status, "open");
        store.conversations().set_status(t.id, conv, ConversationStatus::HandedOff).await.expect("status");
        let row = store.conversations().get(t.id, conv).await.expect("get").expect("exists");
        assert_eq!(row.status, "handed_off");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_failed_exchange_leaves_nothing_behind() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "atomic").await;
        let conv = ConversationId::new_random();
        let ex = Exchange {
            conversation: conv,
            opens_conversation: Some(NewConversation { customer: None, channel: "api".into() }),
            user: NewMessage::new(MessageRole::User, "first"),
            assistant: NewMessage::new(MessageRole::Assistant, "reply"),
        };
        store.conversations().record_exchange(t.id, ex.clone()).await.expect("first");
        // Opening the same conversation again fails on the primary key: no extra messages.
        assert!(store.conversations().record_exchange(t.id, ex).await.is_err());
        assert_eq!(store.conversations().messages(t.id, conv).await.expect("messages").len(), 2, "{}", db.label);
        db.cleanup().await;
    }
}

fn exchange(conversation: ConversationId, opens: bool, text: &str) -> Exchange {
    Exchange {
        conversation,
        opens_conversation: opens.then(|| NewConversation { customer: None, channel: "api".into() }),
        user: NewMessage::new(MessageRole::User, text),
        assistant: NewMessage::new(MessageRole::Assistant, format!("reply to {text}")),
    }
}

fn delta(cache: CacheLevel, tokens_in: i64) -> tria_store::repo::UsageDelta {
    tria_store::repo::UsageDelta { messages: 1, tokens_in, cache_level: Some(cache), ..Default::default() }
}

#[tokio::test]
async fn a_batch_of_exchanges_of_several_tenants_commits_together_and_sums_each_tenants_day() {
    use tria_store::repo::MeteredExchange;
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (north, velo) = (tenant(store, "batch-n").await, tenant(store, "batch-v").await);
        let existing = ConversationId::new_random();
        store.conversations().record_exchange(north.id, exchange(existing, true, "first")).await.expect("first");
        let (opened, other) = (ConversationId::new_random(), ConversationId::new_random());
        let batch = [
            MeteredExchange { tenant: north.id, exchange: exchange(existing, false, "second"), usage: Some(delta(CacheLevel::L1, 0)) },
            MeteredExchange { tenant: north.id, exchange: exchange(opened, true, "new"), usage: Some(delta(CacheLevel::None, 40)) },
            MeteredExchange { tenant: velo.id, exchange: exchange(other, true, "velo"), usage: Some(delta(CacheLevel::L2, 0)) },
        ];
        store.exchange_batches().record_exchanges(&batch).await.expect("batch");

        let texts = |rows: Vec<tria_store::records::StoredMessage>| rows.into_iter().map(|m| m.content).collect::<Vec<_>>();
        assert_eq!(
            texts(store.conversations().messages(north.id, existing).await.expect("messages")),
            ["first", "reply to first", "second", "reply to second"],
            "{}",
            db.label
        );
        assert_eq!(store.conversations().messages(north.id, opened).await.expect("messages").len(), 2);
        assert!(store.conversations().get(north.id, other).await.expect("get").is_none(), "velo's conversation is not northwind's");
        assert_eq!(store.conversations().messages(velo.id, other).await.expect("messages").len(), 2);

        let today = chrono::Utc::now().date_naive();
        let north_day = store.usage().range(north.id, today, today).await.expect("usage");
        assert_eq!(north_day.len(), 1, "one row per tenant and day: {north_day:?}");
        assert_eq!((north_day[0].messages, north_day[0].tokens_in, north_day[0].cache_l1), (2, 40, 1));
        let velo_day = store.usage().range(velo.id, today, today).await.expect("usage");
        assert_eq!((velo_day[0].messages, velo_day[0].cache_l2, velo_day[0].cache_l1), (1, 1, 0));

        // A later batch adds to the day's row instead of replacing it.
        let mut costly = delta(CacheLevel::None, 7);
        costly.cost_usd = 0.25;
        let later = [MeteredExchange { tenant: north.id, exchange: exchange(opened, false, "again"), usage: Some(costly) }];
        store.exchange_batches().record_exchanges(&later).await.expect("later batch");
        let north_day = store.usage().range(north.id, today, today).await.expect("usage");
        assert_eq!((north_day.len(), north_day[0].messages, north_day[0].tokens_in, north_day[0].cache_l1), (1, 3, 47, 1), "{}", db.label);
        assert!((north_day[0].cost_usd - 0.25).abs() < 1e-9, "{}", north_day[0].cost_usd);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_batch_with_an_unknown_or_foreign_conversation_stores_none_of_its_exchanges() {
    use tria_store::repo::MeteredExchange;
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (north, velo) = (tenant(store, "batchfail-n").await, tenant(store, "batchfail-v").await);
        let norths = ConversationId::new_random();
        store.conversations().record_exchange(north.id, exchange(norths, true, "first")).await.expect("first");
        for stranger in [
            MeteredExchange { tenant: north.id, exchange: exchange(ConversationId::new_random(), false, "lost"), usage: None },
            // Another tenant's conversation is not found either.
            MeteredExchange { tenant: velo.id, exchange: exchange(norths, false, "cross-tenant"), usage: None },
        ] {
            let opened = ConversationId::new_random();
            // Besides the stranger: a conversation opened, one continued that exists, and usage,
            // so the missing one is told apart from every row that was written.
            let batch = [
                MeteredExchange { tenant: north.id, exchange: exchange(opened, true, "ok"), usage: Some(delta(CacheLevel::L1, 3)) },
                MeteredExchange { tenant: north.id, exchange: exchange(norths, false, "fine"), usage: Some(delta(CacheLevel::None, 5)) },
                stranger,
            ];
            let err = store.exchange_batches().record_exchanges(&batch).await.expect_err("must fail");
            assert!(matches!(err, tria_store::StoreError::NotFound(_)), "{err:?} ({})", db.label);
            assert!(store.conversations().get(north.id, opened).await.expect("get").is_none(), "rolled back ({})", db.label);
        }
        assert_eq!(store.conversations().messages(north.id, norths).await.expect("messages").len(), 2);
        let today = chrono::Utc::now().date_naive();
        assert!(store.usage().range(north.id, today, today).await.expect("usage").is_empty(), "no usage from a failed batch");
        db.cleanup().await;
    }
}

/// An exchange with every optional field set, in `conversation`.
fn full_exchange(conversation: ConversationId, customer: tria_core::CustomerId, content: &str) -> Exchange {
    let at = chrono::Utc::now();
    let mut user = NewMessage::new(MessageRole::User, content);
    user.intent = Some((IntentLabel::PolicyQuestion, 0.837_512_3));
    user.sentiment = Some("negative".into());
    user.created_at = at;
    let mut assistant = NewMessage::new(MessageRole::Assistant, format!("reply to {content} \"quoted\" \\ back\\slash\n\ttabbed"));
    assistant.intent = Some((IntentLabel::PolicyQuestion, 0.837_512_3));
    assistant.sources = vec!["chunk-1".into(), "chunk \"2\"".into()];
    assistant.tokens_in = 1_234;
    assistant.tokens_out = 56;
    assistant.latency_ms = 789;
    assistant.cache_level = Some(CacheLevel::L3);
    assistant.prompt_version = Some("answer-v7".into());
    assistant.cost_usd = 0.000_123_4;
    assistant.created_at = at + chrono::Duration::nanoseconds(1_234_567);
    Exchange {
        conversation,
        opens_conversation: Some(NewConversation { customer: Some(customer), channel: "widget".into() }),
        user,
        assistant,
    }
}

/// Every stored field but the ids, which differ between two writes of the same exchange.
fn stored_fields(m: &tria_store::records::StoredMessage) -> String {
    format!(
        "{}|{}|{:?}|{:?}|{}|{}|{}|{}|{:?}|{}|{:?}|{}|{:?}",
        m.role,
        m.content,
        m.intent,
        m.confidence,
        m.sources,
        m.tokens_in,
        m.tokens_out,
        m.latency_ms,
        m.cache_level,
        m.created_at.to_rfc3339(),
        m.prompt_version,
        m.cost_usd,
        m.sentiment
    )
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Pool,
    GroupCommit,
}

#[tokio::test]
async fn a_batch_stores_every_field_exactly_as_a_single_exchange_does() {
    use tria_store::repo::MeteredExchange;
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "batch-fields").await;
        let customer = tria_core::CustomerId(uuid::Uuid::new_v4());
        // Text that JSON must escape, and a NUL, which the SQLite batch path hands to the
        // portable one; both must come back byte for byte.
        // Both batch writers: the pool's (sea-orm, or JSON unpacked by SQLite) and the group
        // commit's (on a SQLite file, rows bound straight into rusqlite statements).
        for (via, content) in [Via::Pool, Via::GroupCommit]
            .into_iter()
            .flat_map(|via| ["plain ünïcödé \u{1F600} \"quotes\" <b>&amp;</b> \u{2028}", "nul \0 inside"].map(|c| (via, c)))
        {
            if content.contains('\0') && db.label == "postgres" {
                continue; // PostgreSQL text cannot hold a NUL at all (the agent strips control characters)
            }
            let (alone, batched) = (ConversationId::new_random(), ConversationId::new_random());
            let exchange = full_exchange(alone, customer, content);
            let mut copy = exchange.clone();
            copy.conversation = batched;
            (copy.user.id, copy.assistant.id) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            let (first, second) = (alone, batched);
            store.conversations().record_exchange(t.id, exchange).await.expect("alone");
            let batch = [MeteredExchange { tenant: t.id, exchange: copy, usage: None }];
            match via {
                Via::Pool => store.conversations().record_exchanges(&batch).await,
                Via::GroupCommit => store.exchange_batches().record_exchanges(&batch).await,
            }
            .expect("batch");

            let read = |id| async move { store.conversations().messages(t.id, id).await.expect("messages") };
            let (a, b) = (read(first).await, read(second).await);
            assert_eq!(a.len(), 2, "{}", db.label);
            assert_eq!(
                a.iter().map(stored_fields).collect::<Vec<_>>(),
                b.iter().map(stored_fields).collect::<Vec<_>>(),
                "{} {via:?}",
                db.label
            );
            assert_eq!(b[0].content, content, "{}", db.label);
            assert_eq!(b.iter().map(|m| m.conversation_id).collect::<Vec<_>>(), [batched.0, batched.0]);

            let conversation = |id| async move { store.conversations().get(t.id, id).await.expect("get").expect("stored") };
            let (ca, cb) = (conversation(first).await, conversation(second).await);
            assert_eq!(
                (cb.customer_id, &cb.channel, &cb.status, cb.started_at, cb.updated_at),
                (ca.customer_id, &ca.channel, &ca.status, ca.started_at, ca.updated_at),
                "{}",
                db.label
            );
            assert_eq!(cb.customer_id, Some(customer.0));
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_batch_that_continues_conversations_moves_each_ones_last_activity() {
    use tria_store::repo::MeteredExchange;
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "batch-touch").await;
        let (a, b) = (ConversationId::new_random(), ConversationId::new_random());
        for id in [a, b] {
            store.conversations().record_exchange(t.id, exchange(id, true, "first")).await.expect("first");
        }
        let before = store.conversations().get(t.id, a).await.expect("get").expect("a").updated_at;
        let mut later = exchange(a, false, "later");
        later.assistant.created_at = before + chrono::Duration::seconds(90);
        let batch = [
            MeteredExchange { tenant: t.id, exchange: exchange(a, false, "second"), usage: None },
            MeteredExchange { tenant: t.id, exchange: later, usage: None },
            MeteredExchange { tenant: t.id, exchange: exchange(b, false, "second"), usage: None },
        ];
        store.exchange_batches().record_exchanges(&batch).await.expect("batch");
        let after = store.conversations().get(t.id, a).await.expect("get").expect("a").updated_at;
        assert_eq!(after, before + chrono::Duration::seconds(90), "the newest reply of the batch ({})", db.label);
        assert_eq!(store.conversations().messages(t.id, a).await.expect("messages").len(), 6);
        assert_eq!(store.conversations().messages(t.id, b).await.expect("messages").len(), 4);
        db.cleanup().await;
    }
}
