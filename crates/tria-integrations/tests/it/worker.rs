//! The invoice worker against the fake Xero, on SQLite and (when configured) PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tria_core::{CustomerId, OrderStatus, TenantId, ToneProfile};
use tria_integrations::accounting::{Accounting, Customer, Guarded};
use tria_integrations::invoicing::{
    AccountingDirectory, InvoiceFailure, InvoiceFailureHook, InvoiceWorker, InvoiceWorkerConfig, invoice_idempotency_key,
};
use tria_integrations::resilience::{BreakerConfig, BreakerState, CircuitBreaker, RetryPolicy};
use tria_integrations::xero::fake::{FakeXero, Fault};
use tria_store::Store;
use tria_store::repo::{EMAIL_OUTBOX_KIND, INVOICE_OUTBOX_KIND, LeaseOutcome, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewTenant};

use crate::support::{client, fake, quick_retry};

const STOCK: i64 = 1_000;

struct Shop {
    tenant: TenantId,
    customer: CustomerId,
}

async fn shop(store: &Store, customer_name: &str) -> Shop {
    shop_with(store, customer_name, "buyer@example.com", "USD", serde_json::json!({})).await
}

/// A shop in `currency` (products priced 250 and 75 minor units of it) with `settings`.
async fn shop_with(store: &Store, customer_name: &str, email: &str, currency: &str, settings: serde_json::Value) -> Shop {
    let tenant = store
        .tenants()
        .create(NewTenant {
            name: "Bean There".into(),
            slug: "bean-there".into(),
            currency: currency.into(),
            tone: ToneProfile::default(),
            settings,
        })
        .await
        .expect("tenant");
    for (sku, price) in [("CUP", 250), ("LID", 75)] {
        store
            .catalogue()
            .upsert(
                tenant.id,
                NewProduct {
                    sku: sku.into(),
                    name: format!("{sku} case"),
                    description: String::new(),
                    unit: "case".into(),
                    unit_price_minor: price,
                    currency: currency.into(),
                    stock: STOCK,
                    active: true,
                },
            )
            .await
            .expect("product");
    }
    let customer = store
        .customers()
        .upsert(
            tenant.id,
            NewCustomer { external_id: "C1".into(), name: customer_name.into(), email: email.into(), company: String::new() },
        )
        .await
        .expect("customer");
    Shop { tenant: tenant.id, customer: CustomerId(customer.id) }
}

async fn place(store: &Store, shop: &Shop, n: usize) -> Vec<tria_store::records::Order> {
    let mut orders = Vec::new();
    for i in 0..n {
        let order = store
            .orders()
            .place(
                shop.tenant,
                NewOrder {
                    customer: shop.customer,
                    number: format!("ORD-{i:04}"),
                    status: OrderStatus::Draft,
                    idempotency_key: format!("chat:{i}"),
                    lines: vec![NewOrderLine { sku: "CUP".into(), quantity: 4 }, NewOrderLine { sku: "LID".into(), quantity: 2 }],
                    created_at: Utc::now(),
                    outbox_kind: None,
                },
            )
            .await
            .expect("place order");
        orders.push(order);
    }
    orders
}

fn config(max_attempts: u32) -> InvoiceWorkerConfig {
    InvoiceWorkerConfig {
        lease_for: Duration::from_secs(30),
        batch: 50,
        max_attempts,
        // Zero backoff: a retried job is due again on the next pass.
        backoff: RetryPolicy { initial_delay: Duration::ZERO, jitter: 0.0, ..RetryPolicy::default() },
        idle_poll: Duration::from_millis(10),
        payment_terms_days: 30,
    }
}

fn xero(fake: &FakeXero) -> Arc<dyn Accounting> {
    Arc::new(client(fake, quick_retry(1), Duration::from_millis(500)))
}

async fn stock(store: &Store, shop: &Shop, sku: &str) -> i64 {
    store.catalogue().find_by_sku(shop.tenant, sku).await.expect("read").expect("product").stock
}

