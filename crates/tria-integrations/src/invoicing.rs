//! The invoice worker: drains the `xero.invoice` outbox rows that order placement writes, so each
//! confirmed order gets exactly one invoice.
//!
//! Exactly-once comes from three pieces together: the outbox row is written in the order's own
//! transaction (no order without its job); a job is leased, so one worker at a time holds it and
//! a crashed worker's job comes back when the lease expires; and every call to the accounting
//! system carries an idempotency key derived from the order id, so a retry after a crash, a
//! timeout or a lost answer gets the invoice already created instead of a second one.
//!
//! Outcomes per job: success → order `invoiced` with the invoice id and number; circuit open →
//! the job waits for the breaker without using up an attempt (the order stays `confirmed`);
//! transient failure → retried later with backoff, until `max_attempts`; permanent failure (a
//! validation error) or attempts exhausted → order `failed`, stock released, escalation opened.
//!
//! The same worker drains `xero.void` rows, written when a customer cancels an order: the
//! order's invoice (recorded, or found by its reference in case an invoice call was in flight)
//! is voided with a stable idempotency key; no invoice → nothing to do; giving up → an open
//! escalation for a person to void it by hand.
//!
//! What goes on the invoice is the tenant's (`settings.invoicing`, [`TenantInvoicing`]): its sales
//! account code, its payment terms, the order's currency with that currency's decimals. A tenant
//! with `invoicing.email_invoices` also gets each invoice emailed through the accounting system:
//! completing the invoice queues one `xero.email` job in the same transaction, and this worker
//! drains those too, with a stable idempotency key (a retry never sends a second email). Emailing
//! never touches the order: it stays `invoiced` whatever happens, a transient failure is retried
//! later, and giving up opens an escalation for a person to send the invoice by hand.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tria_core::{CustomerId, OrderStatus, TenantId};
use tria_store::records::{Order, OutboxJob};
use tria_store::repo::{EMAIL_OUTBOX_KIND, INVOICE_OUTBOX_KIND, LeaseOutcome, VOID_OUTBOX_KIND, job_order_id};
use tria_store::{Store, StoreError};

use crate::accounting::{Accounting, AccountingError, Customer, InvoiceDraft, InvoiceLine};
use crate::resilience::{RetryDecision, RetryPolicy, Retryable};
use crate::tenant_invoicing::TenantInvoicing;

/// Worker settings.
#[derive(Clone, Debug)]
pub struct InvoiceWorkerConfig {
    /// How long a leased job is ours; longer than one job's worst case (all client retries).
    pub lease_for: Duration,
    /// Jobs leased per pass.
    pub batch: u32,
    /// Failed attempts (calls that failed transiently) before the order is failed.
    pub max_attempts: u32,
    /// Delay between attempts of one job (its `max_attempts` is ignored: see above).
    pub backoff: RetryPolicy,
    /// Sleep between passes when there was nothing to do.
    pub idle_poll: Duration,
    /// Invoice due date = order date + this many days, unless the tenant sets
    /// `invoicing.payment_terms_days`.
    pub payment_terms_days: u32,
}

