//! Limits on failed customer verifications, so a customer's number and email cannot be guessed
//! through the public widget: a session, a customer number and a client (the widget's network
//! address, which the agent passes in as `OrderRequest::client`) each get a few failures per window; past that, attempts are
//! refused *without checking*, with a reply that says how to reach a person. Refusals do not
//! depend on whether the number exists, so they say nothing about which numbers do.
//!
//! The counts live in the store (`verification_failures`), so every instance shares them. An
//! attempt writes its failure rows before number and email are compared and takes them back
//! when the pair was right (or the attempt was refused): concurrent guesses see each other, so
//! no more than the limit are ever compared however many arrive at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tria_core::{ConversationId, TenantContext};
use tria_store::repo::{VerificationScope, VerificationSubject};
use uuid::Uuid;

use crate::{OrderAssist, OrderDesk, OrderError};

/// How many failed verifications are allowed before attempts are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerificationLimits {
    /// Failures in one conversation (over [`Self::session_window`]).
    pub per_session: u32,
    /// Failures naming one customer number, across sessions (over [`Self::window`]).
    pub per_customer_number: u32,
    /// Failures from one widget client, across sessions and numbers (over [`Self::window`]).
    pub per_client: u32,
    pub window: Duration,
    /// A conversation's failures count this long (in practice, the conversation's life).
    pub session_window: Duration,
}

impl VerificationLimits {
    pub const DEFAULT_PER_SESSION: u32 = 3;
    pub const DEFAULT_PER_CUSTOMER_NUMBER: u32 = 5;
    pub const DEFAULT_PER_CLIENT: u32 = 10;
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
    pub const DEFAULT_SESSION_WINDOW: Duration = Duration::from_secs(24 * 3600);

    fn limit(&self, scope: VerificationScope) -> u64 {
        u64::from(match scope {
            VerificationScope::Session => self.per_session,
            VerificationScope::CustomerNumber => self.per_customer_number,
            VerificationScope::Client => self.per_client,
        })
    }

    fn window(&self, scope: VerificationScope) -> Duration {
        match scope {
            VerificationScope::Session => self.session_window,
            VerificationScope::CustomerNumber | VerificationScope::Client => self.window,
        }
    }

    /// Rows older than this count for nothing.
    fn retention(&self) -> Duration {
        self.window.max(self.session_window)
    }
}

impl Default for VerificationLimits {
    fn default() -> Self {
        Self {
            per_session: Self::DEFAULT_PER_SESSION,
            per_customer_number: Self::DEFAULT_PER_CUSTOMER_NUMBER,
            per_client: Self::DEFAULT_PER_CLIENT,
            window: Self::DEFAULT_WINDOW,
            session_window: Self::DEFAULT_SESSION_WINDOW,
        }
    }
}

/// Failed verifications and lockouts since the process started (for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerificationStats {
    /// Number and email compared and found not to belong together (or no such number).
    pub failures: u64,
    /// Failures that reached a limit: from then on that session, number or client is refused.
    pub lockouts: u64,
    /// Attempts refused without checking because a limit had been reached.
    pub refused: u64,
}

/// Shared by every clone of a desk: one count per process.
#[derive(Debug, Default)]
pub(crate) struct VerificationCounters {
    failures: AtomicU64,
    lockouts: AtomicU64,
    refused: AtomicU64,
}

/// What the limits say about an attempt that has its failure rows written.
pub(super) enum Attempt {
    /// Compare number and email; the rows to take back if they belong together.
    Check { rows: Vec<Uuid>, subjects: Vec<VerificationSubject> },
    /// A limit was already reached: refused without checking.
    Refused,
}

/// What a failure counts against: the session, the client if known, and every customer number
/// the attempt named (upper-cased, as numbers are looked up) — all of them, so that which one
/// was locked never depends on which exists.
pub(super) fn subjects(session: ConversationId, client: Option<&str>, numbers: &[&str]) -> Vec<VerificationSubject> {
    let mut subjects = vec![VerificationSubject::new(VerificationScope::Session, &session.to_string())];
    if let Some(client) = client {
        subjects.push(VerificationSubject::new(VerificationScope::Client, client));
    }
    for number in numbers {
        let subject = VerificationSubject::new(VerificationScope::CustomerNumber, &number.to_uppercase());
        if !subjects.contains(&subject) {
            subjects.push(subject);
        }
    }
    subjects
}

