//! Catalogue and customer uploads: all or nothing, merge and replace, and what replace leaves
//! for the orders already placed.

use bytes::Bytes;
use chrono::Utc;
use tria_core::{CustomerId, OrderStatus};
use tria_import::{Format, ImportMode, Limits};
use tria_store::Store;
use tria_store::repo::{NewOrder, NewOrderLine};
use tria_store::uploads::{Upload, UploadError};

use crate::tenant;

fn upload(body: &str, format: Format, mode: ImportMode) -> Upload {
    // Small batches, so a few rows already cross batch boundaries.
    Upload { body: Bytes::from(body.to_owned()), format, mode, limits: Limits { batch_size: 2, ..Limits::default() } }
}

async fn catalogue(
    store: &Store,
    tenant: tria_core::TenantId,
    body: &str,
    mode: ImportMode,
) -> Result<tria_store::uploads::UploadOutcome, UploadError> {
    store.import_catalogue(tenant, "USD", upload(body, Format::Csv, mode), |_| {}).await
}

async fn products(store: &Store, tenant: tria_core::TenantId) -> Vec<(String, String, i64, i64, bool)> {
    store
        .catalogue()
        .list(tenant)
        .await
        .expect("list")
        .into_iter()
        .map(|p| (p.sku, p.name, p.unit_price_minor, p.stock, p.active))
        .collect()
}

