//! Orders by chat, end to end through `Agent::chat` on a seeded SQLite store: placing with a
//! clarifying question, unknown products, the customer id, bounds, approval above the
//! threshold, status/change/cancel of one's own orders only, and the invoice worker invoicing
//! (and voiding) in the Xero fake.

use std::sync::Arc;
use std::time::Duration;

use tria_agent::Agent;
use tria_core::{ChatReply, ChatRequest, OrderStatus, TenantContext};
use tria_integrations::invoicing::{InvoiceWorker, InvoiceWorkerConfig};
use tria_integrations::resilience::RetryPolicy;
use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};
use tria_store::repo::{INVOICE_OUTBOX_KIND, VOID_OUTBOX_KIND};

use crate::seeded;

async fn say(agent: &Agent, tenant: &TenantContext, session: Option<&str>, customer: Option<&str>, message: &str) -> ChatReply {
    let mut request = ChatRequest::new(message);
    request.session_id = session.map(str::to_owned);
    request.customer_id = customer.map(str::to_owned);
    agent.chat(tenant, request).await.expect("chat answers")
}

async fn stock(agent: &Agent, tenant: &TenantContext, sku: &str) -> i64 {
    agent.store().catalogue().find_by_sku(tenant.id, sku).await.expect("read").expect("product").stock
}

#[tokio::test]
async fn an_order_is_clarified_summarised_and_placed_only_on_confirmation() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let cups_before = stock(&agent, &tenant, "NW-CUP-16OZ").await;

    let first = say(&agent, &tenant, None, Some("CUST-1001"), "I'd like to order 12 cases of 16oz cups and 3 bags of espresso roast").await;
    let session = first.session_id.clone();
    // Hot and cold 16 oz cups both fit: a question listing both, no order yet.
    assert!(first.reply.contains("NW-CUP-16OZ") && first.reply.contains("NW-CCUP-16OZ"), "{}", first.reply);
    assert!(first.order.is_none(), "{:?}", first.order);

    let second = say(&agent, &tenant, Some(&session), None, "the hot ones").await;
    let summary = second.order.clone().expect("a summary");
    assert!(summary.awaiting_confirmation && summary.order_number.is_none() && summary.status == OrderStatus::Draft);
    let skus: Vec<&str> = summary.lines.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["NW-COF-ESP-1KG", "NW-CUP-16OZ"]);
    // Prices from the catalogue, in minor units; the total is their sum.
    let cups = summary.lines.iter().find(|l| l.sku == "NW-CUP-16OZ").expect("cups line");
    assert_eq!((cups.quantity, cups.unit_price_minor, cups.line_total_minor), (12, 8400, 100_800));
    assert_eq!(summary.total_minor, summary.lines.iter().map(|l| l.line_total_minor).sum::<i64>());
    assert_eq!(summary.currency, "USD");
    assert!(
        second.reply.contains("$1008.00") && second.reply.contains("Delivery:") && second.reply.contains("Confirm"),
        "{}",
        second.reply
    );
    assert!(agent.store().orders().outbox(tenant.id).await.expect("outbox").is_empty(), "nothing is written before confirmation");

    // Something that is not a confirmation places nothing.
    let _ = say(&agent, &tenant, Some(&session), None, "what are your opening hours?").await;
    assert_eq!(stock(&agent, &tenant, "NW-CUP-16OZ").await, cups_before);

    let placed = say(&agent, &tenant, Some(&session), None, "Confirm").await;
    let order = placed.order.clone().expect("the placed order");
    let number = order.order_number.clone().expect("a number");
    assert!(number.starts_with("ORD-") && order.status == OrderStatus::Confirmed && !order.awaiting_confirmation);
    assert!(placed.reply.contains(&number), "{}", placed.reply);
    let stored = agent.store().orders().find_by_number(tenant.id, &number).await.expect("read").expect("stored");
    assert_eq!(stored.total_minor, summary.total_minor);
    assert_eq!(agent.store().orders().items(tenant.id, stored.id).await.expect("items").len(), 2);
    let outbox = agent.store().orders().outbox(tenant.id).await.expect("outbox");
    assert_eq!(outbox.iter().filter(|j| j.kind == INVOICE_OUTBOX_KIND).count(), 1);
    assert_eq!(stock(&agent, &tenant, "NW-CUP-16OZ").await, cups_before - 12);

    // "Confirm" again: the draft is gone, no second order.
    let again = say(&agent, &tenant, Some(&session), None, "Confirm").await;
    assert!(again.order.is_none(), "{:?}", again.order);
    assert_eq!(agent.store().orders().outbox(tenant.id).await.expect("outbox").len(), 1);
    db.cleanup().await;
}

