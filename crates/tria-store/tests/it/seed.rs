use std::collections::BTreeMap;

use tria_store::fixtures;

#[tokio::test]
async fn seeding_the_demo_fixtures_twice_changes_nothing() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let all = fixtures::load_all(&tria_testkit::fixtures_dir()).expect("fixtures parse");
        assert!(all.len() >= 2, "two demo tenants");
        let keys: BTreeMap<String, String> = [("northwind".to_owned(), "tria_test_seed_key_northwind_000".to_owned())].into();
        for f in &all {
            let (_, report) = fixtures::seed_tenant(store, f, keys.get(&f.tenant.slug).map(String::as_str)).await.expect("seed");
            assert!(report.tenant_created);
        }
        let northwind = store.tenants().find_by_slug("northwind").await.expect("find").expect("seeded");
        let products = store.catalogue().list(northwind.id).await.expect("products").len();
        let customers = store.customers().count(northwind.id).await.expect("customers");
        assert!(products >= 40, "{products} products");
        assert!(customers >= 20, "{customers} customers");
        for f in &all {
            let (_, report) = fixtures::seed_tenant(store, f, keys.get(&f.tenant.slug).map(String::as_str)).await.expect("reseed");
            assert!(!report.tenant_created && !report.key_created, "{}: {report:?}", db.label);
            assert_eq!((report.products_changed, report.orders_created), (0, 0), "{}", db.label);
        }
        assert_eq!(store.catalogue().list(northwind.id).await.expect("products").len(), products);
        assert_eq!(store.tenants().count().await.expect("count"), all.len() as u64);
        assert!(store.keys().authenticate("tria_test_seed_key_northwind_000").await.expect("auth").is_some());
        db.cleanup().await;
    }
}

#[test]
fn a_broken_fixture_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tenant.toml"), "name = ").expect("write");
    let err = fixtures::load_tenant(dir.path()).expect_err("broken toml").to_string();
    assert!(err.contains("tenant.toml"), "{err}");
    let missing = fixtures::load_all(&dir.path().join("nope")).expect_err("missing dir").to_string();
    assert!(missing.contains("nope"), "{missing}");
}
