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