#[tokio::test]
async fn placing_reserves_stock_and_each_order_gets_exactly_one_invoice() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let orders = place(store, &shop, 3).await;
        assert_eq!(stock(store, &shop, "CUP").await, STOCK - 12, "{}", db.label);
        assert_eq!(orders[0].status, "confirmed");
        assert_eq!(store.outbox().counts(INVOICE_OUTBOX_KIND).await.expect("counts").pending, 3);

        let fake = fake().await;
        let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(3));
        let report = worker.run_once().await.expect("pass");
        assert_eq!((report.leased, report.invoiced), (3, 3), "{}: {report:?}", db.label);
        assert_eq!(worker.run_once().await.expect("pass").leased, 0, "nothing left");
        for placed in &orders {
            let now = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
            assert_eq!(now.status, "invoiced");
            assert!(now.invoice_number.as_deref().is_some_and(|n| n.starts_with("INV-")));
        }
        assert_eq!(fake.invoices().len(), 3);
        assert_eq!(fake.contacts().len(), 1, "one contact for the one customer");
        assert_eq!(store.outbox().counts(INVOICE_OUTBOX_KIND).await.expect("counts").done, 3);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_crashed_worker_is_replaced_when_its_lease_expires_and_no_second_invoice_is_made() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let placed = place(store, &shop, 1).await.remove(0);
        let fake = fake().await;
        let accounting = xero(&fake);

        // Worker A leases the job (a lease that has already run out, as after a crash), has Xero
        // create the invoice, and dies before recording it.
        let leased = store.outbox().lease_due(INVOICE_OUTBOX_KIND, Duration::ZERO, 10, Utc::now()).await.expect("lease");
        assert_eq!(leased.len(), 1);
        let customer = Customer { name: "Ada".into(), email: "buyer@example.com".into(), company: String::new() };
        let contact = accounting.ensure_contact(&customer, "contact").await.expect("contact");
        let draft = tria_integrations::accounting::InvoiceDraft {
            contact_id: contact.contact_id,
            reference: placed.number.clone(),
            currency: "USD".into(),
            date: Utc::now().date_naive(),
            due_date: Utc::now().date_naive(),
            lines: vec![],
            account_code: None,
        };
        let created_by_a = accounting.create_invoice(&draft, &invoice_idempotency_key(placed.id)).await.expect("invoice");

        // Worker B takes the expired lease over and finishes with the SAME invoice.
        let worker = InvoiceWorker::new(store.clone(), accounting.clone(), config(3));
        let report = worker.run_once().await.expect("pass");
        assert_eq!(report.invoiced, 1, "{}: {report:?}", db.label);
        assert_eq!(fake.invoices().len(), 1, "{}: exactly one invoice in Xero", db.label);
        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "invoiced");
        assert_eq!(order.invoice_id.as_deref(), Some(created_by_a.invoice_id.as_str()));

        // A comes back to life: its lease is gone, so it cannot write anything.
        let late = store.outbox().complete_invoice(&leased[0], "other", "INV-9999").await.expect("fenced");
        assert_eq!(late, LeaseOutcome::LeaseLost);
        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.invoice_id.as_deref(), Some(created_by_a.invoice_id.as_str()));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_workers_racing_share_the_jobs_and_never_invoice_twice() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        place(store, &shop, 30).await;
        let fake = fake().await;
        let mut config = config(3);
        config.batch = 4;
        let a = InvoiceWorker::new(store.clone(), xero(&fake), config.clone());
        let b = InvoiceWorker::new(store.clone(), xero(&fake), config);
        let mut leased = 0;
        for _ in 0..50 {
            let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
            let (ra, rb) = (ra.expect("a"), rb.expect("b"));
            leased += ra.leased + rb.leased;
            if ra.leased + rb.leased == 0 {
                break;
            }
        }
        assert_eq!(leased, 30, "{}: every job leased exactly once", db.label);
        assert_eq!(fake.invoices().len(), 30);
        assert!(fake.invoices_per_reference().values().all(|&n| n == 1));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn while_xero_is_down_the_breaker_opens_orders_stay_confirmed_and_are_invoiced_later() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let orders = place(store, &shop, 5).await;
        let fake = fake().await;
        let breaker = Arc::new(CircuitBreaker::new(
            "xero",
            BreakerConfig { consecutive_failures: 2, cool_down: Duration::from_millis(300), ..BreakerConfig::default() },
        ));
        let guarded: Arc<dyn Accounting> = Arc::new(Guarded::new(xero(&fake), breaker.clone()));
        let worker = InvoiceWorker::new(store.clone(), guarded, config(5));

        fake.push_faults([Fault::Status(503), Fault::Status(503)]);
        let report = worker.run_once().await.expect("pass");
        assert_eq!((report.retried, report.deferred), (2, 3), "{}: {report:?}", db.label);
        assert_eq!(breaker.state(), BreakerState::Open);
        for placed in &orders {
            let now = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
            assert_eq!(now.status, "confirmed", "orders wait while Xero is down");
        }
        let jobs = store.orders().outbox(shop.tenant).await.expect("outbox");
        assert!(jobs.iter().all(|j| j.attempts <= 1), "deferred jobs keep their attempts");
        assert_eq!(fake.invoices().len(), 0);

        // Xero is back; after the cool-down a probe closes the breaker and the queue drains.
        tokio::time::sleep(Duration::from_millis(400)).await;
        for _ in 0..20 {
            if worker.run_once().await.expect("pass").leased == 0
                && store.outbox().counts(INVOICE_OUTBOX_KIND).await.expect("counts").done == 5
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(fake.invoices().len(), 5, "{}", db.label);
        for placed in &orders {
            let now = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
            assert_eq!(now.status, "invoiced");
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_rejected_invoice_fails_the_order_releases_stock_and_opens_an_escalation() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let placed = place(store, &shop, 1).await.remove(0);
        assert_eq!(stock(store, &shop, "CUP").await, STOCK - 4);
        let fake = fake().await;
        // Xero answers the first call 400: a permanent rejection, never retried.
        fake.push_faults([Fault::Status(400)]);
        let hook = Arc::new(RecordingHook::default());
        let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(5)).with_failure_hook(hook.clone());
        let report = worker.run_once().await.expect("pass");
        assert_eq!(report.failed, 1, "{}: {report:?}", db.label);
        let told = hook.0.lock().expect("hook").clone();
        assert_eq!(told.len(), 1, "the hook hears of the failure once");
        assert_eq!(told[0].order_number.as_deref(), Some(placed.number.as_str()));

        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "failed");
        let reason = order.failure_reason.unwrap_or_default();
        assert!(reason.contains("rejected") && reason.contains("400"), "{reason}");
        assert_eq!(stock(store, &shop, "CUP").await, STOCK, "reserved stock released");
        assert_eq!(stock(store, &shop, "LID").await, STOCK);
        let escalations = store.orders().escalations(shop.tenant).await.expect("escalations");
        assert_eq!(escalations.len(), 1);
        assert_eq!((escalations[0].order_id, escalations[0].status.as_str()), (placed.id, "open"));
        assert_eq!(store.outbox().counts(INVOICE_OUTBOX_KIND).await.expect("counts").failed, 1);
        assert!(fake.invoices().is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn transient_failures_past_max_attempts_fail_and_compensate_once() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let placed = place(store, &shop, 1).await.remove(0);
        let fake = fake().await;
        fake.push_faults([Fault::Status(500), Fault::Status(502)]);
        let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(2));
        assert_eq!(worker.run_once().await.expect("pass").retried, 1, "{}", db.label);
        assert_eq!(worker.run_once().await.expect("pass").failed, 1);
        assert_eq!(worker.run_once().await.expect("pass").leased, 0, "a failed job is not retried");
        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "failed");
        assert!(order.failure_reason.unwrap_or_default().starts_with("gave up after 2 attempts"));
        assert_eq!(stock(store, &shop, "CUP").await, STOCK);
        assert_eq!(store.orders().escalations(shop.tenant).await.expect("escalations").len(), 1);
        db.cleanup().await;
    }
}

