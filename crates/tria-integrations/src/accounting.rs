//! The accounting seam: what the order flow needs from an accounting system (a contact for the
//! customer, an invoice for the order), its typed error, and [`Guarded`], the circuit-breaker
//! layer that wraps any implementation from outside.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::resilience::{BreakerOpen, CircuitBreaker, RetryDecision, Retryable};

/// The customer an invoice is addressed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    pub name: String,
    pub email: String,
    pub company: String,
}

/// The accounting system's id of a contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRef {
    pub contact_id: String,
}

/// One invoice line; amounts in minor units of the invoice currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i64,
    pub unit_amount_minor: i64,
}

/// A sales invoice (ACCREC) to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceDraft {
    pub contact_id: String,
    /// Our order number (`ORD-…`), shown on the invoice and used to find it again.
    pub reference: String,
    /// ISO 4217 code; line amounts are minor units of it, with its own decimals
    /// (`tria_core::currency`: JPY none, KWD three).
    pub currency: String,
    pub date: NaiveDate,
    pub due_date: NaiveDate,
    pub lines: Vec<InvoiceLine>,
    /// The sales account the lines are booked to (the tenant's `invoicing.account_code`);
    /// `None`: the connection's default.
    pub account_code: Option<String>,
}

/// The created invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRef {
    pub invoice_id: String,
    pub invoice_number: String,
}

/// Why an accounting call failed: the request was refused for good ([`Rejected`]), or the system
/// is unavailable for now (everything else).
///
/// [`Rejected`]: AccountingError::Rejected
#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    /// The request is invalid (e.g. Xero's 400 with `ValidationErrors`); retrying cannot help.
    #[error("rejected ({status}): {message}")]
    Rejected { status: u16, message: String, details: Vec<String> },
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    #[error("not authorised: {0}")]
    Unauthorized(String),
    #[error("server error {status}: {body}")]
    Server { status: u16, body: String },
    #[error("timed out")]
    Timeout,
    #[error("transport error: {0}")]
    Transport(String),
    #[error("unexpected response: {0}")]
    Protocol(String),
    #[error(transparent)]
    CircuitOpen(#[from] BreakerOpen),
    /// The tenant has no usable connection (none, or revoked at Xero): its jobs wait for a
    /// person to (re)connect it, without using up attempts.
    #[error("not connected: {0}")]
    NotConnected(String),
}

impl AccountingError {
    /// True when no later try can succeed: the order must be failed and compensated.
    pub fn is_permanent(&self) -> bool {
        matches!(self, AccountingError::Rejected { .. })
    }

    /// Whether this failure says the remote system is unhealthy (counts toward opening the
    /// breaker). A validation error or a rate limit means it is up and answering.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            AccountingError::Server { .. }
                | AccountingError::Timeout
                | AccountingError::Transport(_)
                | AccountingError::Protocol(_)
                | AccountingError::Unauthorized(_)
        )
    }
}

impl Retryable for AccountingError {
    fn retry_decision(&self) -> RetryDecision {
        match self {
            AccountingError::RateLimited { retry_after } => RetryDecision::RetryAfter(*retry_after),
            AccountingError::Server { .. } | AccountingError::Timeout | AccountingError::Transport(_) | AccountingError::Protocol(_) => {
                RetryDecision::Retry
            }
            // Unauthorized: the client already refreshed its token once; rejected: the request
            // is wrong; circuit open: the breaker says when to come back.
            AccountingError::Unauthorized(_)
            | AccountingError::Rejected { .. }
            | AccountingError::CircuitOpen(_)
            | AccountingError::NotConnected(_) => RetryDecision::Stop,
        }
    }
}

/// An accounting system. Every write takes an idempotency key: repeating a call with the same key
/// must not create a second contact or invoice.
#[async_trait]
pub trait Accounting: Send + Sync {
    /// The contact with the customer's email, created when missing.
    async fn ensure_contact(&self, customer: &Customer, idempotency_key: &str) -> Result<ContactRef, AccountingError>;

    /// Creates an ACCREC invoice.
    async fn create_invoice(&self, draft: &InvoiceDraft, idempotency_key: &str) -> Result<InvoiceRef, AccountingError>;

    /// A live (not voided or deleted) invoice whose reference is `reference`, if any. Used by
    /// compensation to find an invoice made by an attempt whose answer was lost.
    async fn find_invoice_by_reference(&self, reference: &str) -> Result<Option<InvoiceRef>, AccountingError> {
        let _ = reference;
        Ok(None)
    }

    /// Voids (or, for a draft, deletes) an invoice; already void is fine.
    async fn void_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        let _ = (invoice_id, idempotency_key);
        Err(AccountingError::Rejected { status: 0, message: "voiding is not supported".into(), details: vec![] })
    }

    /// Has the accounting system email the invoice to its contact. Repeating a call with the same
    /// key must not send a second email.
    async fn email_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        let _ = (invoice_id, idempotency_key);
        Err(AccountingError::Rejected { status: 0, message: "emailing invoices is not supported".into(), details: vec![] })
    }
}

/// Wraps an [`Accounting`] in a circuit breaker: while the breaker is open calls fail fast with
/// [`AccountingError::CircuitOpen`] without touching the remote system.
pub struct Guarded {
    inner: Arc<dyn Accounting>,
    breaker: Arc<CircuitBreaker>,
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").field("breaker", &self.breaker).finish_non_exhaustive()
    }
}

impl Guarded {
    pub fn new(inner: Arc<dyn Accounting>, breaker: Arc<CircuitBreaker>) -> Self {
        Self { inner, breaker }
    }

    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    async fn guard<T>(&self, call: impl std::future::Future<Output = Result<T, AccountingError>>) -> Result<T, AccountingError> {
        let permit = self.breaker.try_acquire()?;
        let result = call.await;
        match &result {
            Ok(_) => permit.success(),
            Err(err) if err.is_outage() => permit.failure(),
            Err(AccountingError::RateLimited { .. }) => drop(permit),
            Err(_) => permit.success(),
        }
        result
    }
}

#[async_trait]
impl Accounting for Guarded {
    async fn ensure_contact(&self, customer: &Customer, idempotency_key: &str) -> Result<ContactRef, AccountingError> {
        self.guard(self.inner.ensure_contact(customer, idempotency_key)).await
    }

    async fn create_invoice(&self, draft: &InvoiceDraft, idempotency_key: &str) -> Result<InvoiceRef, AccountingError> {
        self.guard(self.inner.create_invoice(draft, idempotency_key)).await
    }

    async fn find_invoice_by_reference(&self, reference: &str) -> Result<Option<InvoiceRef>, AccountingError> {
        self.guard(self.inner.find_invoice_by_reference(reference)).await
    }

    async fn void_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        self.guard(self.inner.void_invoice(invoice_id, idempotency_key)).await
    }

    async fn email_invoice(&self, invoice_id: &str, idempotency_key: &str) -> Result<(), AccountingError> {
        self.guard(self.inner.email_invoice(invoice_id, idempotency_key)).await
    }
}