#[tokio::test]
async fn unknown_products_discontinued_ones_and_bounds_are_said_plainly() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let reply = say(&agent, &tenant, None, Some("CUST-1001"), "I want to order 4 tractor tyres").await;
    assert!(reply.reply.contains("couldn't find \"tractor tyres\""), "{}", reply.reply);
    assert!(reply.order.is_none());

    let reply = say(&agent, &tenant, None, Some("CUST-1001"), "I'd like to order 2 cases of NW-CUP-10OZ").await;
    assert!(reply.reply.contains("no longer sold"), "{}", reply.reply);

    // 501 is over the tenant's per-line maximum (500); 0 is not a quantity.
    let reply = say(&agent, &tenant, None, Some("CUST-1001"), "please order 501 cases of NW-STIR-WOOD and 0 bags of NW-COF-ESP-1KG").await;
    assert!(reply.reply.contains("at most 500 units"), "{}", reply.reply);
    assert!(reply.reply.contains("at least 1"), "{}", reply.reply);
    assert!(reply.order.is_none_or(|o| o.lines.is_empty()));

    // More than in stock (NW-CLN-SAN has 33).
    let reply = say(&agent, &tenant, None, Some("CUST-1001"), "I'd like to order 40 cases of NW-CLN-SAN").await;
    assert!(reply.reply.contains("only have 33"), "{}", reply.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn the_customer_id_is_asked_for_and_the_draft_survives_another_instance() {
    let (db, tenant) = seeded().await;
    let first_instance = Agent::builder(db.store.clone()).build();
    let second_instance = Agent::builder(db.store.clone()).build();
    let ask = say(&first_instance, &tenant, None, None, "I'd like to order 3 cases of oat milk").await;
    assert!(ask.reply.contains("customer number"), "{}", ask.reply);
    let session = ask.session_id.clone();
    // A number alone is a claim: the account's email must come with it, and an unknown number
    // gets the same replies as a known one (the chat is no oracle for which numbers exist).
    let unknown = say(&second_instance, &tenant, Some(&session), None, "it is CUST-9999").await;
    assert!(unknown.order.is_none() && unknown.reply.contains("email address"), "{}", unknown.reply);
    let unknown = say(&second_instance, &tenant, Some(&session), None, "d.okafor@harborlightroasters.example").await;
    assert!(unknown.order.is_none() && unknown.reply.contains("couldn't verify"), "{}", unknown.reply);
    let number_only = say(&second_instance, &tenant, Some(&session), None, "my customer number is CUST-1002").await;
    assert!(number_only.order.is_none() && number_only.reply.contains("email address"), "{}", number_only.reply);
    let wrong = say(&second_instance, &tenant, Some(&session), None, "maya@bluekettlecafe.example").await;
    assert!(wrong.order.is_none() && wrong.reply.contains("couldn't verify"), "another customer's email: {}", wrong.reply);
    let summary = say(&second_instance, &tenant, Some(&session), None, "CUST-1002, D.Okafor@HarborLightRoasters.example").await;
    let order = summary.order.expect("summary after the id");
    assert_eq!(order.lines[0].sku, "NW-MLK-OAT");
    assert!(order.awaiting_confirmation);
    let placed = say(&first_instance, &tenant, Some(&session), None, "yes, place the order").await;
    let number = placed.order.and_then(|o| o.order_number).expect("placed");
    let row = db.store.orders().find_by_number(tenant.id, &number).await.expect("read").expect("stored");
    let customer = db.store.customers().find_by_external_id(tenant.id, "CUST-1002").await.expect("read").expect("customer");
    assert_eq!(row.customer_id, customer.id);

    // Declining drops a draft.
    let draft = say(&first_instance, &tenant, None, Some("CUST-1002"), "I'd like to order 2 cases of oat milk").await;
    let dropped = say(&first_instance, &tenant, Some(&draft.session_id), None, "never mind").await;
    assert!(dropped.reply.contains("nothing was ordered"), "{}", dropped.reply);
    let after = say(&first_instance, &tenant, Some(&draft.session_id), None, "Confirm").await;
    assert!(after.order.is_none());
    db.cleanup().await;
}

#[tokio::test]
async fn a_high_value_order_waits_for_a_person() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    // 100 × $84.00 = $8,400.00 > the $5,000.00 threshold.
    let summary = say(&agent, &tenant, None, Some("CUST-1001"), "I'd like to order 100 cases of NW-CUP-16OZ").await;
    assert!(summary.reply.contains("need approval"), "{}", summary.reply);
    let before = stock(&agent, &tenant, "NW-CUP-16OZ").await;
    let reply = say(&agent, &tenant, Some(&summary.session_id), None, "Confirm").await;
    let order = reply.order.expect("order");
    assert_eq!(order.status, OrderStatus::Draft, "stays a draft until approved");
    assert!(reply.handoff, "a person approves it");
    assert!(reply.reply.contains("approve") && reply.reply.contains("Monday to Friday"), "{}", reply.reply);
    let escalations = db.store.orders().escalations(tenant.id).await.expect("escalations");
    assert!(escalations.iter().any(|e| e.reason.starts_with("approval needed")), "{escalations:?}");
    assert!(db.store.orders().outbox(tenant.id).await.expect("outbox").is_empty(), "not invoiced before approval");
    assert_eq!(stock(&agent, &tenant, "NW-CUP-16OZ").await, before, "a draft reserves no stock");
    db.cleanup().await;
}

