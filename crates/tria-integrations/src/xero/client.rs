//! The Xero Accounting API client: finds or creates contacts and creates ACCREC invoices, with
//! the `xero-tenant-id` header, a bearer token that is refreshed once on 401, an
//! `Idempotency-Key` on every write, and retries with backoff for 429 (`Retry-After`), 5xx and
//! timeouts. 400 validation errors are permanent and keep Xero's messages.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::token::TokenSource;
use super::wire;
use crate::accounting::{Accounting, AccountingError, ContactRef, Customer, InvoiceDraft, InvoiceRef};
use crate::resilience::{RetryPolicy, retry};

/// Client settings.
#[derive(Clone, Debug)]
pub struct XeroConfig {
    /// `https://api.xero.com/api.xro/2.0` in production.
    pub base_url: String,
    /// The organisation (`xero-tenant-id`), from the Identity API's `GET /connections`.
    pub xero_tenant_id: String,
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// Retries inside one call (short); long waits are the outbox's job.
    pub retry: RetryPolicy,
    /// Sales account for invoice lines when the draft names none (a tenant's
    /// `invoicing.account_code` overrides it). With an account code invoices are created
    /// `AUTHORISED`, without one as `DRAFT` (Xero requires an account code to approve an invoice).
    pub sales_account_code: Option<String>,
    /// How long to wait when a 429 carries no `Retry-After`.
    pub default_retry_after: Duration,
}

impl XeroConfig {
    pub fn new(base_url: impl Into<String>, xero_tenant_id: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            xero_tenant_id: xero_tenant_id.into(),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            sales_account_code: None,
            default_retry_after: Duration::from_secs(60),
        }
    }
}

/// A Xero Accounting API client. Cheap to share behind an `Arc`.
pub struct XeroClient {
    http: reqwest::Client,
    config: XeroConfig,
    tokens: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for XeroClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroClient").field("config", &self.config).finish_non_exhaustive()
    }
}

pub(crate) fn transport_error(err: reqwest::Error) -> AccountingError {
    if err.is_timeout() { AccountingError::Timeout } else { AccountingError::Transport(err.to_string()) }
}

/// Minor units of `currency` to the decimal amount Xero expects, with the currency's own
/// decimals (JPY whole yen, KWD three decimals).
fn amount(minor: i64, currency: &str) -> f64 {
    // Exact for every amount below 2^53 minor units; the nearest double prints as the decimal.
    tria_core::currency::major_units(minor, currency)
}

/// Xero keeps unit amounts to two decimals unless asked for four (`unitdp=4`): a currency with
/// three decimals (KWD, BHD) needs it, or its fils would be rounded away.
fn unit_decimal_places(currency: &str) -> Option<&'static str> {
    (tria_core::currency::minor_unit_exponent(currency) > 2).then_some("4")
}

impl XeroClient {
    pub fn new(http: reqwest::Client, config: XeroConfig, tokens: Arc<dyn TokenSource>) -> Self {
        Self { http, config, tokens }
    }

    /// One request with retries. `query` is appended as given (already encoded pairs).
    async fn call<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<R, AccountingError> {
        retry(&self.config.retry, |_| self.call_once(method.clone(), path, query, body, idempotency_key)).await
    }