#[derive(Default)]
struct RecordingHook(std::sync::Mutex<Vec<InvoiceFailure>>);

#[async_trait::async_trait]
impl InvoiceFailureHook for RecordingHook {
    async fn invoice_failed(&self, failure: &InvoiceFailure) {
        self.0.lock().expect("hook").push(failure.clone());
    }
}

#[tokio::test]
async fn giving_up_voids_an_invoice_whose_answer_was_lost() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let placed = place(store, &shop, 1).await.remove(0);
        let fake = fake().await;
        // Attempt 1: the invoice is committed but the answer lost. Attempt 2: Xero errors.
        fake.push_faults([Fault::Pass, Fault::Pass, Fault::CommitThenFail, Fault::Status(500)]);
        let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(2));
        assert_eq!(worker.run_once().await.expect("pass").retried, 1, "{}", db.label);
        assert_eq!(worker.run_once().await.expect("pass").failed, 1);
        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "failed");
        let reason = order.failure_reason.unwrap_or_default();
        assert!(reason.ends_with("; invoice INV-0001 voided"), "{reason}");
        assert_eq!(fake.invoices().len(), 1);
        assert_eq!(fake.invoices()[0]["Status"], "VOIDED");
        assert_eq!(stock(store, &shop, "CUP").await, STOCK);
        db.cleanup().await;
    }
}

struct OnlyFor(TenantId, Arc<dyn Accounting>);

impl AccountingDirectory for OnlyFor {
    fn for_tenant(&self, tenant: TenantId) -> Option<Arc<dyn Accounting>> {
        (tenant == self.0).then(|| self.1.clone())
    }
}