impl Default for InvoiceWorkerConfig {
    fn default() -> Self {
        Self {
            lease_for: Duration::from_secs(120),
            batch: 16,
            max_attempts: 8,
            backoff: RetryPolicy {
                max_attempts: u32::MAX,
                initial_delay: Duration::from_secs(5),
                max_delay: Duration::from_secs(600),
                multiplier: 3.0,
                jitter: 0.5,
            },
            idle_poll: Duration::from_secs(2),
            payment_terms_days: 30,
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub leased: u32,
    pub invoiced: u32,
    /// Waiting for the circuit breaker, attempt not counted.
    pub deferred: u32,
    pub retried: u32,
    /// Failed and compensated.
    pub failed: u32,
    /// Cancelled or already invoiced orders, closed without a call.
    pub skipped: u32,
    /// The lease expired before we finished; the job's new holder completes it.
    pub lease_lost: u32,
    /// Invoices of cancelled orders voided.
    pub voided: u32,
    /// Invoices emailed to the customer (tenants with `invoicing.email_invoices`).
    pub emailed: u32,
}

/// An order whose invoicing was given up and compensated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceFailure {
    pub tenant: TenantId,
    pub order_id: uuid::Uuid,
    /// `ORD-…`, when the order still exists.
    pub order_number: Option<String>,
    pub reason: String,
}

/// Told after a failed order was compensated (the `order_escalations` row is already written):
/// the place to notify the customer, open a ticket or post to Slack. Best effort: the escalation
/// row is the durable record, so a hook must not fail the worker.
#[async_trait::async_trait]
pub trait InvoiceFailureHook: Send + Sync {
    async fn invoice_failed(&self, failure: &InvoiceFailure);
}

/// Which accounting connection serves a tenant (each tenant books into its own Xero
/// organisation). `None`: the tenant has none yet; its jobs wait without using up attempts.
pub trait AccountingDirectory: Send + Sync {
    fn for_tenant(&self, tenant: TenantId) -> Option<Arc<dyn Accounting>>;
}

/// One connection for every tenant (a single organisation, the demo, tests).
struct SharedAccounting(Arc<dyn Accounting>);

impl AccountingDirectory for SharedAccounting {
    fn for_tenant(&self, _tenant: TenantId) -> Option<Arc<dyn Accounting>> {
        Some(self.0.clone())
    }
}

/// How long a job waits when its tenant has no accounting connection.
const NO_CONNECTION_RETRY: Duration = Duration::from_secs(600);

/// Drains invoice jobs. Run one per process (or several: leases keep them apart).
pub struct InvoiceWorker {
    store: Store,
    accounting: Arc<dyn AccountingDirectory>,
    config: InvoiceWorkerConfig,
    on_failure: Option<Arc<dyn InvoiceFailureHook>>,
}

impl std::fmt::Debug for InvoiceWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvoiceWorker").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The idempotency key of an order's invoice: stable across retries, workers and restarts.
pub fn invoice_idempotency_key(order_id: uuid::Uuid) -> String {
    format!("tria-invoice-{order_id}")
}

/// The idempotency key of emailing an order's invoice: one email per order, however often the
/// job is retried.
pub fn email_idempotency_key(order_id: uuid::Uuid) -> String {
    format!("tria-email-{order_id}")
}

/// The idempotency key of voiding a cancelled order's invoice.
pub fn void_idempotency_key(order_id: uuid::Uuid) -> String {
    format!("tria-void-{order_id}")
}

fn contact_idempotency_key(customer_id: uuid::Uuid) -> String {
    format!("tria-contact-{customer_id}")
}

enum JobOutcome {
    Invoiced,
    Deferred,
    Retried,
    Failed,
    Skipped,
    LeaseLost,
    Voided,
    Emailed,
}

fn after(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

impl InvoiceWorker {
    /// `accounting` is usually a [`Guarded`](crate::accounting::Guarded) Xero client, so an
    /// outage opens its breaker and jobs wait instead of burning attempts.
    pub fn new(store: Store, accounting: Arc<dyn Accounting>, config: InvoiceWorkerConfig) -> Self {
        Self::per_tenant(store, Arc::new(SharedAccounting(accounting)), config)
    }

    /// A worker that picks each job's accounting connection by its tenant.
    pub fn per_tenant(store: Store, accounting: Arc<dyn AccountingDirectory>, config: InvoiceWorkerConfig) -> Self {
        Self { store, accounting, config, on_failure: None }
    }

    /// Calls `hook` after each order that is failed and compensated.
    pub fn with_failure_hook(mut self, hook: Arc<dyn InvoiceFailureHook>) -> Self {
        self.on_failure = Some(hook);
        self
    }

    /// Leases one batch each of due invoice, void and email jobs and works them one by one.
    pub async fn run_once(&self) -> Result<PassReport, StoreError> {
        let outbox = self.store.outbox();
        let mut jobs = outbox.lease_due(INVOICE_OUTBOX_KIND, self.config.lease_for, self.config.batch, Utc::now()).await?;
        jobs.extend(outbox.lease_due(VOID_OUTBOX_KIND, self.config.lease_for, self.config.batch, Utc::now()).await?);
        jobs.extend(outbox.lease_due(EMAIL_OUTBOX_KIND, self.config.lease_for, self.config.batch, Utc::now()).await?);
        let mut report = PassReport { leased: u32::try_from(jobs.len()).unwrap_or(u32::MAX), ..PassReport::default() };
        for job in &jobs {
            let outcome = match job.kind.as_str() {
                VOID_OUTBOX_KIND => self.work_void(job).await?,
                EMAIL_OUTBOX_KIND => self.work_email(job).await?,
                _ => self.work(job).await?,
            };
            match outcome {
                JobOutcome::Voided => report.voided += 1,
                JobOutcome::Emailed => report.emailed += 1,
                JobOutcome::Invoiced => report.invoiced += 1,
                JobOutcome::Deferred => report.deferred += 1,
                JobOutcome::Retried => report.retried += 1,
                JobOutcome::Failed => report.failed += 1,
                JobOutcome::Skipped => report.skipped += 1,
                JobOutcome::LeaseLost => report.lease_lost += 1,
            }
        }
        Ok(report)
    }

    /// Runs passes until `shutdown` turns true. Store errors are logged and retried after the
    /// idle poll (the database may be restarting); the worker itself never gives up.
    pub async fn run(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let idle = match self.run_once().await {
                Ok(report) => report.leased == 0,
                Err(err) => {
                    tracing::warn!(error = %err, "invoice worker pass failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    async fn work(&self, job: &OutboxJob) -> Result<JobOutcome, StoreError> {
        let outbox = self.store.outbox();
        let tenant = TenantId(job.tenant_id);
        let order_id = match job_order_id(job) {
            Ok(id) => id,
            Err(err) => return self.fail(job, None, &err.to_string()).await,
        };
        let Some(order) = self.store.orders().find(tenant, order_id).await? else {
            return self.fail(job, None, "order not found").await;
        };
        if order.status != OrderStatus::Confirmed.as_str() {
            let note = format!("order is {}; no invoice needed", order.status);
            return Ok(lease_kept(outbox.skip(job, &note).await?, JobOutcome::Skipped));
        }
        let Some(customer) = self.store.customers().get(tenant, CustomerId(order.customer_id)).await? else {
            return self.fail(job, Some(&order), "customer not found").await;
        };
        let Some(accounting) = self.accounting.for_tenant(tenant) else {
            let note = "no accounting connection for this tenant";
            let at = after(Utc::now(), NO_CONNECTION_RETRY);
            return Ok(lease_kept(outbox.defer_with_note(job, at, note).await?, JobOutcome::Deferred));
        };
        let items = self.store.orders().items(tenant, order.id).await?;
        let invoicing = self.tenant_invoicing(tenant).await?;
        // The lines are priced in the order's currency (the catalogue's, which uploads keep to the
        // tenant's); an order written without one is in the tenant's.
        let currency = match order.currency.trim() {
            "" => self.store.tenants().currency(tenant).await?,
            code => code.to_owned(),
        };
        let terms_days = invoicing.payment_terms_days.unwrap_or(self.config.payment_terms_days);
        // A customer first seen in chat has only the tenant's id for them; an accounting
        // contact needs a name, so that id stands in for it.
        let name = match (customer.name.trim(), customer.company.trim()) {
            ("", "") => format!("Customer {}", customer.external_id),
            _ => customer.name,
        };
        let customer = Customer { name, email: customer.email, company: customer.company };
        let result = async {
            let contact = accounting.ensure_contact(&customer, &contact_idempotency_key(order.customer_id)).await?;
            let date = order.created_at.date_naive();
            let draft = InvoiceDraft {
                contact_id: contact.contact_id,
                reference: order.number.clone(),
                currency,
                date,
                due_date: date + chrono::Days::new(u64::from(terms_days)),
                lines: items
                    .iter()
                    .map(|item| InvoiceLine {
                        description: format!("{} — {}", item.sku, item.name),
                        quantity: item.quantity,
                        unit_amount_minor: item.unit_price_minor,
                    })
                    .collect(),
                account_code: invoicing.account_code.clone(),
            };
            accounting.create_invoice(&draft, &invoice_idempotency_key(order.id)).await
        }
        .await;
        let now = Utc::now();
        match result {
            Ok(invoice) => {
                let email = invoicing.email_invoices.then_some(EMAIL_OUTBOX_KIND);
                let outcome = outbox.complete_invoice_then(job, &invoice.invoice_id, &invoice.invoice_number, email).await?;
                tracing::info!(order = %order.number, invoice = %invoice.invoice_number, emailed = email.is_some(), "order invoiced");
                Ok(lease_kept(outcome, JobOutcome::Invoiced))
            }
            Err(AccountingError::CircuitOpen(open)) => {
                Ok(lease_kept(outbox.defer(job, after(now, open.retry_in)).await?, JobOutcome::Deferred))
            }
            // No connection (none, or revoked): wait for a person to connect it; no attempt used.
            Err(AccountingError::NotConnected(why)) => {
                Ok(lease_kept(outbox.defer_with_note(job, after(now, NO_CONNECTION_RETRY), &why).await?, JobOutcome::Deferred))
            }
            // A rejected call created nothing (Xero validates before it writes).
            Err(err) if err.is_permanent() => self.fail(job, Some(&order), &err.to_string()).await,
            Err(err) => {
                let attempts = u32::try_from(job.attempts).unwrap_or(0).saturating_add(1);
                if attempts >= self.config.max_attempts {
                    // An earlier attempt may have created the invoice and lost the answer.
                    let voided = void_leftover_invoice(accounting.as_ref(), &order).await;
                    let reason = format!("gave up after {attempts} attempts: {err}{voided}");
                    return self.fail(job, Some(&order), &reason).await;
                }
                let delay = match err.retry_decision() {
                    RetryDecision::RetryAfter(after) => after,
                    _ => self.config.backoff.delay(attempts),
                };
                tracing::info!(order = %order.number, attempts, error = %err, "invoice attempt failed; retrying later");
                Ok(lease_kept(outbox.retry_later(job, &err.to_string(), after(now, delay)).await?, JobOutcome::Retried))
            }
        }
    }

    /// The tenant's invoicing settings (defaults for a tenant that is gone).
    async fn tenant_invoicing(&self, tenant: TenantId) -> Result<TenantInvoicing, StoreError> {
        Ok(self.store.tenants().get(tenant).await?.map(|t| TenantInvoicing::from_settings(&t.settings)).unwrap_or_default())
    }

    /// Emails an invoiced order's invoice to the customer. The order is never changed here.
    async fn work_email(&self, job: &OutboxJob) -> Result<JobOutcome, StoreError> {
        let outbox = self.store.outbox();
        let tenant = TenantId(job.tenant_id);
        let order = match job_order_id(job) {
            Ok(id) => self.store.orders().find(tenant, id).await?,
            Err(_) => None,
        };
        let Some(order) = order else {
            return Ok(lease_kept(outbox.skip(job, "order not found; nothing to email").await?, JobOutcome::Skipped));
        };
        let (Some(invoice_id), true) = (&order.invoice_id, order.status == OrderStatus::Invoiced.as_str()) else {
            // Cancelled (its invoice is being voided) before the email went out.
            let note = format!("order is {}; invoice not emailed", order.status);
            return Ok(lease_kept(outbox.skip(job, &note).await?, JobOutcome::Skipped));
        };
        if !self.tenant_invoicing(tenant).await?.email_invoices {
            let note = "the tenant turned emailing invoices off; not emailed";
            return Ok(lease_kept(outbox.skip(job, note).await?, JobOutcome::Skipped));
        }
        let Some(accounting) = self.accounting.for_tenant(tenant) else {
            let at = after(Utc::now(), NO_CONNECTION_RETRY);
            return Ok(lease_kept(
                outbox.defer_with_note(job, at, "no accounting connection for this tenant").await?,
                JobOutcome::Deferred,
            ));
        };
        let number = order.invoice_number.clone().unwrap_or_default();
        let now = Utc::now();
        match accounting.email_invoice(invoice_id, &email_idempotency_key(order.id)).await {
            Ok(()) => {
                tracing::info!(order = %order.number, invoice = %number, "invoice emailed");
                Ok(lease_kept(outbox.skip(job, &format!("invoice {number} emailed")).await?, JobOutcome::Emailed))
            }
            Err(AccountingError::CircuitOpen(open)) => {
                Ok(lease_kept(outbox.defer(job, after(now, open.retry_in)).await?, JobOutcome::Deferred))
            }
            // No connection (none, or revoked): wait for a person to connect it; no attempt used.
            Err(AccountingError::NotConnected(why)) => {
                Ok(lease_kept(outbox.defer_with_note(job, after(now, NO_CONNECTION_RETRY), &why).await?, JobOutcome::Deferred))
            }
            Err(err) => {
                let attempts = u32::try_from(job.attempts).unwrap_or(0).saturating_add(1);
                if err.is_permanent() || attempts >= self.config.max_attempts {
                    tracing::warn!(order = %order.number, invoice = %number, error = %err, "emailing the invoice gave up; escalating");
                    return Ok(lease_kept(outbox.fail_email(job, &err.to_string()).await?, JobOutcome::Failed));
                }
                let delay = match err.retry_decision() {
                    RetryDecision::RetryAfter(after) => after,
                    _ => self.config.backoff.delay(attempts),
                };
                tracing::info!(order = %order.number, attempts, error = %err, "emailing the invoice failed; retrying later");
                Ok(lease_kept(outbox.retry_later(job, &err.to_string(), after(now, delay)).await?, JobOutcome::Retried))
            }
        }
    }

    /// Voids the invoice of a cancelled order, if it has one.
    async fn work_void(&self, job: &OutboxJob) -> Result<JobOutcome, StoreError> {
        let outbox = self.store.outbox();
        let tenant = TenantId(job.tenant_id);
        let order = match job_order_id(job) {
            Ok(id) => self.store.orders().find(tenant, id).await?,
            Err(_) => None,
        };
        let Some(order) = order else {
            return Ok(lease_kept(outbox.skip(job, "order not found; nothing to void").await?, JobOutcome::Skipped));
        };
        let Some(accounting) = self.accounting.for_tenant(tenant) else {
            let at = after(Utc::now(), NO_CONNECTION_RETRY);
            return Ok(lease_kept(
                outbox.defer_with_note(job, at, "no accounting connection for this tenant").await?,
                JobOutcome::Deferred,
            ));
        };
        let result = async {
            let invoice = match &order.invoice_id {
                Some(id) => Some((id.clone(), order.invoice_number.clone().unwrap_or_default())),
                None => accounting.find_invoice_by_reference(&order.number).await?.map(|i| (i.invoice_id, i.invoice_number)),
            };
            match invoice {
                Some((id, number)) => accounting.void_invoice(&id, &void_idempotency_key(order.id)).await.map(|()| Some(number)),
                None => Ok(None),
            }
        }
        .await;
        let now = Utc::now();
        match result {
            Ok(Some(number)) => {
                tracing::info!(order = %order.number, invoice = %number, "invoice of a cancelled order voided");
                Ok(lease_kept(outbox.skip(job, &format!("invoice {number} voided")).await?, JobOutcome::Voided))
            }
            Ok(None) => Ok(lease_kept(outbox.skip(job, "no invoice to void").await?, JobOutcome::Skipped)),
            Err(AccountingError::CircuitOpen(open)) => {
                Ok(lease_kept(outbox.defer(job, after(now, open.retry_in)).await?, JobOutcome::Deferred))
            }
            // No connection (none, or revoked): wait for a person to connect it; no attempt used.
            Err(AccountingError::NotConnected(why)) => {
                Ok(lease_kept(outbox.defer_with_note(job, after(now, NO_CONNECTION_RETRY), &why).await?, JobOutcome::Deferred))
            }
            Err(err) => {
                let attempts = u32::try_from(job.attempts).unwrap_or(0).saturating_add(1);
                if err.is_permanent() || attempts >= self.config.max_attempts {
                    tracing::warn!(order = %order.number, error = %err, "voiding gave up; escalating");
                    return Ok(lease_kept(outbox.fail_void(job, &err.to_string()).await?, JobOutcome::Failed));
                }
                let delay = match err.retry_decision() {
                    RetryDecision::RetryAfter(after) => after,
                    _ => self.config.backoff.delay(attempts),
                };
                Ok(lease_kept(outbox.retry_later(job, &err.to_string(), after(now, delay)).await?, JobOutcome::Retried))
            }
        }
    }

    async fn fail(&self, job: &OutboxJob, order: Option<&Order>, reason: &str) -> Result<JobOutcome, StoreError> {
        tracing::warn!(job = %job.id, reason, "invoice failed; compensating");
        let outcome = self.store.outbox().fail_invoice(job, reason).await?;
        if outcome == LeaseOutcome::Applied
            && let Some(hook) = &self.on_failure
        {
            let failure = InvoiceFailure {
                tenant: TenantId(job.tenant_id),
                order_id: job_order_id(job).unwrap_or_default(),
                order_number: order.map(|o| o.number.clone()),
                reason: reason.to_owned(),
            };
            hook.invoice_failed(&failure).await;
        }
        Ok(lease_kept(outcome, JobOutcome::Failed))
    }
}

fn lease_kept(outcome: LeaseOutcome, then: JobOutcome) -> JobOutcome {
    match outcome {
        LeaseOutcome::Applied => then,
        LeaseOutcome::LeaseLost => JobOutcome::LeaseLost,
    }
}

/// Voids an invoice an earlier attempt may have made; returns a note for the failure reason.
async fn void_leftover_invoice(accounting: &dyn Accounting, order: &Order) -> String {
    match accounting.find_invoice_by_reference(&order.number).await {
        Ok(None) => String::new(),
        Ok(Some(invoice)) => match accounting.void_invoice(&invoice.invoice_id, &void_idempotency_key(order.id)).await {
            Ok(()) => format!("; invoice {} voided", invoice.invoice_number),
            Err(err) => format!("; invoice {} exists and could not be voided: {err}", invoice.invoice_number),
        },
        Err(err) => format!("; could not check for an invoice to void: {err}"),
    }
}
