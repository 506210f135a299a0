//! Issue 25's catalogue and customer uploads over HTTP, on SQLite and (with
//! `TRIA_TEST_POSTGRES_URL`) PostgreSQL: a tenant no fixture knows gets its catalogue (CSV) and
//! customers (JSON), then answers with the CSV price and takes an order from a CSV customer; bad
//! uploads change nothing; replace retires what it does not list, and chat says "no longer sold".

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::{NORTHWIND_KEY, TestApp, error_code};

const SLUG: &str = "acme-coffee";
const CATALOGUE: &str = "\u{feff}sku,name,price,unit,stock,description\r\n\
AC-MUG-01,\"Stoneware mug, blue\",12.50,each,40,\"Glazed, 350 ml\"\r\n\
AC-BEAN-1KG,Ethiopian beans,24.00,bag,100,Light roast\r\n";

async fn put(app: &TestApp, what: &str, query: &str, key: &str, content_type: &str, body: impl Into<Body>) -> (StatusCode, Value) {
    let req = Request::put(format!("/admin/tenants/{SLUG}/{what}{query}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(body.into())
        .expect("request");
    let (status, _, json) = app.send(req).await;
    (status, json)
}

async fn state_of(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let tenant = app.db.store.tenants().find_by_slug(SLUG).await.expect("read").expect("tenant");
    let products = app.db.store.catalogue().list(tenant.id).await.expect("products");
    let customers = app.db.store.customers().list(tenant.id).await.expect("customers");
    (
        products.iter().map(|p| format!("{} {} {} {} {}", p.sku, p.name, p.unit_price_minor, p.stock, p.active)).collect(),
        customers.iter().map(|c| format!("{} {} {}", c.external_id, c.email, c.name)).collect(),
    )
}

#[tokio::test]
async fn a_new_tenant_is_onboarded_with_a_csv_catalogue_and_json_customers_and_bad_uploads_change_nothing() {
    for db in tria_testkit::all_backends().await {
        let keys = [("northwind".to_owned(), NORTHWIND_KEY.to_owned())].into();
        tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
        let agent = tria_agent::Agent::builder(db.store.clone()).build();
        let state = tria_server::AppState::new(db.store.clone(), agent, Vec::new(), tria_server::ServiceSettings::default());
        let app = TestApp::from_state(state, db);
        let backend = app.db.label;
        let admin = app.admin_key().await;
        let (status, _, created) =
            app.call("POST", "/admin/tenants", Some(&admin), Some(json!({ "name": "Acme Coffee", "slug": SLUG, "currency": "USD" }))).await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {created}");

        let (status, done) = put(&app, "catalogue", "", &admin, "text/csv; charset=utf-8", CATALOGUE).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {done}");
        assert_eq!(
            (done["imported"].as_u64(), done["created"].as_u64(), done["mode"].as_str()),
            (Some(2), Some(2), Some("merge")),
            "{done}"
        );
        let customers = json!([
            { "customer_number": "AC-100", "email": "zoe@acme-cafe.example", "name": "Zoe", "company": "Zoe's Cafe" },
            { "customer_number": "AC-101", "email": "li@acme-cafe.example" }
        ]);
        let (status, done) = put(&app, "customers", "", &admin, "application/json", customers.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {done}");
        assert_eq!(done["created"], 2, "{done}");

        let (status, _, key) =
            app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "tenant", "tenant": SLUG, "label": "onboarding" }))).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        let key = key["key"].as_str().expect("key").to_owned();

        // A product question quotes the CSV price.
        let (status, reply) = app.chat(&key, json!({ "message": "How much is the stoneware mug?" })).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert!(reply["reply"].as_str().unwrap_or_default().contains("12.50"), "{backend}: {reply}");

        // A customer from the upload identifies by number and email, and orders.
        let (_, ask) = app.chat(&key, json!({ "message": "I'd like to order 2 cases of Ethiopian beans" })).await;
        let session = ask["session_id"].as_str().expect("session").to_owned();
        assert!(ask["reply"].as_str().unwrap_or_default().contains("customer number"), "{backend}: {ask}");
        let (_, summary) = app.chat(&key, json!({ "message": "AC-100, zoe@acme-cafe.example", "session_id": session })).await;
        assert_eq!(summary["order"]["lines"][0]["sku"], "AC-BEAN-1KG", "{backend}: {summary}");
        let (_, placed) = app.chat(&key, json!({ "message": "yes, place the order", "session_id": session })).await;
        let number = placed["order"]["order_number"].as_str().unwrap_or_else(|| panic!("{backend}: not placed: {placed}")).to_owned();
        assert!(number.starts_with("ORD-"), "{number}");

        // Bad uploads: a 4xx with the report, and nothing changes.
        let before = state_of(&app).await;
        let bad: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
            ("catalogue", "text/csv", b"sku,name\nAC-NEW,New\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (
                "catalogue",
                "text/csv",
                b"sku,name,price\nAC-NEW,New,1.00\nAC-MUG-01,Mug,abc\n".to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rows",
            ),
            (
                "catalogue",
                "text/csv",
                b"sku,name,price\nAC-NEW,New,1\nAC-NEW,Again,2\n".to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rows",
            ),
            ("catalogue", "text/csv", b"sku,name,price\nAC-NEW,Caf\xe9,1\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows"),
            (
                "catalogue",
                "text/plain",
                b"sku,name,price\nAC-NEW,New,1\n".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "customers",
                "text/csv",
                b"customer_number,email\nAC-100,zoe@acme-cafe.example\nAC-102,not-an-email\n".to_vec(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rows",
            ),
        ];
        for (what, content_type, body, status, code) in bad {
            let (got, json) = put(&app, what, "?mode=replace", &admin, content_type, body).await;
            assert_eq!((got, error_code(&json).as_str()), (status, code), "{backend} {what} {content_type}: {json}");
            if code == "invalid_rows" {
                let rows = json["error"]["rows"].as_array().expect("rows");
                assert!(!rows.is_empty() && rows.iter().all(|r| r["line"].as_u64() >= Some(2)), "{json}");
                assert_eq!(json["error"]["total"].as_u64(), Some(rows.len() as u64), "{json}");
            }
            assert_eq!(state_of(&app).await, before, "{backend}: {what} {content_type} changed something");
        }
        let (status, _) = put(&app, "catalogue", "", NORTHWIND_KEY, "text/csv", CATALOGUE).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let req = Request::put("/admin/tenants/nobody/catalogue")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "text/csv")
            .body(Body::from(CATALOGUE))
            .expect("request");
        assert_eq!(app.send(req).await.0, StatusCode::NOT_FOUND);

        // A draft holding the mug, then a replace that drops it: the draft's confirmation says
        // it is no longer sold; the confirmed order keeps its price.
        let (_, draft) = app.chat(&key, json!({ "message": "I'd like to order 2 Stoneware mugs", "customer_id": "AC-100" })).await;
        assert_eq!(draft["order"]["lines"][0]["sku"], "AC-MUG-01", "{backend}: {draft}");
        let draft_session = draft["session_id"].as_str().expect("session").to_owned();
        let (status, done) =
            put(&app, "catalogue", "?mode=replace", &admin, "text/csv", "sku,name,price,stock\nAC-BEAN-1KG,Ethiopian beans,26.00,90\n")
                .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(
            (done["updated"].as_u64(), done["deactivated"].as_u64(), done["mode"].as_str()),
            (Some(1), Some(1), Some("replace")),
            "{done}"
        );
        let (_, confirm) = app.chat(&key, json!({ "message": "Confirm", "session_id": draft_session })).await;
        assert!(confirm["reply"].as_str().unwrap_or_default().contains("no longer sold"), "{backend}: {confirm}");
        let (_, again) = app.chat(&key, json!({ "message": "I'd like to order 1 Stoneware mug", "customer_id": "AC-101" })).await;
        assert!(again["reply"].as_str().unwrap_or_default().contains("no longer sold"), "{backend}: {again}");
        let (_, price) = app.chat(&key, json!({ "message": "How much are the Ethiopian beans?" })).await;
        assert!(price["reply"].as_str().unwrap_or_default().contains("26.00"), "{backend}: the new price is quoted: {price}");
        let tenant = app.db.store.tenants().find_by_slug(SLUG).await.expect("read").expect("tenant");
        let order = app.db.store.orders().find_by_number(tenant.id, &number).await.expect("read").expect("order");
        assert_eq!(order.total_minor, 2 * 2400, "{backend}: the order keeps the price it was confirmed at");
        app.db.cleanup().await;
    }
}
