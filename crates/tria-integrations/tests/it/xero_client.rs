use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tria_integrations::accounting::{Accounting, AccountingError, Customer, Guarded, InvoiceDraft, InvoiceLine};
use tria_integrations::resilience::{BreakerConfig, BreakerState, CircuitBreaker, RetryPolicy};
use tria_integrations::xero::fake::Fault;
use tria_integrations::{IntegrationProbe, IntegrationState};

use crate::support::{client, fake, quick_retry};

fn customer() -> Customer {
    Customer { name: "Ada Lovelace".into(), email: "ada@example.com".into(), company: "Analytical Ltd".into() }
}

fn draft(contact_id: &str, reference: &str) -> InvoiceDraft {
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    InvoiceDraft {
        contact_id: contact_id.into(),
        reference: reference.into(),
        currency: "USD".into(),
        date,
        due_date: date + chrono::Days::new(30),
        lines: vec![
            InvoiceLine { description: "CUP-16 — 16oz cups".into(), quantity: 12, unit_amount_minor: 2_450 },
            InvoiceLine { description: "BEAN-HB — House blend".into(), quantity: 3, unit_amount_minor: 1_899 },
        ],
        account_code: None,
    }
}

#[tokio::test]
async fn creates_a_contact_once_and_an_invoice_with_the_order_lines() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(3), Duration::from_secs(5));
    let contact = xero.ensure_contact(&customer(), "contact-1").await.expect("contact");
    let again = xero.ensure_contact(&customer(), "contact-1b").await.expect("found by email");
    assert_eq!(contact, again, "the second call finds the contact instead of creating one");
    assert_eq!(fake.contacts().len(), 1);
    assert_eq!(fake.contacts()[0]["Name"], "Analytical Ltd (Ada Lovelace)");

    let invoice = xero.create_invoice(&draft(&contact.contact_id, "ORD-1"), "invoice-1").await.expect("invoice");
    assert_eq!(invoice.invoice_number, "INV-0001");
    let stored = &fake.invoices()[0];
    assert_eq!(stored["Type"], "ACCREC");
    assert_eq!(stored["Status"], "AUTHORISED");
    assert_eq!(stored["Reference"], "ORD-1");
    assert_eq!(stored["Total"], 12.0 * 24.5 + 3.0 * 18.99);
    assert_eq!(stored["LineItems"][0]["AccountCode"], "200");

    let writes: Vec<_> = fake.exchanges().into_iter().filter(|e| e.method == "PUT").collect();
    assert!(writes.iter().all(|e| e.idempotency_key.is_some()), "every write carries an Idempotency-Key");
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_invoice() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(3), Duration::from_secs(5));
    let contact = xero.ensure_contact(&customer(), "c").await.expect("contact");
    let first = xero.create_invoice(&draft(&contact.contact_id, "ORD-7"), "invoice-7").await.expect("first");
    let second = xero.create_invoice(&draft(&contact.contact_id, "ORD-7"), "invoice-7").await.expect("replay");
    assert_eq!(first, second);
    assert_eq!(fake.invoices().len(), 1);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_success() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(4), Duration::from_secs(5));
    let contact = xero.ensure_contact(&customer(), "c").await.expect("contact");
    fake.push_faults([Fault::RateLimited { retry_after_secs: 0 }, Fault::Status(503), Fault::Status(500)]);
    let invoice = xero.create_invoice(&draft(&contact.contact_id, "ORD-2"), "invoice-2").await.expect("fourth try works");
    assert_eq!(fake.invoices().len(), 1);
    assert_eq!(fake.invoices()[0]["InvoiceID"], invoice.invoice_id.as_str());
    assert_eq!(fake.faults_injected(), 3);
}

