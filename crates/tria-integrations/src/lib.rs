//! Clients for external systems (accounting, ticketing, chat notifications) behind small
//! traits. Every integration reports its state for `/health` without ever failing the check.
//!
//! - [`resilience`]: a generic circuit breaker and retry with backoff, layered around clients.
//! - [`accounting`]: the [`Accounting`](accounting::Accounting) seam and its breaker layer.
//! - [`xero`]: the Xero client (and, with feature `fake`, a loopback fake of Xero).
//! - [`invoicing`]: the outbox worker that turns confirmed orders into exactly one invoice each.
//! - [`tenant_invoicing`]: a tenant's `settings.invoicing` (account code, emailing, terms).
//! - [`slack`]: Slack request signatures and webhook notices for human handoff.
//! - [`ticketing`]: the helpdesk seam and a Gorgias client (and, with `fake`, a Gorgias fake).

pub mod accounting;
pub mod clock;
pub mod invoicing;
pub mod resilience;
pub mod slack;
pub mod tenant_invoicing;
pub mod ticketing;
pub mod xero;

use serde::Serialize;

/// How an integration is doing right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationState {
    /// Configured and answering.
    Ok,
    /// Configured, but calls are being held back (e.g. its circuit breaker is open).
    Degraded,
    /// Configured and not answering.
    Down,
}

/// One integration's entry in `/health` and `/admin/integrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntegrationStatus {
    pub name: String,
    pub state: IntegrationState,
    pub detail: String,
}

/// Anything the health endpoint can ask about its state. Implementations must answer from
/// local state (a breaker's position, the last call's outcome) and never block or fail.
pub trait IntegrationProbe: Send + Sync {
    fn status(&self) -> IntegrationStatus;

    /// Every entry this probe reports: one by default; a probe over many tenants' connections
    /// adds one per tenant that needs attention.
    fn statuses(&self) -> Vec<IntegrationStatus> {
        vec![self.status()]
    }
}