#[tokio::test]
async fn a_catalogue_upload_merges_by_sku_and_replace_deactivates_what_it_does_not_list() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "uploads").await;
        let first = "\u{feff}sku,name,price,stock,description\r\nCUP,\"Cup, 12 oz\",2.50,100,\"hot, paper\"\r\nLID,Lid,0.75,50,\r\nBAG,Bag,1,10,\r\n";
        let done = catalogue(store, t.id, first, ImportMode::Merge).await.expect("first upload");
        assert_eq!((done.rows, done.counts.created, done.counts.updated), (3, 3, 0), "{}", db.label);
        let cup = store.catalogue().find_by_sku(t.id, "CUP").await.expect("read").expect("cup");
        assert_eq!(
            (cup.name.as_str(), cup.unit_price_minor, cup.description.as_str(), cup.active),
            ("Cup, 12 oz", 250, "hot, paper", true)
        );

        // Merge: CUP's price changes, its stock and description (columns not sent) stay.
        let done =
            catalogue(store, t.id, "sku,name,price\nCUP,\"Cup, 12 oz\",2.75\nLID,Lid,0.75\n", ImportMode::Merge).await.expect("merge");
        assert_eq!(
            (done.counts.created, done.counts.updated, done.counts.unchanged, done.counts.deactivated),
            (0, 1, 1, 0),
            "{}",
            db.label
        );
        assert_eq!(
            products(store, t.id).await,
            vec![
                ("BAG".into(), "Bag".into(), 100, 10, true),
                ("CUP".into(), "Cup, 12 oz".into(), 275, 100, true),
                ("LID".into(), "Lid".into(), 75, 50, true)
            ],
            "{}",
            db.label
        );

        // An order confirmed now keeps its price whatever the catalogue does next.
        let customer = store
            .import_customers(t.id, upload("customer_number,email\nC1,c1@example.com\n", Format::Csv, ImportMode::Merge), |_| {})
            .await
            .expect("customers");
        assert_eq!(customer.counts.created, 1);
        let c1 = store.customers().find_by_external_id(t.id, "C1").await.expect("read").expect("c1");
        let order = store
            .orders()
            .create(
                t.id,
                NewOrder {
                    customer: CustomerId(c1.id),
                    number: "ORD-1".into(),
                    status: OrderStatus::Confirmed,
                    idempotency_key: "chat:1".into(),
                    lines: vec![NewOrderLine { sku: "BAG".into(), quantity: 2 }],
                    created_at: Utc::now(),
                    outbox_kind: None,
                },
            )
            .await
            .expect("order");

        // Replace: BAG is not listed, so it is no longer sold — kept (the order names it), inactive.
        let done = catalogue(store, t.id, "sku,name,price\nCUP,Cup,3.00\nLID,Lid,0.80\nSPOON,Spoon,0.10\n", ImportMode::Replace)
            .await
            .expect("replace");
        assert_eq!((done.counts.created, done.counts.updated, done.counts.deactivated), (1, 2, 1), "{}", db.label);
        let bag = store.catalogue().find_by_sku(t.id, "BAG").await.expect("read").expect("bag kept");
        assert!(!bag.active, "{}", db.label);
        let items = store.orders().items(t.id, order.id).await.expect("items");
        assert_eq!((items.len(), items[0].unit_price_minor, items[0].line_total_minor), (1, 100, 200), "{}", db.label);
        let order = store.orders().find_by_number(t.id, "ORD-1").await.expect("read").expect("order");
        assert_eq!(order.total_minor, 200, "{}", db.label);

        // Listing it again sells it again.
        let done = catalogue(store, t.id, "sku,name,price\nBAG,Bag,1.10\n", ImportMode::Merge).await.expect("back");
        assert_eq!(done.counts.updated, 1);
        assert!(store.catalogue().find_by_sku(t.id, "BAG").await.expect("read").expect("bag").active);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_bad_upload_writes_nothing_and_reports_every_bad_row() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "bad-uploads").await;
        catalogue(store, t.id, "sku,name,price,stock\nCUP,Cup,2.50,5\n", ImportMode::Merge).await.expect("first");
        let before = products(store, t.id).await;
        let bad = "sku,name,price\nCUP,Cup,3.00\nLID,Lid,abc\nCUP,Again,1.00\nNEW,New,1\n";
        let Err(UploadError::Import(err)) = catalogue(store, t.id, bad, ImportMode::Replace).await else { panic!("bad upload accepted") };
        let report = err.report().expect("a row report");
        assert_eq!(report.total_bad_rows, 2, "{report:?}");
        assert_eq!(products(store, t.id).await, before, "{}", db.label);

        let Err(UploadError::Import(err)) = catalogue(store, t.id, "sku,name\nCUP,Cup\n", ImportMode::Merge).await else {
            panic!("accepted")
        };
        assert!(err.to_string().contains("price"), "{err}");
        assert_eq!(products(store, t.id).await, before, "{}", db.label);

        let customers =
            "[{\"customer_number\":\"C1\",\"email\":\"ok@example.com\"},{\"customer_number\":\"C2\",\"email\":\"not-an-email\"}]";
        let Err(UploadError::Import(err)) = store.import_customers(t.id, upload(customers, Format::Json, ImportMode::Merge), |_| {}).await
        else {
            panic!("accepted")
        };
        assert_eq!(err.report().expect("report").total_bad_rows, 1);
        assert_eq!(store.customers().count(t.id).await.expect("count"), 0, "{}", db.label);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_customer_upload_merges_and_replace_retires_customers_without_deleting_them() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "customer-uploads").await;
        let json = r#"[{"customer_number":"C1","email":"a@example.com","name":"Ann","company":"A Co","phone":"+1 555 0100"},
                       {"customer_number":"C2","email":"b@example.com"}]"#;
        let mut progress = Vec::new();
        let done = store
            .import_customers(t.id, upload(json, Format::Json, ImportMode::Merge), |p| progress.push((p.done, p.total)))
            .await
            .expect("customers");
        assert_eq!(done.counts.created, 2);
        assert_eq!(progress, vec![(2, 2)], "{}", db.label);
        // Merge: C1's email changes; its name and company (not sent) stay.
        store
            .import_customers(t.id, upload("customer_number,email\nC1,ann@example.com\n", Format::Csv, ImportMode::Merge), |_| {})
            .await
            .expect("merge");
        let c1 = store.customers().find_by_external_id(t.id, "C1").await.expect("read").expect("c1");
        assert_eq!((c1.email.as_str(), c1.name.as_str(), c1.company.as_str()), ("ann@example.com", "Ann", "A Co"), "{}", db.label);

        let done = store
            .import_customers(t.id, upload("customer_number,email\nC1,ann@example.com\n", Format::Csv, ImportMode::Replace), |_| {})
            .await
            .expect("replace");
        assert_eq!((done.counts.unchanged, done.counts.deactivated), (1, 1), "{}", db.label);
        assert_eq!(store.customers().count(t.id).await.expect("count"), 2, "retired, not deleted");
        assert_eq!(store.customers().is_active(t.id, "C2").await.expect("read"), Some(false));
        assert!(store.customers().find_active_by_external_id(t.id, "C2").await.expect("read").is_none(), "{}", db.label);
        assert!(store.customers().find_active_by_external_id(t.id, "C1").await.expect("read").is_some());
        db.cleanup().await;
    }
}
