use chrono::Utc;
use tria_core::{CustomerId, OrderStatus};
use tria_store::repo::{NewCustomer, NewOrder, NewOrderLine, NewProduct};

use crate::tenant;

#[tokio::test]
async fn orders_are_priced_from_the_catalogue_idempotent_and_written_with_their_outbox_row() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "orders").await;
        for (sku, price) in [("CUP", 250), ("LID", 75)] {
            store
                .catalogue()
                .upsert(
                    t.id,
                    NewProduct {
                        sku: sku.into(),
                        name: sku.into(),
                        description: String::new(),
                        unit: "case".into(),
                        unit_price_minor: price,
                        currency: "USD".into(),
                        stock: 100,
                        active: true,
                    },
                )
                .await
                .expect("product");
        }
        let customer = store
            .customers()
            .upsert(t.id, NewCustomer { external_id: "C9".into(), name: "Cy".into(), email: "c@x.example".into(), company: String::new() })
            .await
            .expect("customer");
        let new = NewOrder {
            customer: CustomerId(customer.id),
            number: "ORD-1".into(),
            status: OrderStatus::Confirmed,
            idempotency_key: "chat:abc".into(),
            lines: vec![NewOrderLine { sku: "CUP".into(), quantity: 4 }, NewOrderLine { sku: "LID".into(), quantity: 2 }],
            created_at: Utc::now(),
            outbox_kind: Some("xero.invoice".into()),
        };
        let order = store.orders().create(t.id, new.clone()).await.expect("create");
        assert_eq!(order.total_minor, 4 * 250 + 2 * 75, "{}", db.label);
        assert_eq!(store.orders().items(t.id, order.id).await.expect("items").len(), 2);
        let again = store.orders().create(t.id, new.clone()).await.expect("replay");
        assert_eq!(again.id, order.id, "same idempotency key, same order");
        assert_eq!(store.orders().outbox(t.id).await.expect("outbox").len(), 1);

        // A bad line rolls back the whole order: no order, no items, no outbox row.
        let mut bad = new.clone();
        bad.idempotency_key = "chat:def".into();
        bad.number = "ORD-2".into();
        bad.lines.push(NewOrderLine { sku: "NOPE".into(), quantity: 1 });
        assert!(store.orders().create(t.id, bad).await.is_err());
        assert!(store.orders().find_by_number(t.id, "ORD-2").await.expect("find").is_none(), "{}", db.label);
        assert_eq!(store.orders().outbox(t.id).await.expect("outbox").len(), 1);

        let mut zero = new;
        zero.idempotency_key = "chat:ghi".into();
        zero.number = "ORD-3".into();
        zero.lines = vec![NewOrderLine { sku: "CUP".into(), quantity: 0 }];
        assert!(store.orders().create(t.id, zero).await.is_err());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn placing_reserves_stock_atomically_and_refuses_what_is_not_on_hand() {
    use tria_store::repo::INVOICE_OUTBOX_KIND;
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "place").await;
        store
            .catalogue()
            .upsert(
                t.id,
                NewProduct {
                    sku: "CUP".into(),
                    name: "Cup".into(),
                    description: String::new(),
                    unit: "case".into(),
                    unit_price_minor: 100,
                    currency: "USD".into(),
                    stock: 5,
                    active: true,
                },
            )
            .await
            .expect("product");
        let customer = store
            .customers()
            .upsert(t.id, NewCustomer { external_id: "C1".into(), name: "C".into(), email: "c@x.example".into(), company: String::new() })
            .await
            .expect("customer");
        let order = |key: &str, qty: i64| NewOrder {
            customer: CustomerId(customer.id),
            number: format!("ORD-{key}"),
            status: OrderStatus::Draft,
            idempotency_key: key.into(),
            lines: vec![NewOrderLine { sku: "CUP".into(), quantity: qty }],
            created_at: Utc::now(),
            outbox_kind: None,
        };
        let placed = store.orders().place(t.id, order("a", 3)).await.expect("place");
        assert_eq!(placed.status, "confirmed", "{}", db.label);
        store.orders().place(t.id, order("a", 3)).await.expect("replay");
        let stock = || async { store.catalogue().find_by_sku(t.id, "CUP").await.expect("read").expect("cup").stock };
        assert_eq!(stock().await, 2, "a replay reserves nothing");
        let err = store.orders().place(t.id, order("b", 3)).await.expect_err("only 2 left");
        assert!(matches!(err, tria_store::StoreError::Conflict(ref m) if m == "insufficient stock for CUP"), "{err:?}");
        assert!(store.orders().find_by_number(t.id, "ORD-b").await.expect("find").is_none());
        assert_eq!(stock().await, 2);
        let jobs = store.orders().outbox(t.id).await.expect("outbox");
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, INVOICE_OUTBOX_KIND);

        // Leases: a held job is invisible to other workers until its lease expires.
        let now = Utc::now();
        let first = store.outbox().lease_due(INVOICE_OUTBOX_KIND, std::time::Duration::from_secs(60), 10, now).await.expect("lease");
        assert_eq!(first.len(), 1);
        let second = store.outbox().lease_due(INVOICE_OUTBOX_KIND, std::time::Duration::from_secs(60), 10, now).await.expect("lease");
        assert!(second.is_empty(), "{}: held", db.label);
        let later = now + chrono::Duration::seconds(61);
        let taken_over = store.outbox().lease_due(INVOICE_OUTBOX_KIND, std::time::Duration::from_secs(60), 10, later).await.expect("lease");
        assert_eq!(taken_over.len(), 1, "expired lease is taken over");
        assert_ne!(taken_over[0].lease_token, first[0].lease_token);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn chat_drafts_changes_cancellations_and_insights_work_on_every_backend() {
    use tria_core::ConversationId;
    use tria_store::repo::{CancelOutcome, DraftState, NewTicketLink, VOID_OUTBOX_KIND};
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "chat-orders").await;
        for (sku, stock) in [("CUP", 10), ("LID", 10)] {
            store
                .catalogue()
                .upsert(
                    t.id,
                    NewProduct {
                        sku: sku.into(),
                        name: sku.into(),
                        description: String::new(),
                        unit: "case".into(),
                        unit_price_minor: 100,
                        currency: "USD".into(),
                        stock,
                        active: true,
                    },
                )
                .await
                .expect("product");
        }
        let customer = store
            .customers()
            .upsert(t.id, NewCustomer { external_id: "C1".into(), name: "C".into(), email: "c@x.example".into(), company: String::new() })
            .await
            .expect("customer");
        let customer = CustomerId(customer.id);

        // A draft per conversation: saved, replaced, cleared.
        let conversation = ConversationId::new_random();
        let draft = |state: &str| DraftState {
            customer: Some(customer),
            target_order: None,
            state: state.into(),
            lines: serde_json::json!([{ "sku": "CUP", "quantity": 2 }]),
            pending: None,
        };
        store.drafts().save(t.id, conversation, draft("building")).await.expect("save");
        store.drafts().save(t.id, conversation, draft("awaiting_confirmation")).await.expect("replace");
        assert_eq!(store.drafts().get(t.id, conversation).await.expect("get").map(|d| d.state).as_deref(), Some("awaiting_confirmation"));
        store.drafts().clear(t.id, conversation).await.expect("clear");
        assert!(store.drafts().get(t.id, conversation).await.expect("get").is_none(), "{}", db.label);

        let before = store.insights().fingerprint(t.id, customer).await.expect("fingerprint");
        let new = NewOrder {
            customer,
            number: "ORD-1".into(),
            status: OrderStatus::Draft,
            idempotency_key: "k1".into(),
            lines: vec![NewOrderLine { sku: "CUP".into(), quantity: 4 }],
            created_at: Utc::now(),
            outbox_kind: None,
        };
        let order = store.orders().place(t.id, new).await.expect("place");
        assert_ne!(store.insights().fingerprint(t.id, customer).await.expect("fingerprint"), before, "{}", db.label);
        let stock = |sku: &'static str| async move { store.catalogue().find_by_sku(t.id, sku).await.expect("read").expect("p").stock };

        // Change: old lines released, new ones reserved, totals updated, one transaction.
        let changed = store
            .orders()
            .replace_lines(
                t.id,
                order.id,
                &[NewOrderLine { sku: "CUP".into(), quantity: 1 }, NewOrderLine { sku: "LID".into(), quantity: 3 }],
            )
            .await
            .expect("change");
        assert_eq!(changed.total_minor, 400);
        assert_eq!((stock("CUP").await, stock("LID").await), (9, 7));
        let too_much = store.orders().replace_lines(t.id, order.id, &[NewOrderLine { sku: "LID".into(), quantity: 11 }]).await;
        assert!(matches!(too_much, Err(tria_store::StoreError::Conflict(_))), "{}", db.label);
        assert_eq!((stock("CUP").await, stock("LID").await), (9, 7), "a refused change changes nothing");

        // Cancel: stock released, a void job queued; twice is "already".
        let outcome = store.orders().cancel(t.id, order.id, true).await.expect("cancel");
        assert_eq!(outcome, CancelOutcome::Cancelled { previous: OrderStatus::Confirmed, void_queued: true });
        assert_eq!((stock("CUP").await, stock("LID").await), (10, 10));
        assert!(store.outbox().job_for_order(t.id, VOID_OUTBOX_KIND, order.id).await.expect("job").is_some());
        assert_eq!(store.orders().cancel(t.id, order.id, true).await.expect("again"), CancelOutcome::AlreadyCancelled);

        // Ticket links count as open tickets until closed.
        let link = store
            .ticket_links()
            .create(
                t.id,
                NewTicketLink { ticket_ref: "42".into(), source: "handoff".into(), customer: Some(customer), ..NewTicketLink::default() },
            )
            .await
            .expect("link");
        assert_eq!(store.ticket_links().open_for_customer(t.id, customer).await.expect("count"), 1);
        assert!(store.ticket_links().close(t.id, link.id).await.expect("close"));
        assert_eq!(store.ticket_links().open_for_customer(t.id, customer).await.expect("count"), 0);
        let signals = store.insights().customer_signals(t.id, customer).await.expect("signals");
        assert_eq!(signals.complaints, 0);
        db.cleanup().await;
    }
}