#[tokio::test]
async fn a_lost_answer_after_commit_is_recovered_by_the_idempotency_key() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(3), Duration::from_secs(5));
    let contact = xero.ensure_contact(&customer(), "c").await.expect("contact");
    fake.push_faults([Fault::CommitThenFail, Fault::CommitThenReset]);
    let invoice = xero.create_invoice(&draft(&contact.contact_id, "ORD-3"), "invoice-3").await.expect("recovered");
    assert_eq!(fake.invoices().len(), 1, "the fake committed twice-faulted requests once");
    assert_eq!(fake.invoices()[0]["InvoiceID"], invoice.invoice_id.as_str());
}

#[tokio::test]
async fn a_429_longer_than_the_retry_cap_is_returned_with_its_retry_after() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(3), Duration::from_secs(5));
    fake.push_faults([Fault::RateLimited { retry_after_secs: 42 }]);
    let err = xero.ensure_contact(&customer(), "c").await.expect_err("rate limited");
    assert!(matches!(err, AccountingError::RateLimited { retry_after } if retry_after == Duration::from_secs(42)), "{err:?}");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_repeated() {
    let fake = fake().await;
    let xero = client(&fake, RetryPolicy::never(), Duration::from_secs(5));
    xero.ensure_contact(&customer(), "c").await.expect("first token");
    assert_eq!(fake.tokens_issued(), 1, "the token is cached between calls");
    xero.ensure_contact(&customer(), "c").await.expect("cached token");
    assert_eq!(fake.tokens_issued(), 1);
    fake.expire_tokens();
    xero.ensure_contact(&customer(), "c").await.expect("refreshed after 401");
    assert_eq!(fake.tokens_issued(), 2);
}

#[tokio::test]
async fn validation_errors_are_permanent_and_keep_xeros_message() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(3), Duration::from_secs(5));
    let err = xero.create_invoice(&draft("4a1b0000-0000-0000-0000-000000000000", "ORD-4"), "k").await.expect_err("unknown contact");
    assert!(err.is_permanent());
    match err {
        AccountingError::Rejected { status, message, details } => {
            assert_eq!(status, 400);
            assert_eq!(message, "The Contact with ContactID '4a1b0000-0000-0000-0000-000000000000' could not be found.");
            assert_eq!(details.len(), 1);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(fake.exchanges().iter().filter(|e| e.method == "PUT").count(), 1, "no retry of a 400");
}

#[tokio::test]
async fn timeouts_open_the_breaker_and_then_calls_fail_fast() {
    let fake = fake().await;
    let xero = client(&fake, RetryPolicy::never(), Duration::from_millis(100));
    let breaker = Arc::new(CircuitBreaker::new(
        "xero",
        BreakerConfig { consecutive_failures: 2, cool_down: Duration::from_secs(60), ..BreakerConfig::default() },
    ));
    let guarded = Guarded::new(Arc::new(xero), breaker.clone());
    fake.push_faults([Fault::Slow(Duration::from_secs(2)), Fault::Slow(Duration::from_secs(2))]);
    for _ in 0..2 {
        let err = guarded.ensure_contact(&customer(), "c").await.expect_err("times out");
        assert!(matches!(err, AccountingError::Timeout), "{err:?}");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(breaker.status().state, IntegrationState::Degraded);
    let requests_before = fake.faults_injected();
    let err = guarded.ensure_contact(&customer(), "c").await.expect_err("fails fast");
    assert!(matches!(err, AccountingError::CircuitOpen(_)), "{err:?}");
    assert_eq!(fake.faults_injected(), requests_before);
    assert_eq!(breaker.snapshot().rejected_total, 1);
}

fn draft_in(contact_id: &str, reference: &str, currency: &str, unit_amount_minor: i64) -> InvoiceDraft {
    InvoiceDraft {
        currency: currency.into(),
        lines: vec![InvoiceLine { description: "CUP-16 — 16oz cups".into(), quantity: 3, unit_amount_minor }],
        ..draft(contact_id, reference)
    }
}

#[tokio::test]
async fn invoice_lines_carry_the_currencys_own_decimals_and_the_drafts_account_code() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(1), Duration::from_secs(5));
    let contact = xero.ensure_contact(&customer(), "c").await.expect("contact");

    // JPY has no minor unit: 1200 is 1200 yen, sent as a whole number (not 12.00).
    xero.create_invoice(&draft_in(&contact.contact_id, "ORD-JPY", "JPY", 1_200), "jpy").await.expect("JPY invoice");
    // KWD has three decimals: 1234 fils is 1.234 dinars, kept by asking for four unit decimals.
    let mut kwd = draft_in(&contact.contact_id, "ORD-KWD", "KWD", 1_234);
    kwd.account_code = Some("4100".into());
    xero.create_invoice(&kwd, "kwd").await.expect("KWD invoice");

    let invoices = fake.invoices();
    let jpy_line = &invoices[0]["LineItems"][0];
    assert_eq!(invoices[0]["CurrencyCode"], "JPY");
    assert_eq!(jpy_line["UnitAmount"].as_f64(), Some(1200.0));
    assert_eq!(jpy_line["AccountCode"], "200", "no account code on the draft: the connection's");
    let kwd_line = &invoices[1]["LineItems"][0];
    assert_eq!(kwd_line["UnitAmount"].as_f64(), Some(1.234));
    assert_eq!(kwd_line["AccountCode"], "4100", "the draft's account code wins");
    assert_eq!(invoices[1]["Status"], "AUTHORISED");
    let puts: Vec<_> = fake.exchanges().into_iter().filter(|e| e.method == "PUT" && e.path.ends_with("/Invoices")).collect();
    assert_eq!(puts[0].request.as_ref().map(|r| r["Invoices"][0]["LineItems"][0]["UnitAmount"].to_string()), Some("1200.0".into()));
    assert_eq!(puts[1].request.as_ref().map(|r| r["Invoices"][0]["LineItems"][0]["UnitAmount"].to_string()), Some("1.234".into()));
}

