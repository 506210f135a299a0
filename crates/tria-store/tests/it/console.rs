//! The console's store side (migration m0005): operator keys and their tenants, queues scoped
//! to a tenant set, take-over status, operator messages and reply feedback — on SQLite and
//! PostgreSQL.

use tria_core::{ApiRole, ConversationId, ConversationStatus, MessageRole, TenantId};
use tria_store::Store;
use tria_store::repo::{Exchange, NewConversation, NewMessage, Rating};

use crate::tenant;

/// Opens a conversation with one exchange; returns it and the assistant message id.
async fn exchange(store: &Store, tenant: TenantId, text: &str) -> (ConversationId, uuid::Uuid) {
    let conversation = ConversationId::new_random();
    let assistant = NewMessage::new(MessageRole::Assistant, format!("re: {text}"));
    let reply_id = assistant.id;
    store
        .conversations()
        .record_exchange(
            tenant,
            Exchange {
                conversation,
                opens_conversation: Some(NewConversation { customer: None, channel: "api".into() }),
                user: NewMessage::new(MessageRole::User, text),
                assistant,
            },
        )
        .await
        .expect("exchange");
    (conversation, reply_id)
}

#[tokio::test]
async fn operator_keys_queues_take_over_and_feedback_stay_within_their_tenants() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (a, b, c) = (tenant(store, "con-a").await, tenant(store, "con-b").await, tenant(store, "con-c").await);

        // An operator key: no tenant of its own, a deduplicated tenant set.
        let (info, plaintext) = store.keys().create_operator("bpo", &[a.id, a.id, b.id]).await.expect("operator key");
        let auth = store.keys().authenticate(&plaintext).await.expect("auth").expect("valid");
        assert_eq!((auth.role, auth.tenant_id), (ApiRole::Operator, None));
        let mut assigned = store.keys().operator_tenants(info.id).await.expect("tenants");
        assigned.sort();
        let mut expected = vec![a.id, b.id];
        expected.sort();
        assert_eq!(assigned, expected, "{}", db.label);
        assert!(store.keys().create_operator("none", &[]).await.is_err());
        assert!(store.keys().insert(Some(a.id), ApiRole::Operator, "x", "tria_test_operator_with_tenant_0").await.is_err());

        // Queues cover exactly the given tenants.
        let (conv_a, reply_a) = exchange(store, a.id, "hello from a").await;
        let (conv_c, _) = exchange(store, c.id, "hello from c").await;
        let console = store.console();
        let queue = console.conversations(&assigned, None, 50).await.expect("queue");
        assert_eq!(queue.iter().map(|r| r.id).collect::<Vec<_>>(), vec![conv_a.0], "{}", db.label);
        assert!(console.conversation(&assigned, conv_c).await.expect("get").is_none());
        assert!(console.conversation(&assigned, conv_a).await.expect("get").is_some());

        // Take over sets the resolution once; hand back keeps it.
        let taken = console.set_status(a.id, conv_a, ConversationStatus::HandedOff).await.expect("take over");
        assert_eq!((taken.status.as_str(), taken.resolution.as_deref()), ("handed_off", Some("handed_off")), "{}", db.label);
        let back = console.set_status(a.id, conv_a, ConversationStatus::Open).await.expect("hand back");
        assert_eq!((back.status.as_str(), back.resolution.as_deref()), ("open", Some("handed_off")));
        assert!(console.set_status(b.id, conv_a, ConversationStatus::HandedOff).await.is_err(), "another tenant's conversation");
        let handed = console.conversations(&assigned, Some(ConversationStatus::HandedOff), 50).await.expect("queue");
        assert!(handed.is_empty());

        // Operator messages land in the transcript.
        let op = console.add_operator_message(a.id, conv_a, "Sam here").await.expect("operator message");
        assert_eq!(op.role, "operator");
        let transcript = store.conversations().messages(a.id, conv_a).await.expect("messages");
        assert_eq!(transcript.last().map(|m| m.content.as_str()), Some("Sam here"));
        assert!(console.add_operator_message(b.id, conv_a, "wrong tenant").await.is_err());

        // Feedback: the tenant's replies only; the latest verdict wins.
        console.record_feedback(a.id, reply_a, Rating::Up, None).await.expect("up");
        console.record_feedback(a.id, reply_a, Rating::Down, Some("unclear")).await.expect("down");
        let counts = console.feedback_counts(a.id).await.expect("counts");
        assert_eq!((counts.up, counts.down), (0, 1), "{}", db.label);
        assert!(console.record_feedback(b.id, reply_a, Rating::Up, None).await.is_err(), "another tenant's reply");
        let own = transcript.iter().find(|m| m.role == "user").expect("the customer's message");
        assert!(console.record_feedback(a.id, own.id, Rating::Up, None).await.is_err(), "the customer's own message");
        assert_eq!(console.feedback_on(a.id, &[reply_a]).await.expect("on").len(), 1);

        // Channel, dashboard figures.
        console.set_channel(a.id, conv_a, "web").await.expect("channel");
        assert_eq!(console.reply_conversation(a.id, reply_a).await.expect("reply conv").map(|c| c.channel), Some("web".into()));
        assert!(console.reply_conversation(b.id, reply_a).await.expect("reply conv").is_none());
        let since = chrono::Utc::now() - chrono::Duration::days(1);
        assert_eq!(console.message_figures(a.id, since).await.expect("figures").len(), 3);
        assert_eq!(console.resolutions(a.id).await.expect("resolutions"), vec![(Some("handed_off".to_owned()), 1)]);
        assert_eq!(console.open_escalations(a.id).await.expect("escalations"), 0);
        db.cleanup().await;
    }
}
