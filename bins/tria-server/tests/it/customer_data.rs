//! A customer's data rights (issue 29): a customer's data seeded through the real paths (a
//! customer upload, chats as the identified customer, an order confirmed and invoiced against
//! the Xero fake, feedback on a reply, a hand-off), exported whole, then erased — after which
//! no table, no text column, no cache entry and (SQLite) no byte of the database file or its
//! WAL holds the customer's name, email, number or message texts, while the invoice's number
//! and amount remain. A second erasure is a 200 no-op, an unknown customer 404, and the audit
//! log has the export and the erasure. SQLite always; PostgreSQL and Redis too when
//! `TRIA_TEST_POSTGRES_URL` / `TRIA_TEST_REDIS_URL` are set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tria_agent::Agent;
use tria_cache::{AnswerCache, CacheConfig};
use tria_integrations::invoicing::{InvoiceWorker, InvoiceWorkerConfig};
use tria_integrations::resilience::RetryPolicy;
use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};
use tria_server::{AppState, ServiceSettings};
use tria_store::Store;
use tria_testkit::TestDb;

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

const NUMBER: &str = "ERASE-7731";
const NAME: &str = "Adaline Quorvath";
const EMAIL: &str = "adaline.quorvath@example.org";
const COMPANY: &str = "Quorvath Engines Ltd";
/// In every message the customer writes, so each is findable.
const TOKEN: &str = "zephyrquill";

fn redis_url() -> Option<String> {
    std::env::var("TRIA_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())
}

async fn app_on(db: TestDb) -> (TestApp, Arc<AnswerCache>, String) {
    let keys: BTreeMap<String, String> =
        [("northwind".to_owned(), NORTHWIND_KEY.to_owned()), ("velo".to_owned(), VELO_KEY.to_owned())].into();
    tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
    let prefix = format!("tria-erase-{}", uuid::Uuid::new_v4().simple());
    let config = CacheConfig {
        redis_url: redis_url(),
        key_prefix: prefix.clone(),
        redis_timeout: Duration::from_millis(500),
        ..CacheConfig::default()
    };
    let cache = Arc::new(AnswerCache::connect(config, Duration::from_secs(2)).await.expect("cache"));
    let agent = Agent::builder(db.store.clone()).answer_cache(cache.clone()).build();
    let state = AppState::new(db.store.clone(), agent, Vec::new(), ServiceSettings::default());
    (TestApp::from_state(state, db), cache, prefix)
}

fn worker(store: &Store, fake: &FakeXero) -> InvoiceWorker {
    let retry = RetryPolicy {
        max_attempts: 2,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        multiplier: 2.0,
        jitter: 0.0,
    };
    InvoiceWorker::new(store.clone(), Arc::new(fake.client(retry, Duration::from_secs(5))), InvoiceWorkerConfig::default())
}

async fn say(app: &TestApp, session: Option<&str>, message: &str) -> Value {
    let mut body = json!({ "message": message, "customer_id": NUMBER });
    if let Some(session) = session {
        body["session_id"] = json!(session);
    }
    let (status, reply) = app.chat(NORTHWIND_KEY, body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply
}

/// Every row of every table, as text: `(table, column, value)` of each text-bearing cell that
/// contains one of `needles`.
async fn rows_quoting(store: &Store, needles: &[&str]) -> Vec<(String, String, String)> {
    let db = store.connection();
    let backend = db.get_database_backend();
    let tables_sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let tables: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, tables_sql))
        .await
        .expect("tables")
        .iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .collect();
    assert!(tables.iter().any(|t| t == "messages") && tables.len() > 20, "{tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = match backend {
            DbBackend::Postgres => db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
                    [table.clone().into()],
                ))
                .await
                .expect("columns")
                .iter()
                .map(|r| r.try_get::<String>("", "name").expect("name"))
                .collect(),
            _ => db
                .query_all_raw(Statement::from_string(backend, format!("PRAGMA table_info(\"{table}\")")))
                .await
                .expect("columns")
                .iter()
                .map(|r| r.try_get::<String>("", "name").expect("name"))
                .collect(),
        };
        for column in columns {
            // Every column, whatever its type (JSON, blobs, numbers) as text.
            let cast = match backend {
                DbBackend::Postgres => format!("CAST(\"{column}\" AS TEXT)"),
                _ => format!("CAST(\"{column}\" AS TEXT)"),
            };
            let sql = format!("SELECT {cast} AS v FROM \"{table}\"");
            for row in db.query_all_raw(Statement::from_string(backend, sql)).await.expect("cells") {
                let Ok(Some(value)) = row.try_get::<Option<String>>("", "v") else { continue };
                if needles.iter().any(|n| value.contains(n)) {
                    found.push((table.clone(), column.clone(), value.chars().take(200).collect()));
                }
            }
        }
    }
    found
}

