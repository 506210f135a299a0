//! Issue 25's "done when", in one test and over HTTP only: a tenant no fixture knows is created,
//! gets a Markdown policy, an HTML page, a PDF, a catalogue CSV and a customer CSV, its tenant key
//! and its own Xero (the authorization-code flow against the fake); then each document answers
//! the question only it can, with a citation naming it and its heading (the PDF's page); a
//! product question quotes the CSV price; a CSV customer identifies and orders, and the invoice
//! lands in that tenant's organisation with its account code and currency while another
//! tenant's goes to its own; `/metrics` shows each tenant's connection state. Bad uploads of
//! every kind are then refused with a report and leave documents, knowledge versions, catalogue
//! and customers exactly as they were.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tria_testkit::pdf::{page, pdf};

use crate::xero_connect::{World, xero_app_world};
use crate::{TestApp, VELO_KEY, error_code, seeded_db};

const SLUG: &str = "heron-tea";

const RETURNS_MD: &str = "# Heron returns policy\n\n## Returns window\n\n\
Heron Tea accepts returns of unopened heron tea tins within 21 days of delivery, with the packing slip.\n\n\
## Refunds\n\nRefunds reach the original card within 5 working days of the return arriving.\n";

const SHIPPING_HTML: &str = "<!doctype html><html><head><title>Heron shipping</title>\
<style>body { font-family: serif }</style><script>var tracking = 'do not index me';</script></head>\
<body><nav><a href='/'>Home</a> | <a href='/shop'>Shop</a></nav><main><h1>Heron shipping</h1>\
<h2>Parcel dispatch</h2><p>Heron Tea posts every parcel by tracked courier within 2 working days.</p>\
<h2>Overseas orders</h2><p>Parcels outside the UK carry a flat 9 pound surcharge.</p></main></body></html>";

const CATALOGUE_CSV: &str = "sku,name,price,unit,stock,description,category\n\
HT-EARL-250,Earl Grey loose leaf 250g,8.75,tin,50,\"Bergamot, black tea\",black\n\
HT-SENCHA-100,Sencha green tea 100g,11.20,tin,30,Steamed Japanese green tea,green\n";

const CUSTOMERS_CSV: &str = "customer_number,email,name,company,phone\n\
HC-200,mara@cafe-mara.example,Mara Quinn,Cafe Mara,+44 20 7946 0000\n\
HC-201,owen@owens-deli.example,Owen Price,Owen's Deli,\n";

/// The fake's organisations: the new tenant's and velo's (the other tenant).
struct Books {
    heron: String,
    velo: String,
}

/// The service with tenants' own Xero against the fake (`xero_connect`'s world) on the fixtures.
struct Onboarding(World);

impl std::ops::Deref for Onboarding {
    type Target = World;
    fn deref(&self) -> &World {
        &self.0
    }
}

