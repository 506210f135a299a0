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
        store.conversations().record_exchanges(&batch).await.expect("batch");

        let texts = |rows: Vec<tria_store::entity::message::Model>| rows.into_iter().map(|m| m.content).collect::<Vec<_>>();
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
            let batch = [MeteredExchange { tenant: north.id, exchange: exchange(opened, true, "ok"), usage: None }, stranger];
            let err = store.conversations().record_exchanges(&batch).await.expect_err("must fail");
            assert!(matches!(err, tria_store::StoreError::NotFound(_)), "{err:?} ({})", db.label);
            assert!(store.conversations().get(north.id, opened).await.expect("get").is_none(), "rolled back ({})", db.label);
        }
        assert_eq!(store.conversations().messages(north.id, norths).await.expect("messages").len(), 2);
        db.cleanup().await;
    }
}