#[tokio::test]
async fn a_tenant_without_an_accounting_connection_waits_without_using_attempts() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop(store, "Ada").await;
        let placed = place(store, &shop, 1).await.remove(0);
        let fake = fake().await;
        let elsewhere = TenantId(uuid::Uuid::new_v4());
        let worker = InvoiceWorker::per_tenant(store.clone(), Arc::new(OnlyFor(elsewhere, xero(&fake))), config(2));
        assert_eq!(worker.run_once().await.expect("pass").deferred, 1, "{}", db.label);
        assert_eq!(worker.run_once().await.expect("pass").leased, 0, "it waits ten minutes");
        let job = store.orders().outbox(shop.tenant).await.expect("outbox").remove(0);
        assert_eq!((job.state.as_str(), job.attempts), ("pending", 0));
        assert_eq!(job.last_error.as_deref(), Some("no accounting connection for this tenant"));
        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "confirmed");
        db.cleanup().await;
    }
}

/// Customers first seen in chat have only the tenant's id for them: no name, no email. Each is
/// invoiced under a contact of their own, named by that id (Xero refuses a contact without a
/// name, and an empty email must not match some other contact).
#[tokio::test]
async fn customers_known_only_by_their_id_are_invoiced_each_under_a_contact_of_their_own() {
    let db = tria_testkit::sqlite().await;
    let store = &db.store;
    let shop = shop(store, "Ada").await;
    for id in ["CUST-77", "CUST-78"] {
        let new = NewCustomer { external_id: id.into(), name: String::new(), email: String::new(), company: String::new() };
        let customer = store.customers().upsert(shop.tenant, new).await.expect("customer");
        let order = NewOrder {
            customer: CustomerId(customer.id),
            number: format!("ORD-{id}"),
            status: OrderStatus::Draft,
            idempotency_key: format!("chat:{id}"),
            lines: vec![NewOrderLine { sku: "CUP".into(), quantity: 1 }],
            created_at: Utc::now(),
            outbox_kind: None,
        };
        store.orders().place(shop.tenant, order).await.expect("place order");
    }
    let fake = fake().await;
    let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(3));
    let report = worker.run_once().await.expect("pass");
    assert_eq!((report.leased, report.invoiced), (2, 2), "{report:?}");
    let mut names: Vec<String> = fake.contacts().iter().map(|c| c["Name"].as_str().unwrap_or_default().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Customer CUST-77", "Customer CUST-78"]);
    db.cleanup().await;
}

fn emailing(account_code: &str) -> serde_json::Value {
    serde_json::json!({ "invoicing": { "account_code": account_code, "email_invoices": true, "payment_terms_days": 14 } })
}

/// The tenant's `settings.invoicing` decides what goes on its invoice and whether Xero emails it:
/// the account code lands on every line, the terms set the due date, and the email goes out
/// exactly once, in a job of its own, even when its first answer is lost and the job retried.
#[tokio::test]
async fn the_tenants_invoicing_settings_go_on_the_invoice_and_its_email_is_sent_once() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop_with(store, "Ada", "buyer@example.com", "USD", emailing("4100")).await;
        let placed = place(store, &shop, 1).await.remove(0);
        let fake = fake().await;
        let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(3));
        let report = worker.run_once().await.expect("pass");
        assert_eq!((report.invoiced, report.emailed), (1, 0), "{}: {report:?}", db.label);
        let invoice = fake.invoices().remove(0);
        let lines = invoice["LineItems"].as_array().cloned().unwrap_or_default();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l["AccountCode"] == "4100"), "the tenant's code on every line: {lines:?}");
        let due = placed.created_at.date_naive() + chrono::Days::new(14);
        let due_ms = due.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis();
        assert_eq!(invoice["DueDate"], format!("/Date({due_ms})/"), "the tenant's 14-day terms");
        assert!(fake.emailed_invoices().is_empty(), "emailing is a job of its own, after the invoice is recorded");
        assert_eq!(store.outbox().counts(EMAIL_OUTBOX_KIND).await.expect("counts").pending, 1);

        // Xero sends the email but the answer is lost: the job is retried, and the retry's
        // idempotency key gets the first answer back; no second email.
        fake.push_faults([Fault::CommitThenFail]);
        let report = worker.run_once().await.expect("pass");
        assert_eq!(report.retried, 1, "{}: {report:?}", db.label);
        let report = worker.run_once().await.expect("pass");
        assert_eq!(report.emailed, 1, "{}: {report:?}", db.label);
        assert_eq!(worker.run_once().await.expect("pass").leased, 0, "nothing left");
        assert_eq!(fake.emailed_invoices(), [invoice["InvoiceID"].as_str().unwrap_or_default().to_owned()], "exactly one email");
        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "invoiced");
        let job = store.outbox().job_for_order(shop.tenant, EMAIL_OUTBOX_KIND, placed.id).await.expect("read").expect("job");
        assert_eq!((job.state.as_str(), job.last_error.as_deref()), ("done", Some("invoice INV-0001 emailed")));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_tenant_that_does_not_email_invoices_gets_no_email_and_the_connections_account_code() {
    let db = tria_testkit::sqlite().await;
    let store = &db.store;
    let shop = shop(store, "Ada").await;
    place(store, &shop, 2).await;
    let fake = fake().await;
    let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(3));
    assert_eq!(worker.run_once().await.expect("pass").invoiced, 2);
    assert_eq!(worker.run_once().await.expect("pass").leased, 0, "no email job was queued");
    assert!(fake.emailed_invoices().is_empty());
    assert_eq!(store.outbox().counts(EMAIL_OUTBOX_KIND).await.expect("counts"), Default::default());
    assert!(fake.invoices().iter().all(|i| i["LineItems"][0]["AccountCode"] == "200"), "the deployment's sales account");
    assert!(fake.exchanges().iter().all(|e| !e.path.ends_with("/Email")), "Xero was never asked to email");
    db.cleanup().await;
}