/// The SQLite database file and its WAL, if the store is a SQLite file.
async fn sqlite_files(store: &Store) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let db = store.connection();
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA database_list")).await.expect("database_list")?;
    let file: String = row.try_get("", "file").expect("file");
    let file = std::path::PathBuf::from(file);
    let wal = std::path::PathBuf::from(format!("{}-wal", file.display()));
    Some((file, wal))
}

fn bytes_quoting(bytes: &[u8], needles: &[&str]) -> Vec<String> {
    needles.iter().filter(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes())).map(|n| (*n).to_owned()).collect()
}

/// Cache keys (and values) of this test's prefix that quote a needle.
async fn cache_quoting(cache: &AnswerCache, prefix: &str, needles: &[&str]) -> (usize, Vec<String>) {
    let keys = cache.backend().keys_matching(&format!("{prefix}:*"), 100_000).await.expect("keys");
    let mut found = Vec::new();
    for key in &keys {
        let value = cache.backend().get(key).await.ok().flatten().unwrap_or_default();
        let hits = [bytes_quoting(key.as_bytes(), needles), bytes_quoting(&value, needles)].concat();
        if !hits.is_empty() {
            found.push(format!("{key}: {hits:?}"));
        }
    }
    (keys.len(), found)
}

async fn erase_and_check(db: TestDb) {
    let label = db.label;
    let (app, cache, prefix) = app_on(db).await;
    let store = app.db.store.clone();
    let admin = app.admin_key().await;
    let tenant = store.tenants().find_by_slug("northwind").await.expect("read").expect("tenant");

    // The customer, as the tenant's upload brings them (and a second one, erased by email).
    let customers = json!([
        { "customer_number": NUMBER, "email": EMAIL, "name": NAME, "company": COMPANY },
        { "customer_number": "ERASE-8842", "email": "Bo.Erasable@Example.org", "name": "Bo Erasable" },
    ]);
    let req = http::Request::put("/admin/tenants/northwind/customers")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(customers.to_string()))
        .expect("request");
    let (status, _, done) = app.send(req).await;
    assert_eq!(status, StatusCode::OK, "{label}: {done}");

    // Chat as the identified customer: a policy question (answered, cached), asked twice so
    // the second is a cache hit.
    let question = format!("What is the restocking fee on returns? Asking for my {TOKEN} cafe");
    let first = say(&app, None, &question).await;
    let second = say(&app, None, &question).await;
    assert_ne!(second["cache"], "none", "{label}: the repeat is served from the cache: {second}");
    let (cache_keys, cached) = cache_quoting(&cache, &prefix, &[TOKEN]).await;
    eprintln!("{label}: before erasure {cache_keys} cache keys, {} quoting the customer's words", cached.len());
    assert!(cache_keys > 0, "{label}: the answer was cached");

    // An order, confirmed and invoiced in the Xero fake.
    let draft = say(&app, None, &format!("I'd like to order 3 bags of espresso roast for the {TOKEN} cafe")).await;
    let session = draft["session_id"].as_str().expect("session").to_owned();
    let placed = say(&app, Some(&session), "Confirm").await;
    let order_number = placed["order"]["order_number"].as_str().unwrap_or_else(|| panic!("{label}: placed: {placed}")).to_owned();
    let fake = FakeXero::start(FakeXeroConfig::default()).await.expect("fake Xero");
    let pass = worker(&store, &fake).run_once().await.expect("invoice pass");
    assert_eq!(pass.invoiced, 1, "{label}: {pass:?}");
    let order = store.orders().find_by_number(tenant.id, &order_number).await.expect("read").expect("order");
    let invoice_number = order.invoice_number.clone().expect("invoiced");
    let total = order.total_minor;

    // Feedback on the first reply, with a comment.
    let message_id = first["message_id"].as_str().expect("message id");
    let comment = format!("{TOKEN}: that fee seems high");
    let (status, _, fb) = app
        .call(
            "POST",
            &format!("/api/v1/messages/{message_id}/feedback"),
            Some(NORTHWIND_KEY),
            Some(json!({ "rating": "down", "comment": comment })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{label}: {fb}");

    // A hand-off to a person.
    let handoff = say(&app, None, &format!("I want to talk to a human about my {TOKEN} order, please")).await;
    assert_eq!(handoff["handoff"], true, "{label}: {handoff}");

    // The export: every part present.
    let (status, _, export) = app.call("GET", &format!("/admin/tenants/northwind/customers/{NUMBER}/export"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{label}: {export}");
    assert_eq!(export["format"], "tria.customer-export.v1");
    assert_eq!((export["customer"]["name"].as_str(), export["customer"]["email"].as_str()), (Some(NAME), Some(EMAIL)), "{export}");
    assert_eq!(export["customer"]["company"], COMPANY);
    assert_eq!(export["flags"]["active"], true);
    let conversations = export["conversations"].as_array().expect("conversations");
    assert!(conversations.len() >= 3, "{label}: {export}");
    let texts: Vec<String> = conversations
        .iter()
        .flat_map(|c| c["messages"].as_array().into_iter().flatten())
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect();
    assert!(texts.iter().any(|t| t == &question) && texts.iter().filter(|t| t.contains(TOKEN)).count() >= 4, "{label}: {texts:?}");
    let feedback: Vec<&Value> = conversations.iter().flat_map(|c| c["feedback"].as_array().into_iter().flatten()).collect();
    assert_eq!(feedback.len(), 1, "{export}");
    assert_eq!(feedback[0]["comment"], comment.as_str());
    assert!(conversations.iter().any(|c| c["escalations"].as_array().is_some_and(|e| !e.is_empty())), "{label}: the hand-off: {export}");
    let orders = export["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), 1, "{export}");
    assert_eq!(orders[0]["number"], order_number.as_str());
    assert_eq!(orders[0]["invoice_number"], invoice_number.as_str());
    assert!(orders[0]["items"].as_array().is_some_and(|i| !i.is_empty()));
    assert!(orders[0]["integration_jobs"].as_array().is_some_and(|j| j.iter().any(|j| j["kind"] == "xero.invoice")), "{export}");

    let mut needles: Vec<&str> = vec![NUMBER, NAME, EMAIL, COMPANY, TOKEN];
    // The customer's own words ("Confirm" is everyone's).
    needles.extend(texts.iter().filter(|t| t.contains(TOKEN)).map(String::as_str));
    let before = rows_quoting(&store, &needles).await;
    assert!(before.iter().any(|(t, _, _)| t == "messages") && before.iter().any(|(t, _, _)| t == "customers"), "{label}: {before:?}");
    // The check below can see the words: before erasure the file or its WAL holds them.
    if let Some((file, wal)) = sqlite_files(&store).await {
        let bytes = [std::fs::read(&file).expect("database file"), std::fs::read(&wal).unwrap_or_default()].concat();
        assert!(bytes_quoting(&bytes, &[TOKEN, EMAIL]).len() == 2, "{label}: the raw search finds nothing even before erasure");
    }

    // Erasure.
    let (status, headers, erased) = app.call("DELETE", &format!("/admin/tenants/northwind/customers/{NUMBER}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{label}: {erased}");
    let erase_request = headers.get("x-request-id").and_then(|v| v.to_str().ok()).expect("request id").to_owned();
    assert_eq!(erased["status"], "erased", "{erased}");
    let counts = &erased["erased"];
    for kind in ["conversations", "messages", "escalations", "feedback", "customer_rows_pseudonymised"] {
        assert!(counts[kind].as_u64().is_some_and(|n| n > 0), "{label}: {kind}: {erased}");
    }
    assert_eq!(erased["kept_invoices"][0]["invoice_number"], invoice_number.as_str(), "{erased}");
    assert_eq!(erased["kept_invoices"][0]["total_minor"], total);
    assert!(erased["kept"].as_array().is_some_and(|k| k.iter().all(|k| k["why"].is_string())), "{erased}");
    assert!(erased["cache"]["generation"].is_u64(), "{label}: the tenant's cache purged: {erased}");
    if label == "sqlite" {
        assert_eq!(erased["wal_checkpoint"]["busy"], false, "{erased}");
    }

    // Nothing of the customer anywhere in the store...
    let after = rows_quoting(&store, &needles).await;
    assert!(after.is_empty(), "{label}: still stored after erasure: {after:#?}");
    // ...nor in the cache, in process or Redis...
    let (_, cached) = cache_quoting(&cache, &prefix, &needles).await;
    assert!(cached.is_empty(), "{label}: still cached: {cached:#?}");
    // ...nor in the bytes of the SQLite file and its write-ahead log.
    if let Some((file, wal)) = sqlite_files(&store).await {
        let bytes = std::fs::read(&file).expect("database file");
        assert!(bytes_quoting(&bytes, &needles).is_empty(), "{label}: the database file quotes {:?}", bytes_quoting(&bytes, &needles));
        let wal_bytes = std::fs::read(&wal).unwrap_or_default();
        assert!(bytes_quoting(&wal_bytes, &needles).is_empty(), "{label}: the WAL quotes {:?}", bytes_quoting(&wal_bytes, &needles));
        eprintln!("{label}: {} database bytes and {} WAL bytes searched: no trace", bytes.len(), wal_bytes.len());
    }
    // The invoice stays: number, amount, date, with no person attached.
    let kept = store.orders().find_by_number(tenant.id, &order_number).await.expect("read").expect("the invoiced order is kept");
    assert_eq!(
        (kept.invoice_number.as_deref(), kept.total_minor, kept.created_at),
        (Some(invoice_number.as_str()), total, order.created_at)
    );
    let owner = store.customers().get(tenant.id, tria_core::CustomerId(kept.customer_id)).await.expect("read").expect("owner row");
    assert!(
        owner.name.is_empty() && owner.email.is_empty() && owner.company.is_empty() && owner.external_id.starts_with("erased-"),
        "{owner:?}"
    );

    // Again: 200, nothing erased. The export and profile no longer find them.
    let (status, _, again) = app.call("DELETE", &format!("/admin/tenants/northwind/customers/{NUMBER}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{label}: {again}");
    assert_eq!(again["status"], "already_erased", "{again}");
    assert!(again["erased"].as_object().expect("counts").values().all(|n| n == 0), "{again}");
    let (status, _, gone) = app.call("GET", &format!("/admin/tenants/northwind/customers/{NUMBER}/export"), Some(&admin), None).await;
    assert_eq!((status, error_code(&gone).as_str()), (StatusCode::NOT_FOUND, "not_found"), "{gone}");
    let (status, _, profile) = app.call("GET", &format!("/api/v1/customers/{NUMBER}/profile"), Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{profile}");

    // Unknown customer: 404 JSON. Not an admin: 403.
    let (status, _, unknown) = app.call("DELETE", "/admin/tenants/northwind/customers/NOBODY-1", Some(&admin), None).await;
    assert_eq!((status, error_code(&unknown).as_str()), (StatusCode::NOT_FOUND, "not_found"), "{unknown}");
    let (status, _, _) = app.call("DELETE", "/admin/tenants/northwind/customers/ERASE-8842", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // By email (any case): erased, then already erased; no email is a 400, an unknown one 404.
    let (status, _, by_email) =
        app.call("DELETE", "/admin/tenants/northwind/customers?email=bo.erasable%40example.ORG", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{label}: {by_email}");
    assert_eq!(
        (by_email["status"].as_str(), by_email["customers"][0]["customer_number"].as_str()),
        (Some("erased"), Some("ERASE-8842")),
        "{by_email}"
    );
    assert!(
        store.customers().find_by_external_id(tenant.id, "ERASE-8842").await.expect("read").is_none(),
        "no invoice: the row is deleted"
    );
    let (status, _, again) =
        app.call("DELETE", "/admin/tenants/northwind/customers?email=Bo.Erasable%40example.org", Some(&admin), None).await;
    assert_eq!((status, again["status"].as_str()), (StatusCode::OK, Some("already_erased")), "{again}");
    let (status, _, bad) = app.call("DELETE", "/admin/tenants/northwind/customers", Some(&admin), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    error_code(&bad);
    let (status, _, _) = app.call("DELETE", "/admin/tenants/northwind/customers?email=nobody%40example.org", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit log: the upload, the export and both erasures, with request ids; entries name
    // the customer by internal id only (the search above found nothing in `audit_log`).
    let (status, _, audit) = app.call("GET", "/admin/audit?tenant=northwind&limit=500", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["customers.uploaded", "customer.exported", "customer.erased"] {
        assert!(actions.contains(&action), "{label}: {action} missing: {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| **a == "customer.erased").count(), 2, "the repeats erased nothing: {actions:?}");
    let erasure = entries.iter().find(|e| e["action"] == "customer.erased").expect("erasure entry");
    assert_eq!(erasure["request_id"], erase_request.as_str());
    assert_eq!(erasure["actor_role"], "admin");
    assert!(erasure["target"].as_str().is_some_and(|t| t.starts_with("customer:")), "{erasure}");
    // Paging: one entry a page, following the cursor, sees them all in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/audit?tenant=northwind&limit=1&cursor={c}"),
            None => "/admin/audit?tenant=northwind&limit=1".to_owned(),
        };
        let (status, _, page) = app.call("GET", &path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["entries"].as_array().expect("entries").iter().map(|e| e["seq"].as_i64().expect("seq")));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, entries.iter().map(|e| e["seq"].as_i64().expect("seq")).collect::<Vec<_>>());
    for bad in
        ["/admin/audit?limit=0", "/admin/audit?cursor=x", "/admin/audit?from=yesterday", "/admin/audit?actor=me", "/admin/audit?what=1"]
    {
        let (status, _, body) = app.call("GET", bad, Some(&admin), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _, _) = app.call("GET", "/admin/audit?tenant=nope", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No route changes an entry.
    for method in ["DELETE", "PUT", "PATCH", "POST"] {
        let (status, _, _) = app.call(method, "/admin/audit", Some(&admin), None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    // Nor does the database let a statement rewrite one.
    let rewrite = store.connection().execute_unprepared("UPDATE audit_log SET action = 'nothing'").await;
    assert!(rewrite.is_err(), "{label}: the audit log is append-only");
    app.db.cleanup().await;
}

#[tokio::test]
async fn a_customer_is_exported_then_erased_everywhere_on_sqlite() {
    erase_and_check(tria_testkit::sqlite().await).await;
}

#[tokio::test]
async fn a_customer_is_exported_then_erased_everywhere_on_postgres() {
    let Some(db) = tria_testkit::postgres().await else {
        eprintln!("TRIA_TEST_POSTGRES_URL not set; the PostgreSQL erasure is not tested");
        return;
    };
    erase_and_check(db).await;
}

/// Key actions are audited with the key that acted.
#[tokio::test]
async fn key_and_tenant_actions_are_audited() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, key) =
        app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "tenant", "tenant": "velo", "label": "audited" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let id = key["id"].as_str().expect("id").to_owned();
    let (status, _, _) = app.call("DELETE", &format!("/admin/keys/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app.call("PATCH", "/admin/tenants/velo", Some(&admin), Some(json!({ "name": "Velo Audited" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, audit) = app.call("GET", "/admin/audit", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().expect("entries");
    let find = |action: &str| entries.iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("{action}: {audit}"));
    assert_eq!(find("key.created")["target"], format!("key:{id}"));
    assert_eq!(find("key.revoked")["target"], format!("key:{id}"));
    assert_eq!(find("tenant.updated")["tenant"], "velo");
    assert_eq!(find("tenant.updated")["details"]["fields"], json!(["name"]));
    // The actor filter: the acting admin key's entries only.
    let actor = find("key.created")["actor_key_id"].as_str().expect("actor").to_owned();
    let (_, _, mine) = app.call("GET", &format!("/admin/audit?actor={actor}"), Some(&admin), None).await;
    assert_eq!(mine["entries"].as_array().map(Vec::len), Some(3), "{mine}");
    let (_, _, none) = app.call("GET", &format!("/admin/audit?actor={}", uuid::Uuid::new_v4()), Some(&admin), None).await;
    assert_eq!(none["entries"].as_array().map(Vec::len), Some(0));
    let (_, _, future) = app.call("GET", "/admin/audit?from=2999-01-01T00:00:00Z", Some(&admin), None).await;
    assert_eq!(future["entries"].as_array().map(Vec::len), Some(0));
    let (status, _, _) = app.call("GET", "/admin/audit", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
