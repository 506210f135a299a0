use tria_core::{ConversationId, MessageRole};
use tria_store::repo::{Exchange, NewConversation, NewCustomer, NewMessage, NewProduct};

use crate::tenant;

fn exchange(conversation: ConversationId, text: &str) -> Exchange {
    Exchange {
        conversation,
        opens_conversation: Some(NewConversation { customer: None, channel: "api".into() }),
        user: NewMessage::new(MessageRole::User, text),
        assistant: NewMessage::new(MessageRole::Assistant, format!("re: {text}")),
    }
}

#[tokio::test]
async fn no_repository_returns_another_tenants_rows() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let a = tenant(store, "alpha").await;
        let b = tenant(store, "beta").await;
        let conv = ConversationId::new_random();
        store.conversations().record_exchange(a.id, exchange(conv, "secret of alpha")).await.expect("record");
        store
            .customers()
            .upsert(a.id, NewCustomer { external_id: "C1".into(), name: "Ann".into(), email: "a@x.example".into(), company: String::new() })
            .await
            .expect("customer");
        store
            .catalogue()
            .upsert(
                a.id,
                NewProduct {
                    sku: "SKU-1".into(),
                    name: "Cup".into(),
                    description: String::new(),
                    unit: "case".into(),
                    unit_price_minor: 100,
                    currency: "USD".into(),
                    stock: 1,
                    active: true,
                },
            )
            .await
            .expect("product");

        assert!(store.conversations().get(a.id, conv).await.expect("get").is_some(), "{}", db.label);
        assert!(store.conversations().get(b.id, conv).await.expect("get").is_none(), "{}", db.label);
        assert!(store.conversations().messages(b.id, conv).await.expect("messages").is_empty(), "{}", db.label);
        assert_eq!(store.conversations().messages(a.id, conv).await.expect("messages").len(), 2);
        assert!(store.customers().find_by_external_id(b.id, "C1").await.expect("find").is_none());
        assert!(store.catalogue().find_by_sku(b.id, "SKU-1").await.expect("find").is_none());
        assert!(store.catalogue().list(b.id).await.expect("list").is_empty());
        // Recording into another tenant's conversation is refused and writes nothing.
        let mut follow_up = exchange(conv, "intruder");
        follow_up.opens_conversation = None;
        let err = store.conversations().record_exchange(b.id, follow_up).await.expect_err("cross-tenant write");
        assert!(matches!(err, tria_store::StoreError::NotFound(_)), "{err:?}");
        assert_eq!(store.conversations().messages(a.id, conv).await.expect("messages").len(), 2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tenant_slugs_are_unique() {
    for db in tria_testkit::all_backends().await {
        tenant(&db.store, "same").await;
        let err = db
            .store
            .tenants()
            .create(tria_store::repo::NewTenant {
                name: "again".into(),
                slug: "same".into(),
                currency: "USD".into(),
                tone: Default::default(),
                settings: serde_json::json!({}),
            })
            .await
            .expect_err("duplicate slug");
        assert!(matches!(err, tria_store::StoreError::Conflict(_)), "{}: {err:?}", db.label);
        db.cleanup().await;
    }
}