impl OrderDesk {
    /// Failed verifications and lockouts so far.
    pub fn verification_stats(&self) -> VerificationStats {
        let c = &self.verification;
        VerificationStats {
            failures: c.failures.load(Ordering::Relaxed),
            lockouts: c.lockouts.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }

    fn verification_counters(&self) -> &Arc<VerificationCounters> {
        &self.verification
    }

    /// Failures per subject within its window.
    async fn failure_counts(&self, tenant: &TenantContext, subjects: &[VerificationSubject]) -> Result<Vec<u64>, OrderError> {
        let limits = self.verification_limits;
        let now = Utc::now();
        let mut counts = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let since = now - chrono::Duration::from_std(limits.window(subject.scope)).unwrap_or(chrono::Duration::MAX);
            counts.push(self.store().verifications().failures_since(tenant.id, subject, since).await?);
        }
        Ok(counts)
    }

    /// A limit is reached for one of `subjects` (a number alone, with no email to check, is
    /// refused too once locked). Counts a refusal.
    pub(super) async fn verification_locked(&self, tenant: &TenantContext, subjects: &[VerificationSubject]) -> Result<bool, OrderError> {
        let limits = self.verification_limits;
        let counts = self.failure_counts(tenant, subjects).await?;
        let locked = subjects.iter().zip(&counts).any(|(s, &n)| n >= limits.limit(s.scope));
        if locked {
            self.verification_counters().refused.fetch_add(1, Ordering::Relaxed);
        }
        Ok(locked)
    }

    /// Writes the attempt's failure rows, then counts: refused (rows taken back) when a limit
    /// was reached before this attempt.
    pub(super) async fn begin_verification(
        &self,
        tenant: &TenantContext,
        subjects: Vec<VerificationSubject>,
    ) -> Result<Attempt, OrderError> {
        let limits = self.verification_limits;
        let verifications = self.store().verifications();
        let now = Utc::now();
        let retention = chrono::Duration::from_std(limits.retention()).unwrap_or(chrono::Duration::MAX);
        verifications.prune(tenant.id, now - retention).await?;
        let rows = verifications.record(tenant.id, &subjects, now).await?;
        let counts = self.failure_counts(tenant, &subjects).await?;
        // Each count includes this attempt's own row.
        if subjects.iter().zip(&counts).any(|(s, &n)| n > limits.limit(s.scope)) {
            verifications.forget(tenant.id, &rows).await?;
            self.verification_counters().refused.fetch_add(1, Ordering::Relaxed);
            tracing::info!(tenant = %tenant.slug, "customer verification refused: too many failed attempts");
            return Ok(Attempt::Refused);
        }
        Ok(Attempt::Check { rows, subjects })
    }

    /// The pair was right: the attempt's rows are taken back.
    pub(super) async fn verification_passed(&self, tenant: &TenantContext, rows: &[Uuid]) -> Result<(), OrderError> {
        Ok(self.store().verifications().forget(tenant.id, rows).await?)
    }

    /// The pair was wrong (its rows stay): whether this failure reached a limit.
    pub(super) async fn verification_failed(&self, tenant: &TenantContext, subjects: &[VerificationSubject]) -> Result<bool, OrderError> {
        let limits = self.verification_limits;
        let counters = self.verification_counters();
        counters.failures.fetch_add(1, Ordering::Relaxed);
        let counts = self.failure_counts(tenant, subjects).await?;
        let reached: Vec<&str> =
            subjects.iter().zip(&counts).filter(|(s, n)| **n >= limits.limit(s.scope)).map(|(s, _)| s.scope.as_str()).collect();
        if reached.is_empty() {
            return Ok(false);
        }
        counters.lockouts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(tenant = %tenant.slug, scopes = ?reached, "customer verification locked after repeated failures");
        Ok(true)
    }

    /// The reply once verification is locked: the same whatever was typed, with the ways to
    /// reach a person from the tenant's settings.
    pub(super) async fn verification_locked_reply(&self, tenant: &TenantContext, assist: &dyn OrderAssist) -> String {
        let contact = |key: &str| tenant.settings.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
        let mut ways = Vec::new();
        if let Some(email) = contact("support_email") {
            ways.push(format!("email {email}"));
        }
        if let Some(phone) = contact("support_phone") {
            ways.push(format!("call {phone}"));
        }
        let reach = match ways.len() {
            0 => "ask here for a person".to_owned(),
            _ => format!("{}, or ask here for a person", ways.join(" or ")),
        };
        let hours = assist.team_hours(tenant).await;
        format!(
            "For your account's safety I can't check any more customer numbers and email addresses here for now. \
             Our team can help you with your orders: {reach}. {hours}."
        )
    }
}