impl Onboarding {
    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, json) = self.app.call(method, path, Some(&self.admin), body).await;
        (status, json)
    }

    async fn put(&self, path: &str, content_type: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        let req = Request::put(path)
            .header("authorization", format!("Bearer {}", self.admin))
            .header("content-type", content_type)
            .body(body.into())
            .expect("request");
        let (status, _, json) = self.app.send(req).await;
        (status, json)
    }

    /// Uploads a document and waits for its job to succeed.
    async fn document(&self, doc_id: &str, content_type: &str, body: Vec<u8>) {
        let (status, accepted) = self.put(&format!("/admin/tenants/{SLUG}/documents/{doc_id}"), content_type, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{doc_id}: {accepted}");
        let id = accepted["job"]["id"].as_str().expect("job id");
        let started = Instant::now();
        loop {
            let (status, job) = self.admin("GET", &format!("/admin/jobs/{id}"), None).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            match job["status"].as_str() {
                Some("succeeded") => return,
                Some("failed") => panic!("{doc_id}: the index job failed: {job}"),
                _ => {}
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{doc_id}: job still {job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything a bad upload must leave as it was: documents and knowledge versions (GET),
    /// catalogue and customers (as stored), and what chat quotes.
    async fn snapshot(&self, key: &str) -> (Value, Value, Vec<String>, Vec<String>, String) {
        let (_, documents) = self.admin("GET", &format!("/admin/tenants/{SLUG}/documents"), None).await;
        let (_, versions) = self.admin("GET", &format!("/admin/tenants/{SLUG}/knowledge/versions"), None).await;
        let store = &self.app.db.store;
        let tenant = store.tenants().find_by_slug(SLUG).await.expect("read").expect("tenant").id;
        let products = store.catalogue().list(tenant).await.expect("products");
        let customers = store.customers().list(tenant).await.expect("customers");
        let (_, price) = self.app.chat(key, json!({ "message": "How much is the Earl Grey loose leaf?" })).await;
        (
            documents,
            versions,
            products
                .iter()
                .map(|p| format!("{} {} {} {} {} {}", p.sku, p.name, p.unit_price_minor, p.currency, p.stock, p.active))
                .collect(),
            customers.iter().map(|c| format!("{} {} {} {}", c.external_id, c.email, c.name, c.company)).collect(),
            price["reply"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// Asks and checks the reply states `fact` and cites `title` under a heading containing `heading`.
async fn answered_from(app: &TestApp, key: &str, question: &str, fact: &str, title: &str, heading: &str) {
    let (status, reply) = app.chat(key, json!({ "message": question })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(reply["reply"].as_str().unwrap_or_default().contains(fact), "{question}: the reply lacks {fact:?}: {reply}");
    let sources = reply["sources"].as_array().unwrap_or_else(|| panic!("no sources: {reply}"));
    assert!(
        sources.iter().any(|s| s["title"] == title && s["heading"].as_str().is_some_and(|h| h.contains(heading))),
        "{question}: no citation of {title:?} / {heading:?}: {reply}"
    );
}

#[tokio::test]
async fn a_client_is_onboarded_over_http_answers_from_its_uploads_and_invoices_into_its_own_xero() {
    let o = Onboarding(xero_app_world(seeded_db().await).await);
    let books = Books { heron: o.fake.add_organisation("Heron Tea Ltd"), velo: o.fake.add_organisation("Velo Parts BV") };

    // The client: a tenant, its invoicing settings, its uploads, its key, its Xero.
    let (status, created) = o.admin("POST", "/admin/tenants", Some(json!({"name": "Heron Tea Co", "slug": SLUG, "currency": "GBP"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, patched) =
        o.admin("PATCH", &format!("/admin/tenants/{SLUG}"), Some(json!({"settings": {"invoicing": {"account_code": "4100"}}}))).await;
    assert_eq!(status, StatusCode::OK, "{patched}");

    o.document("returns", "text/markdown", RETURNS_MD.as_bytes().to_vec()).await;
    o.document("shipping", "text/html; charset=utf-8", SHIPPING_HTML.as_bytes().to_vec()).await;
    let guide = pdf(
        Some("Heron Brewing Guide"),
        &[
            page(&["Welcome to the Heron brewing guide.", "Good tea starts with fresh water."]),
            page(&[
                "Heat the water for heron brewing to 70 degrees, then wait two minutes.",
                "Never pour boiling water on delicate leaves.",
            ]),
        ],
    );
    o.document("brewing", "application/pdf", guide).await;
    let (status, listed) = o.admin("GET", &format!("/admin/tenants/{SLUG}/documents"), None).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<(&str, &str)> = listed["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| (d["doc_id"].as_str().unwrap_or_default(), d["content_type"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(kinds, [("brewing", "application/pdf"), ("returns", "text/markdown"), ("shipping", "text/html")], "{listed}");

    let (status, imported) = o.put(&format!("/admin/tenants/{SLUG}/catalogue"), "text/csv", CATALOGUE_CSV).await;
    assert_eq!((status, imported["created"].as_u64()), (StatusCode::OK, Some(2)), "{imported}");
    let (status, imported) = o.put(&format!("/admin/tenants/{SLUG}/customers"), "text/csv; charset=utf-8", CUSTOMERS_CSV).await;
    assert_eq!((status, imported["created"].as_u64()), (StatusCode::OK, Some(2)), "{imported}");
    let (status, key) = o.admin("POST", "/admin/keys", Some(json!({"role": "tenant", "tenant": SLUG, "label": "heron widget"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key = key["key"].as_str().expect("tenant key").to_owned();

    o.connect(SLUG, &books.heron).await;
    o.connect("velo", &books.velo).await;

    // Each document answers what only it says, citing itself and its heading (the PDF's page).
    let app = &o.app;
    answered_from(
        app,
        &key,
        "How many days do I have to return an unopened heron tea tin?",
        "21 days",
        "Heron returns policy",
        "Returns window",
    )
    .await;
    answered_from(
        app,
        &key,
        "How soon is a Heron parcel posted by tracked courier?",
        "2 working days",
        "Heron shipping",
        "Parcel dispatch",
    )
    .await;
    answered_from(app, &key, "What water temperature does heron brewing need?", "70 degrees", "Heron Brewing Guide", "page 2").await;

    // A product question quotes the CSV price.
    let (status, price) = app.chat(&key, json!({ "message": "How much is the Earl Grey loose leaf?" })).await;
    assert_eq!(status, StatusCode::OK, "{price}");
    assert!(price["reply"].as_str().unwrap_or_default().contains("8.75"), "the CSV price: {price}");

    // A customer from the CSV identifies and orders.
    let (_, asked) = app.chat(&key, json!({ "message": "I'd like to order 3 tins of Sencha green tea" })).await;
    let session = asked["session_id"].as_str().expect("session").to_owned();
    assert!(asked["reply"].as_str().unwrap_or_default().contains("customer number"), "{asked}");
    let (_, summary) = app.chat(&key, json!({ "message": "HC-200, mara@cafe-mara.example", "session_id": session })).await;
    assert_eq!(summary["order"]["lines"][0]["sku"], "HT-SENCHA-100", "{summary}");
    let (_, placed) = app.chat(&key, json!({ "message": "yes, place the order", "session_id": session })).await;
    let heron_order = placed["order"]["order_number"].as_str().unwrap_or_else(|| panic!("not placed: {placed}")).to_owned();
    assert_eq!(placed["order"]["status"], "confirmed", "{placed}");

    // The other tenant (a fixture) orders too, in its own currency.
    let (_, draft) = app.chat(VELO_KEY, json!({ "message": "I'd like to order 2 boxes of VP-CHN-11S", "customer_id": "CUST-2001" })).await;
    assert_eq!(draft["order"]["lines"][0]["sku"], "VP-CHN-11S", "{draft}");
    let velo_session = draft["session_id"].as_str().expect("session").to_owned();
    let (_, velo_placed) = app.chat(VELO_KEY, json!({ "message": "Confirm", "session_id": velo_session })).await;
    let velo_order = velo_placed["order"]["order_number"].as_str().unwrap_or_else(|| panic!("velo not placed: {velo_placed}")).to_owned();

    for _ in 0..5 {
        o.worker.run_once().await.expect("invoice worker pass");
    }
    let heron_invoices = o.fake.invoices_in(&books.heron);
    assert_eq!(heron_invoices.len(), 1, "one invoice in Heron's books: {heron_invoices:?}");
    let invoice = &heron_invoices[0];
    assert_eq!(invoice["Reference"], heron_order.as_str(), "{invoice}");
    assert_eq!(invoice["CurrencyCode"], "GBP", "the tenant's currency: {invoice}");
    assert_eq!(invoice["LineItems"][0]["AccountCode"], "4100", "the tenant's account code: {invoice}");
    assert_eq!((invoice["LineItems"][0]["Quantity"].as_f64(), invoice["LineItems"][0]["UnitAmount"].as_f64()), (Some(3.0), Some(11.2)));
    assert_eq!(invoice["Total"].as_f64(), Some(33.6), "{invoice}");
    let velo_invoices = o.fake.invoices_in(&books.velo);
    assert_eq!(velo_invoices.len(), 1, "velo's invoice in its own books: {velo_invoices:?}");
    assert_eq!(velo_invoices[0]["Reference"], velo_order.as_str());
    assert_eq!(velo_invoices[0]["CurrencyCode"], "EUR");
    assert_eq!(velo_invoices[0]["LineItems"][0]["AccountCode"], "200", "velo has no account code of its own: the app's");
    assert_eq!(o.fake.invoices().len(), 2, "nothing landed anywhere else");

    // /metrics: each tenant's connection state, then a revocation seen by the scrape.
    let metrics = scrape(app).await;
    for line in [
        "tria_xero_connection{tenant=\"heron-tea\",state=\"connected\"} 1",
        "tria_xero_connection{tenant=\"heron-tea\",state=\"revoked\"} 0",
        "tria_xero_connection{tenant=\"velo\",state=\"connected\"} 1",
        "tria_xero_connection{tenant=\"northwind\",state=\"none\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in /metrics:\n{metrics}");
    }
    o.fake.revoke_access_to(&books.velo);
    let (_, late) = app.chat(VELO_KEY, json!({ "message": "I'd like to order 1 box of VP-CHN-11S", "customer_id": "CUST-2001" })).await;
    let late_session = late["session_id"].as_str().expect("session").to_owned();
    app.chat(VELO_KEY, json!({ "message": "Confirm", "session_id": late_session })).await;
    o.worker.run_once().await.expect("invoice worker pass");
    let metrics = scrape(app).await;
    for line in [
        "tria_xero_connection{tenant=\"velo\",state=\"revoked\"} 1",
        "tria_xero_connection{tenant=\"heron-tea\",state=\"connected\"} 1",
        "tria_integration_breaker_state{integration=\"xero:velo\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in /metrics after velo's revocation:\n{metrics}");
    }
    assert!(!metrics.contains("integration=\"xero:heron-tea\""), "a healthy tenant has no entry of its own");

    // Bad uploads of every kind: a 4xx with the reason, and nothing changes anywhere.
    let before = o.snapshot(&key).await;
    assert!(before.4.contains("8.75"), "{}", before.4);
    let docs = format!("/admin/tenants/{SLUG}/documents");
    let catalogue = format!("/admin/tenants/{SLUG}/catalogue");
    let customers = format!("/admin/tenants/{SLUG}/customers");
    let bad: Vec<(String, &str, Vec<u8>, StatusCode, &str)> = vec![
        // Documents of each type (the type-specific refusals are in knowledge.rs and knowledge_pdf.rs).
        (
            format!("{docs}/returns"),
            "text/markdown",
            b"# Returns\n\n\xff\xfe not UTF-8".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_encoding",
        ),
        (
            format!("{docs}/shipping"),
            "text/html",
            b"<html><nav>Home</nav><script>x()</script></html>".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_text",
        ),
        (format!("{docs}/brewing"), "application/pdf", b"%PDF-1.4\n1 0 obj broken".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, ""),
        (format!("{docs}/notes"), "text/plain", b"   \n\t\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "no_text"),
        (format!("{docs}/returns"), "application/vnd.ms-excel", b"sku,price".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, ""),
        // Catalogue, CSV and JSON.
        (
            format!("{catalogue}?mode=replace"),
            "text/csv",
            b"sku,name,price\nHT-NEW,New tea,1.00\nHT-EARL-250,Earl Grey,abc\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
        ),
        (
            catalogue.clone(),
            "application/json",
            br#"[{"sku": "HT-NEW", "name": "New tea", "price": "2.50"}, {"sku": "HT-NEW", "name": "Twice", "price": "1.00"}]"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
        ),
        (
            catalogue.clone(),
            "application/json",
            br#"[{"sku": "HT-NEW", "name": "New tea", "price": "2.50"},"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (catalogue.clone(), "text/csv", b"sku,name\nHT-NEW,No price column\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        // Customers, CSV and JSON.
        (
            format!("{customers}?mode=replace"),
            "text/csv",
            b"customer_number,email\nHC-300,ok@heron.example\nHC-301,not-an-email\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
        ),
        (
            customers.clone(),
            "text/csv",
            b"customer_number,name\nHC-300,No email column\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            customers.clone(),
            "application/json",
            br#"[{"customer_number": "HC-300", "email": "a@heron.example"}, {"customer_number": "HC-300", "email": "b@heron.example"}]"#
                .to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
        ),
        (customers.clone(), "application/json", br#"{"customer_number": "HC-300"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, ""),
    ];
    for (path, content_type, body, want, reason) in bad {
        let (status, err) = o.put(&path, content_type, body).await;
        assert_eq!(status, want, "{path} {content_type}: {err}");
        let code = error_code(&err);
        assert!(code == reason || err["error"]["message"].as_str().unwrap_or_default().contains(reason), "{path}: {err}");
        if code == "invalid_rows" {
            let rows = err["error"]["rows"].as_array().expect("the report's rows");
            assert!(!rows.is_empty() && rows.iter().all(|r| !r["problems"].as_array().is_none_or(Vec::is_empty)), "{err}");
        }
        assert_eq!(o.snapshot(&key).await, before, "{path} {content_type} changed something");
    }
}

async fn scrape(app: &TestApp) -> String {
    let (status, _, body) = app.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    body["raw"].as_str().expect("text").to_owned()
}