/// Emailing never fails the order: a transient failure is retried later, and one Xero refuses
/// (here the contact has no address) is given up with an escalation while the order stays
/// invoiced and keeps its stock.
#[tokio::test]
async fn an_invoice_that_cannot_be_emailed_leaves_the_order_invoiced_and_asks_a_person() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let shop = shop_with(store, "Ada", "", "USD", emailing("4100")).await;
        let placed = place(store, &shop, 1).await.remove(0);
        let fake = fake().await;
        let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(3));
        assert_eq!(worker.run_once().await.expect("pass").invoiced, 1, "{}", db.label);
        fake.push_faults([Fault::Status(503)]);
        let report = worker.run_once().await.expect("pass");
        assert_eq!(report.retried, 1, "{}: a 503 is retried later: {report:?}", db.label);
        let report = worker.run_once().await.expect("pass");
        assert_eq!((report.failed, report.emailed), (1, 0), "{}: Xero refuses, no retry: {report:?}", db.label);
        assert_eq!(worker.run_once().await.expect("pass").leased, 0);

        let order = store.orders().find(shop.tenant, placed.id).await.expect("read").expect("order");
        assert_eq!(order.status, "invoiced", "{}: the order keeps its invoice", db.label);
        assert_eq!(order.invoice_number.as_deref(), Some("INV-0001"));
        assert_eq!(stock(store, &shop, "CUP").await, STOCK - 4, "stock stays reserved");
        let job = store.outbox().job_for_order(shop.tenant, EMAIL_OUTBOX_KIND, placed.id).await.expect("read").expect("job");
        assert_eq!(job.state, "failed");
        let escalations = store.orders().escalations(shop.tenant).await.expect("escalations");
        assert_eq!(escalations.len(), 1);
        assert!(
            escalations[0].reason.starts_with("invoice could not be emailed to the customer: rejected (400)"),
            "{}",
            escalations[0].reason
        );
        assert!(fake.emailed_invoices().is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_yen_order_is_invoiced_in_whole_yen() {
    let db = tria_testkit::sqlite().await;
    let store = &db.store;
    // CUP costs 250 yen and LID 75 yen: minor units of JPY are yen.
    let shop = shop_with(store, "Ada", "buyer@example.com", "JPY", serde_json::json!({})).await;
    let placed = place(store, &shop, 1).await.remove(0);
    assert_eq!((placed.currency.as_str(), placed.total_minor), ("JPY", 4 * 250 + 2 * 75));
    let fake = fake().await;
    let worker = InvoiceWorker::new(store.clone(), xero(&fake), config(3));
    assert_eq!(worker.run_once().await.expect("pass").invoiced, 1);
    let invoice = fake.invoices().remove(0);
    assert_eq!(invoice["CurrencyCode"], "JPY");
    let units: Vec<Option<f64>> = invoice["LineItems"].as_array().into_iter().flatten().map(|l| l["UnitAmount"].as_f64()).collect();
    assert_eq!(units, [Some(250.0), Some(75.0)], "whole yen, not 2.50 and 0.75");
    assert_eq!(invoice["Total"].as_f64(), Some(1_150.0), "the order's total, {} yen", placed.total_minor);
    db.cleanup().await;
}