#[tokio::test]
async fn status_is_only_for_the_customers_own_orders() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let mine = say(&agent, &tenant, None, Some("CUST-1001"), "What is the status of order ORD-10001?").await;
    let order = mine.order.expect("own order");
    assert_eq!(order.order_number.as_deref(), Some("ORD-10001"));
    assert!(mine.reply.contains("invoiced"), "{}", mine.reply);
    // Another customer asking about it: the same answer as a number that does not exist.
    let theirs = say(&agent, &tenant, None, Some("CUST-1002"), "What is the status of order ORD-10001?").await;
    assert!(theirs.order.is_none());
    assert!(theirs.reply.contains("couldn't find order ORD-10001"), "{}", theirs.reply);
    assert!(!theirs.reply.contains("invoiced"), "{}", theirs.reply);
    let cancel_theirs = say(&agent, &tenant, None, Some("CUST-1002"), "please cancel order ORD-10007").await;
    assert!(cancel_theirs.reply.contains("couldn't find"), "{}", cancel_theirs.reply);
    let untouched = db.store.orders().find_by_number(tenant.id, "ORD-10007").await.expect("read").expect("order");
    assert_eq!(untouched.status, "confirmed");
    db.cleanup().await;
}

#[tokio::test]
async fn a_confirmed_order_is_changed_and_cancelled_before_invoicing() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let draft = say(&agent, &tenant, None, Some("CUST-1003"), "I'd like to order 2 cases of NW-CUP-12OZ and 4 cases of NW-MLK-OAT").await;
    let placed = say(&agent, &tenant, Some(&draft.session_id), None, "Confirm").await;
    let number = placed.order.and_then(|o| o.order_number).expect("placed");
    let cups = stock(&agent, &tenant, "NW-CUP-12OZ").await;

    let change =
        say(&agent, &tenant, None, Some("CUST-1003"), &format!("Please change order {number}: make it 5 cases of NW-CUP-12OZ")).await;
    let proposed = change.order.expect("changed summary");
    assert!(proposed.awaiting_confirmation, "{}", change.reply);
    assert_eq!(proposed.lines.iter().find(|l| l.sku == "NW-CUP-12OZ").map(|l| l.quantity), Some(5));
    let applied = say(&agent, &tenant, Some(&change.session_id), None, "Confirm").await;
    let order = applied.order.expect("applied");
    assert_eq!(order.order_number.as_deref(), Some(number.as_str()));
    let price = |sku: &'static str| {
        let store = db.store.clone();
        let tenant = tenant.id;
        async move { store.catalogue().find_by_sku(tenant, sku).await.expect("read").expect("product").unit_price_minor }
    };
    assert_eq!(order.total_minor, 5 * price("NW-CUP-12OZ").await + 4 * price("NW-MLK-OAT").await);
    assert_eq!(stock(&agent, &tenant, "NW-CUP-12OZ").await, cups - 3);

    // Cancelling asks first; a "don't cancel" is not a cancellation.
    let kept = say(&agent, &tenant, None, Some("CUST-1003"), &format!("Please do NOT cancel {number}, I still need it")).await;
    assert!(kept.reply.contains("is confirmed"), "the order's status, nothing else: {}", kept.reply);
    assert_ne!(kept.order.map(|o| o.status), Some(OrderStatus::Cancelled), "{}", kept.reply);
    let ask = say(&agent, &tenant, None, Some("CUST-1003"), &format!("Cancel order {number}")).await;
    assert!(ask.reply.contains("Do you want me to cancel"), "{}", ask.reply);
    assert_eq!(ask.order.expect("shown").status, OrderStatus::Confirmed);
    let no = say(&agent, &tenant, Some(&ask.session_id), None, "no, keep it").await;
    assert!(no.reply.contains("nothing was cancelled"), "{}", no.reply);
    let confirm_after_no = say(&agent, &tenant, Some(&ask.session_id), None, "Confirm").await;
    assert_ne!(confirm_after_no.order.map(|o| o.status), Some(OrderStatus::Cancelled), "{}", confirm_after_no.reply);
    let row = db.store.orders().find_by_number(tenant.id, &number).await.expect("read").expect("order");
    assert_eq!(row.status, "confirmed");
    let ask = say(&agent, &tenant, None, Some("CUST-1003"), &format!("Cancel order {number}")).await;
    let cancel = say(&agent, &tenant, Some(&ask.session_id), None, "yes, cancel it").await;
    assert_eq!(cancel.order.expect("cancelled").status, OrderStatus::Cancelled, "{}", cancel.reply);
    assert!(cancel.reply.contains("Nothing will be charged"), "{}", cancel.reply);
    assert_eq!(stock(&agent, &tenant, "NW-CUP-12OZ").await, cups + 2, "the reservation is released");
    db.cleanup().await;
}

