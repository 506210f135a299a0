//! The operator console and customer insights as a library: queues, conversation views with
//! hand-off summaries, dashboards, customer profiles and churn, and helpdesk and Slack hand-offs.
//!
//! Reads go to `tria-store` through the caller's tenant set; every change to a conversation
//! (take over, hand back, operator reply, escalation resolved) goes through `tria-agent`. The
//! HTTP around it (paths, keys, query strings, JSON) is `tria-server`'s; this crate returns typed
//! views and one error type, [`ConsoleError`].

mod citations;
mod conversations;
mod customers;
mod dashboard;
mod error;
pub mod helpdesk;
mod rows;
pub mod slack;
mod summary;
mod usage;

use std::sync::Arc;

use tria_agent::Agent;
use tria_integrations::IntegrationProbe;
use tria_store::Store;

pub use citations::{Citation, citation_labels, source_ids};
pub use conversations::{ConversationRow, ConversationView, EscalationRow, OperatorMessage, QueueEntry, TenantRef, TranscriptEntry};
pub use customers::{
    CHURN_TTL, ChurnFactor, ChurnRisk, CustomerInsights, CustomerProfile, Insight, LastOrder, OrderCounts, PROFILE_TTL, SentimentSummary,
};
pub use dashboard::{
    CacheFigures, CacheLevelFigures, DEFAULT_DAYS, Dashboard, DayCounts, LatencyFigures, MAX_DAYS, TenantName, TokenFigures, dashboard_days,
};
pub use error::ConsoleError;
pub use helpdesk::{Helpdesk, HelpdeskDirectory, HelpdeskTargets, ReactionError, ReactionOutcome};
pub use slack::SlackEvents;
pub use summary::{HandoffSummary, citation_text, reply_notes, sentiment, summarise};
pub use usage::{DEFAULT_USAGE_DAYS, MAX_USAGE_DAYS, UsageQuery, UsageReport, UsageRow, dollars, group_name};

/// The console over one set of components: every method takes the caller's tenants
/// (`tenants`), and nothing outside them is found.
#[derive(Clone, Copy)]
pub struct Console<'a> {
    store: &'a Store,
    agent: &'a Agent,
    integrations: &'a [Arc<dyn IntegrationProbe>],
}

impl std::fmt::Debug for Console<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("integrations", &self.integrations.len()).finish_non_exhaustive()
    }
}

impl<'a> Console<'a> {
    /// `integrations` are the breakers the dashboard shows.
    pub fn new(store: &'a Store, agent: &'a Agent, integrations: &'a [Arc<dyn IntegrationProbe>]) -> Self {
        Self { store, agent, integrations }
    }
}