    async fn call_once<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<R, AccountingError> {
        let mut token = self.tokens.token().await?;
        let mut refreshed = false;
        loop {
            let url = format!("{}/{path}", self.config.base_url.trim_end_matches('/'));
            let mut request = self
                .http
                .request(method.clone(), url)
                .timeout(self.config.timeout)
                .bearer_auth(&token)
                .header("xero-tenant-id", &self.config.xero_tenant_id)
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // The token expired or was revoked early: one refresh, then the same request again.
                refreshed = true;
                token = self.tokens.refresh(&token).await?;
                continue;
            }
            if status.is_success() {
                let bytes = response.bytes().await.map_err(transport_error)?;
                // 204 No Content (emailing an invoice) reads as `null`, i.e. `()`.
                let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
                return serde_json::from_slice(bytes).map_err(|e| AccountingError::Protocol(e.to_string()));
            }
            return Err(self.error_for(status, response).await);
        }
    }

    async fn error_for(&self, status: StatusCode, response: reqwest::Response) -> AccountingError {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                AccountingError::RateLimited { retry_after: retry_after.unwrap_or(self.config.default_retry_after) }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AccountingError::Unauthorized(truncate(&body)),
            s if s.is_server_error() => AccountingError::Server { status: s.as_u16(), body: truncate(&body) },
            s => {
                let parsed: wire::ApiError = serde_json::from_str(&body).unwrap_or_default();
                let details: Vec<String> =
                    parsed.elements.iter().flat_map(|e| e.validation_errors.iter()).filter_map(|v| v.message.clone()).collect();
                let message = match (details.first(), parsed.message) {
                    (Some(first), _) => first.clone(),
                    (None, Some(message)) => message,
                    (None, None) => truncate(&body),
                };
                AccountingError::Rejected { status: s.as_u16(), message, details }
            }
        }
    }

    /// The first contact whose email is `email`.
    pub async fn find_contact_by_email(&self, email: &str) -> Result<Option<ContactRef>, AccountingError> {
        let filter = format!("EmailAddress==\"{}\"", email.replace('\\', "\\\\").replace('"', "\\\""));
        let found: wire::Contacts = self.call::<(), _>(Method::GET, "Contacts", &[("where", filter.as_str())], None, None).await?;
        Ok(found.contacts.into_iter().find_map(|c| c.contact_id).map(|contact_id| ContactRef { contact_id }))
    }
}

fn truncate(body: &str) -> String {
    body.chars().take(500).collect()
}

#[async_trait]
impl Accounting for XeroClient {
    async fn ensure_contact(&self, customer: &Customer, idempotency_key: &str) -> Result<ContactRef, AccountingError> {
        // No email: nothing to match on (an empty address would match any contact without one).
        let email = Some(customer.email.trim()).filter(|e| !e.is_empty());
        if let Some(email) = email
            && let Some(found) = self.find_contact_by_email(email).await?
        {
            return Ok(found);
        }
        let name = match (customer.company.trim(), customer.name.trim()) {
            ("", name) => name.to_owned(),
            (company, "") => company.to_owned(),
            (company, name) => format!("{company} ({name})"),
        };
        let body = wire::Contacts {
            contacts: vec![wire::Contact { contact_id: None, name: Some(name), email_address: email.map(str::to_owned) }],
        };
        let created: wire::Contacts = self.call(Method::PUT, "Contacts", &[], Some(&body), Some(idempotency_key)).await?;
        created
            .contacts
            .into_iter()
            .find_map(|c| c.contact_id)
            .map(|contact_id| ContactRef { contact_id })
            .ok_or_else(|| AccountingError::Protocol("created contact has no ContactID".into()))
    }

