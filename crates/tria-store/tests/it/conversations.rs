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