#[tokio::test]
async fn an_invoice_is_emailed_once_per_key_and_only_when_xero_can_send_it() {
    let fake = fake().await;
    let xero = client(&fake, quick_retry(3), Duration::from_secs(5));
    let contact = xero.ensure_contact(&customer(), "c").await.expect("contact");
    let invoice = xero.create_invoice(&draft(&contact.contact_id, "ORD-9"), "invoice-9").await.expect("invoice");

    // The answer of the first try is lost after the email went out: the retry, with the same
    // key, gets the first answer back and sends nothing more.
    fake.push_faults([Fault::CommitThenFail]);
    xero.email_invoice(&invoice.invoice_id, "email-9").await.expect("emailed");
    xero.email_invoice(&invoice.invoice_id, "email-9").await.expect("replayed");
    assert_eq!(fake.emailed_invoices(), std::slice::from_ref(&invoice.invoice_id), "one email");

    let err = xero.email_invoice("4a1b0000-0000-0000-0000-000000000000", "email-x").await.expect_err("unknown invoice");
    assert!(matches!(err, AccountingError::Rejected { status: 404, .. }), "{err:?}");

    xero.void_invoice(&invoice.invoice_id, "void-9").await.expect("void");
    let err = xero.email_invoice(&invoice.invoice_id, "email-9b").await.expect_err("a voided invoice is not sent");
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.to_string().contains("VOIDED cannot be emailed"), "{err}");

    // A contact without an address cannot be emailed either.
    let silent = Customer { name: "No Mail".into(), email: String::new(), company: String::new() };
    let contact = xero.ensure_contact(&silent, "c2").await.expect("contact");
    let invoice = xero.create_invoice(&draft(&contact.contact_id, "ORD-10"), "invoice-10").await.expect("invoice");
    let err = xero.email_invoice(&invoice.invoice_id, "email-10").await.expect_err("no address");
    assert!(err.to_string().contains("no email address"), "{err}");
    assert_eq!(fake.emailed_invoices().len(), 1);
}