    async fn create_invoice(&self, draft: &InvoiceDraft, idempotency_key: &str) -> Result<InvoiceRef, AccountingError> {
        let account_code =
            draft.account_code.as_deref().or(self.config.sales_account_code.as_deref()).map(str::trim).filter(|c| !c.is_empty());
        let body = wire::Invoices {
            invoices: vec![wire::Invoice {
                kind: Some("ACCREC".into()),
                contact: Some(wire::Contact { contact_id: Some(draft.contact_id.clone()), ..wire::Contact::default() }),
                line_items: draft
                    .lines
                    .iter()
                    .map(|line| wire::LineItem {
                        description: line.description.clone(),
                        quantity: line.quantity as f64,
                        unit_amount: amount(line.unit_amount_minor, &draft.currency),
                        account_code: account_code.map(str::to_owned),
                    })
                    .collect(),
                date: Some(draft.date.format("%Y-%m-%d").to_string()),
                due_date: Some(draft.due_date.format("%Y-%m-%d").to_string()),
                line_amount_types: Some("Exclusive".into()),
                reference: Some(draft.reference.clone()),
                currency_code: Some(draft.currency.clone()),
                status: Some(if account_code.is_some() { "AUTHORISED" } else { "DRAFT" }.into()),
                invoice_id: None,
                invoice_number: None,
            }],
        };
        let query: Vec<(&str, &str)> = unit_decimal_places(&draft.currency).map(|dp| ("unitdp", dp)).into_iter().collect();
        let created: wire::Invoices = self.call(Method::PUT, "Invoices", &query, Some(&body), Some(idempotency_key)).await?;
        let invoice = created.invoices.into_iter().next().ok_or_else(|| AccountingError::Protocol("no invoice in the response".into()))?;
        match (invoice.invoice_id, invoice.invoice_number) {
            (Some(invoice_id), number) => Ok(InvoiceRef { invoice_id, invoice_number: number.unwrap_or_default() }),
            (None, _) => Err(AccountingError::Protocol("created invoice has no InvoiceID".into())),
        }
    }

    async fn find_invoice_by_reference(&self, reference: &str) -> Result<Option<InvoiceRef>, AccountingError> {
        let filter = format!("Reference==\"{}\"", reference.replace('\\', "\\\\").replace('"', "\\\""));
        let found: wire::Invoices = self.call::<(), _>(Method::GET, "Invoices", &[("where", filter.as_str())], None, None).await?;
        Ok(found
            .invoices
            .into_iter()
            .filter(|i| !matches!(i.status.as_deref(), Some("VOIDED" | "DELETED")))
            .find_map(|i| Some(InvoiceRef { invoice_id: i.invoice_id?, invoice_number: i.invoice_number.unwrap_or_default() })))
    }

    async fn void_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        let path = format!("Invoices/{invoice_id}");
        let current: wire::Invoices = self.call::<(), _>(Method::GET, &path, &[], None, None).await?;
        let status = current.invoices.first().and_then(|i| i.status.clone()).unwrap_or_default();
        // Xero voids approved invoices and deletes drafts; either way the amount is no longer owed.
        let target = match status.as_str() {
            "VOIDED" | "DELETED" => return Ok(()),
            "DRAFT" | "SUBMITTED" => "DELETED",
            _ => "VOIDED",
        };
        let body = wire::Invoices {
            invoices: vec![wire::Invoice {
                invoice_id: Some(invoice_id.to_owned()),
                status: Some(target.to_owned()),
                ..wire::Invoice::default()
            }],
        };
        let _: wire::Invoices = self.call(Method::POST, &path, &[], Some(&body), Some(idempotency_key)).await?;
        Ok(())
    }

    /// `POST /Invoices/{InvoiceID}/Email` (`emailInvoice`): Xero sends the invoice to its
    /// contact's address from the organisation's default template; an empty body, 204 on success,
    /// 400 when the invoice cannot be sent (not an approved sales invoice, no contact address).
    async fn email_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        let path = format!("Invoices/{invoice_id}/Email");
        let empty = serde_json::Map::new();
        self.call::<_, ()>(Method::POST, &path, &[], Some(&empty), Some(idempotency_key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::{amount, unit_decimal_places};

    #[test]
    fn amounts_use_the_currencys_decimals() {
        assert_eq!(amount(1050, "USD"), 10.5);
        assert_eq!(amount(1200, "JPY"), 1200.0, "whole yen");
        assert_eq!(amount(1234, "KWD"), 1.234, "three decimals");
        assert_eq!(amount(-1, "BHD"), -0.001);
        assert_eq!(serde_json::json!(amount(1234, "KWD")).to_string(), "1.234");
    }

    #[test]
    fn three_decimal_currencies_ask_xero_for_four_unit_decimals() {
        assert_eq!(unit_decimal_places("KWD"), Some("4"));
        assert_eq!(unit_decimal_places("USD"), None);
        assert_eq!(unit_decimal_places("JPY"), None);
    }
}
