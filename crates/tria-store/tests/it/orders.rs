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
                .upsert(t.id, NewProduct {
                    sku: sku.into(),
                    name: sku.into(),
                    description: String::new(),
                    unit: "case".into(),
                    unit_price_minor: price,
                    currency: "USD".into(),
                    stock: 100,
                    active: true,
                })
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