fn quick_worker(store: &tria_store::Store, fake: &FakeXero) -> InvoiceWorker {
    let retry = RetryPolicy {
        max_attempts: 2,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        multiplier: 2.0,
        jitter: 0.0,
    };
    let accounting = Arc::new(fake.client(retry, Duration::from_secs(5)));
    InvoiceWorker::new(store.clone(), accounting, InvoiceWorkerConfig::default())
}

#[tokio::test]
async fn place_confirm_invoice_in_the_xero_fake_then_cancel_voids_the_invoice() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let fake = FakeXero::start(FakeXeroConfig::default()).await.expect("fake Xero");
    let worker = quick_worker(&db.store, &fake);
    let draft = say(&agent, &tenant, None, Some("CUST-1001"), "I'd like to order 3 bags of espresso roast").await;
    let placed = say(&agent, &tenant, Some(&draft.session_id), None, "Confirm").await;
    let number = placed.order.and_then(|o| o.order_number).expect("placed");
    let again = say(&agent, &tenant, Some(&draft.session_id), None, "Confirm").await;
    assert!(again.reply.contains("no order waiting for your confirmation") && again.order.is_none(), "{}", again.reply);

    let pass = worker.run_once().await.expect("pass");
    assert_eq!(pass.invoiced, 1, "{pass:?}");
    let invoices = fake.invoices();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["Reference"], number.as_str());
    let invoice_number = invoices[0]["InvoiceNumber"].as_str().expect("invoice number").to_owned();

    let status = say(&agent, &tenant, None, Some("CUST-1001"), &format!("where is my order {number}?")).await;
    assert_eq!(status.order.expect("status").status, OrderStatus::Invoiced);
    assert!(status.reply.contains(&invoice_number), "{}", status.reply);

    // After invoicing, cancelling voids the invoice through the outbox.
    let ask = say(&agent, &tenant, None, Some("CUST-1001"), &format!("please cancel order {number}")).await;
    assert!(ask.reply.contains(&format!("Its invoice {invoice_number} will be voided")), "{}", ask.reply);
    let cancel = say(&agent, &tenant, Some(&ask.session_id), None, "Confirm").await;
    assert!(cancel.reply.contains("will be voided"), "{}", cancel.reply);
    let outbox = db.store.orders().outbox(tenant.id).await.expect("outbox");
    assert_eq!(outbox.iter().filter(|j| j.kind == VOID_OUTBOX_KIND).count(), 1);
    let pass = worker.run_once().await.expect("pass");
    assert_eq!(pass.voided, 1, "{pass:?}");
    assert_eq!(fake.invoices()[0]["Status"], "VOIDED");
    let status = say(&agent, &tenant, None, Some("CUST-1001"), &format!("status of {number}?")).await;
    assert!(status.reply.contains("cancelled") && status.reply.contains("has been voided"), "{}", status.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn an_invoiced_order_is_not_cancelled_when_the_tenant_does_not_allow_it() {
    let (db, mut tenant) = seeded().await;
    tenant.settings["cancel_invoiced_orders"] = serde_json::json!(false);
    let agent = Agent::builder(db.store.clone()).build();
    let reply = say(&agent, &tenant, None, Some("CUST-1001"), "cancel order ORD-10001").await;
    assert!(reply.reply.contains("can no longer be cancelled"), "{}", reply.reply);
    let row = db.store.orders().find_by_number(tenant.id, "ORD-10001").await.expect("read").expect("order");
    assert_eq!(row.status, "invoiced");
    db.cleanup().await;
}

#[tokio::test]
async fn a_choice_among_candidates_is_taken_after_the_customer_number() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    // As the web widget does it: a policy question first, then the order in the same session.
    let opening = say(&agent, &tenant, None, None, "What is the restocking fee on returns?").await;
    let session = opening.session_id.clone();
    let ask = say(&agent, &tenant, Some(&session), None, "Please order 2 cases of Hot Cup 12 oz").await;
    assert!(ask.reply.contains("customer number"), "{}", ask.reply);
    let list = say(&agent, &tenant, Some(&session), None, "CUST-1001 maya@bluekettlecafe.example").await;
    assert!(list.reply.contains("NW-CUP-12OZ-CMP") && list.reply.contains("Reply with the number"), "{}", list.reply);
    let summary = say(&agent, &tenant, Some(&session), None, "3").await;
    let order = summary.order.expect("a summary after the choice");
    assert_eq!(order.lines[0].sku, "NW-CUP-12OZ", "{}", summary.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn a_draft_is_revised_before_confirmation_not_added_to() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let lines = |reply: &ChatReply| -> Vec<(String, i64)> {
        reply.order.as_ref().expect("a summary").lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect()
    };

    let first = say(&agent, &tenant, None, Some("CUST-1003"), "I want to order 4 cases of hazelnut syrup").await;
    let session = first.session_id.clone();
    assert_eq!(lines(&first), [("NW-SYR-HAZ".to_owned(), 4)]);

    // A bare quantity on a one-line draft replaces that line's quantity.
    let revised = say(&agent, &tenant, Some(&session), None, "Actually make it 6 cases").await;
    assert_eq!(lines(&revised), [("NW-SYR-HAZ".to_owned(), 6)], "{}", revised.reply);
    assert!(revised.order.as_ref().is_some_and(|o| o.awaiting_confirmation), "{}", revised.reply);

    // With two lines a bare quantity is ambiguous: asked, nothing changed.
    let both = say(&agent, &tenant, Some(&session), None, "add 2 packs of syrup pumps").await;
    assert_eq!(lines(&both).len(), 2, "{}", both.reply);
    let which = say(&agent, &tenant, Some(&session), None, "make it 3").await;
    assert!(which.reply.contains("Which item should be 3") && which.order.is_none(), "{}", which.reply);
    // A named product is set, not added to; a removal drops its line.
    let named = say(&agent, &tenant, Some(&session), None, "change the hazelnut syrup to 2 cases").await;
    assert!(lines(&named).contains(&("NW-SYR-HAZ".to_owned(), 2)), "{}", named.reply);
    let removed = say(&agent, &tenant, Some(&session), None, "remove the syrup pumps").await;
    assert_eq!(lines(&removed), [("NW-SYR-HAZ".to_owned(), 2)], "{}", removed.reply);

    let placed = say(&agent, &tenant, Some(&session), None, "Confirm").await;
    let order = placed.order.expect("placed");
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(order.lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect::<Vec<_>>(), [("NW-SYR-HAZ", 2)]);
    db.cleanup().await;
}

#[tokio::test]
async fn an_order_question_asked_before_the_customer_is_known_is_answered_once_they_are() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let ask = say(&agent, &tenant, None, None, "Where is my order ORD-10001?").await;
    assert!(ask.reply.contains("customer number") && !ask.reply.contains("CUST-1"), "no real customer as an example: {}", ask.reply);
    let session = ask.session_id.clone();
    let email = say(&agent, &tenant, Some(&session), None, "CUST-1001").await;
    assert!(email.order.is_none() && email.reply.contains("email address"), "{}", email.reply);
    let answered = say(&agent, &tenant, Some(&session), None, "it's maya@bluekettlecafe.example").await;
    assert!(answered.reply.contains("ORD-10001"), "the pending question is answered: {}", answered.reply);
    assert!(answered.order.is_some(), "{}", answered.reply);
    // The conversation is the customer's from now on: no more asking.
    let again = say(&agent, &tenant, Some(&session), None, "what is the status of ORD-10001?").await;
    assert!(again.order.is_some() && !again.reply.contains("customer number"), "{}", again.reply);
    let customer = db.store.customers().find_by_external_id(tenant.id, "CUST-1001").await.expect("read").expect("customer");
    let row = db.store.conversations().get(tenant.id, tria_core::ConversationId(session.parse().expect("uuid"))).await.expect("read");
    assert_eq!(row.expect("conversation").customer_id, Some(customer.id));
    db.cleanup().await;
}

