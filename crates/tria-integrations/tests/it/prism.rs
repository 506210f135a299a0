//! The client against Stoplight Prism's mock of the official spec, when one is running:
//! `npx --yes @stoplight/prism-cli mock -h 127.0.0.1 -p 4010 ../shared/xero/xero_accounting.yaml`
//! and `TRIA_TEST_XERO_PRISM_URL=http://127.0.0.1:4010`. Prism checks required parameters and
//! headers (`xero-tenant-id`: 422 without it) and answers with the spec's examples; bodies are checked only
//! loosely, which is why `contract.rs` exists. Without the variable the test does nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tria_integrations::accounting::{Accounting, Customer, InvoiceDraft, InvoiceLine};
use tria_integrations::resilience::RetryPolicy;
use tria_integrations::xero::{StaticToken, XeroClient, XeroConfig};

#[tokio::test]
async fn the_client_is_accepted_by_prisms_mock_of_the_spec() {
    let Some(url) = std::env::var("TRIA_TEST_XERO_PRISM_URL").ok().filter(|u| !u.is_empty()) else {
        return;
    };
    let mut config = XeroConfig::new(url.clone(), "YOUR_XERO_TENANT_ID");
    config.retry = RetryPolicy::never();
    config.timeout = Duration::from_secs(60); // Prism is slow to render the large examples
    config.sales_account_code = Some("200".into());
    let xero = XeroClient::new(reqwest::Client::new(), config, Arc::new(StaticToken("prism-token".into())));
    let customer = Customer { name: "Ada".into(), email: "ada@example.com".into(), company: String::new() };
    let contact = xero.ensure_contact(&customer, "prism-contact").await.expect("contact accepted");
    let date = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let draft = InvoiceDraft {
        contact_id: contact.contact_id,
        reference: "ORD-1".into(),
        currency: "USD".into(),
        date,
        due_date: date,
        lines: vec![InvoiceLine { description: "CUP".into(), quantity: 1, unit_amount_minor: 100 }],
        account_code: None,
    };
    let invoice = xero.create_invoice(&draft, "prism-invoice").await.expect("invoice accepted");
    assert!(!invoice.invoice_id.is_empty());

    // The mock does enforce the required tenant header: without it, a 4xx (Prism 5 says 422).
    let bare = reqwest::Client::new().get(format!("{url}/Contacts")).bearer_auth("prism-token").send().await.expect("request");
    assert!(matches!(bare.status().as_u16(), 400 | 422), "{}", bare.status());
}