#[tokio::test]
async fn a_negative_quantity_is_refused_not_ordered_as_positive() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let reply = say(&agent, &tenant, None, Some("CUST-1001"), "order -5 cases of NW-CUP-12OZ").await;
    assert!(reply.reply.contains("at least 1"), "{}", reply.reply);
    assert!(reply.order.as_ref().is_none_or(|o| o.lines.is_empty()), "{:?}", reply.order);
    let confirm = say(&agent, &tenant, Some(&reply.session_id), None, "Confirm").await;
    assert!(confirm.order.and_then(|o| o.order_number).is_none(), "nothing placed: {}", confirm.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn a_change_that_takes_an_order_over_the_approval_threshold_waits_for_a_person() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let draft = say(&agent, &tenant, None, Some("CUST-1011"), "I'd like to order 2 cases of NW-CUP-16OZ").await;
    let placed = say(&agent, &tenant, Some(&draft.session_id), None, "Confirm").await;
    let number = placed.order.and_then(|o| o.order_number).expect("placed");
    let before = db.store.orders().find_by_number(tenant.id, &number).await.expect("read").expect("order");
    // 2 × $84 + 80 × $84 = $6,888 > the $5,000 threshold.
    let summary = say(&agent, &tenant, None, Some("CUST-1011"), &format!("change {number}: add 80 cases of NW-CUP-16OZ")).await;
    assert!(summary.order.as_ref().is_some_and(|o| o.awaiting_confirmation), "{}", summary.reply);
    let reply = say(&agent, &tenant, Some(&summary.session_id), None, "Confirm").await;
    assert!(reply.handoff && reply.reply.contains("approve the change"), "{}", reply.reply);
    let after = db.store.orders().find_by_number(tenant.id, &number).await.expect("read").expect("order");
    assert_eq!((after.total_minor, after.status.as_str()), (before.total_minor, "confirmed"), "unchanged until approved");
    let escalations = db.store.orders().escalations(tenant.id).await.expect("escalations");
    assert!(escalations.iter().any(|e| e.order_id == before.id && e.reason.starts_with("approval needed")), "{escalations:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn messages_sent_at_once_on_one_session_are_answered_in_turn_and_none_is_lost() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let draft = say(&agent, &tenant, None, Some("CUST-1001"), "I'd like to order 1 case of NW-MLK-OAT").await;
    let session = draft.session_id.clone();
    let add = || say(&agent, &tenant, Some(&session), None, "add 2 cases of NW-MLK-OAT");
    tokio::join!(add(), add(), add(), add(), add());
    let state = db.store.drafts().get(tenant.id, tria_core::ConversationId(session.parse().expect("uuid"))).await.expect("read");
    let lines = state.expect("the draft").lines;
    assert_eq!(lines, serde_json::json!([{"sku": "NW-MLK-OAT", "quantity": 11}]), "every addition counted");
    let history = agent.history(&tenant, &session).await.expect("history");
    let roles: Vec<&str> = history.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant"].repeat(6), "question, answer, question, answer…");
    db.cleanup().await;
}

#[tokio::test]
async fn a_session_of_one_customer_refuses_a_request_naming_another() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let maya = say(&agent, &tenant, None, Some("CUST-1001"), "What is the status of order ORD-10001?").await;
    assert!(maya.order.is_some(), "{}", maya.reply);
    let mut request = ChatRequest::new("Show me my orders");
    request.session_id = Some(maya.session_id.clone());
    request.customer_id = Some("CUST-1003".into());
    let err = agent.chat(&tenant, request).await.expect_err("another customer on Maya's session");
    assert!(err.to_string().contains("belongs to another customer"), "{err}");
    // The same customer, or none named, continues as before.
    let again = say(&agent, &tenant, Some(&maya.session_id), Some("CUST-1001"), "and ORD-10001?").await;
    assert!(again.reply.contains("ORD-10001"), "{}", again.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn asking_about_my_order_while_one_is_being_put_together_shows_that_one() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let draft = say(&agent, &tenant, None, Some("CUST-1002"), "I'd like to order 2 cases of NW-MLK-OAT").await;
    let reply = say(&agent, &tenant, Some(&draft.session_id), None, "what is the status of my order?").await;
    assert!(!reply.reply.contains("don't see any orders"), "{}", reply.reply);
    let order = reply.order.unwrap_or_else(|| panic!("the draft summary: {}", reply.reply));
    assert_eq!((order.lines[0].sku.as_str(), order.order_number.is_none()), ("NW-MLK-OAT", true), "{}", reply.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn a_product_not_found_is_not_echoed_back_verbatim() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let link = "[claim your refund](https://evil.example/login)";
    let markup = "<img src=x onerror=alert(1)>";
    let bidi = "\u{202E}fdp.exe\u{202C}";
    let long = "with extra heavy duty reinforced sidewalls and a deep tread for muddy fields ".repeat(8);
    let message = format!("I want to order 4 tractor tyres {link} {markup} {bidi} {long}");
    let reply = say(&agent, &tenant, None, Some("CUST-1001"), &message).await;
    assert!(reply.reply.contains("couldn't find"), "{}", reply.reply);
    for hostile in [link, markup, bidi, long.trim(), "https://evil.example", "<img", "\u{202E}", "](", "muddy fields"] {
        assert!(!reply.reply.contains(hostile), "{hostile:?} echoed in: {}", reply.reply);
    }
    let quoted = reply.reply.split('"').nth(1).expect("a short quote");
    assert!(quoted.chars().count() <= 41, "at most 40 characters and an ellipsis: {quoted:?}");
    assert!(quoted.starts_with("tractor tyres"), "{quoted:?}");
    db.cleanup().await;
}
