//! The orders stage's seam: the agent hands order turns to `tria_orders::OrderDesk` (held as
//! `Agent::orders`) with typed inputs — the tenant, the session, the message's classification
//! and the caller's client — and answers the desk's two questions ([`OrderAssist`]) itself.

use std::sync::Arc;

use tria_core::{TenantContext, TenantId};
use tria_integrations::IntegrationProbe;
use tria_intent::Classification;
use tria_orders::{OrderAssist, OrderDesk, OrderError, OrderRequest, OrderSession, OrderTurn};
pub use tria_orders::{VerificationLimits, VerificationStats};
use tria_store::Store;

use crate::client::current_client;
use crate::session::Session;
use crate::{Agent, AgentBuilder, AgentError};

/// The order desk's settings, collected by the builder until the store is known.
#[derive(Clone, Default)]
pub(crate) struct OrderParts {
    invoicing: Option<Arc<dyn IntegrationProbe>>,
    verification_limits: VerificationLimits,
}

impl OrderParts {
    pub(crate) fn desk(self, store: Store) -> OrderDesk {
        OrderDesk::new(store).with_invoicing(self.invoicing).with_verification_limits(self.verification_limits)
    }
}

impl AgentBuilder {
    /// The invoicing integration's probe (e.g. the Xero circuit breaker), so order replies can
    /// say when an invoice will be late.
    pub fn invoicing_probe(mut self, probe: Arc<dyn IntegrationProbe>) -> Self {
        self.orders.invoicing = Some(probe);
        self
    }

    /// Limits on failed customer verifications (defaults: [`VerificationLimits::default`]).
    pub fn verification_limits(mut self, limits: VerificationLimits) -> Self {
        self.orders.verification_limits = limits;
        self
    }
}

impl From<OrderError> for AgentError {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::Store(e) => e.into(),
        }
    }
}

#[async_trait::async_trait]
impl OrderAssist for Agent {
    async fn classify(&self, tenant: TenantId, message: &str) -> Classification {
        Agent::classify(self, tenant, message).await
    }

    async fn team_hours(&self, tenant: &TenantContext) -> String {
        let hours = self.support_hours(tenant).await;
        Self::hours_phrase(hours.as_deref())
    }
}

impl Agent {
    /// Failed verifications and lockouts so far.
    pub fn verification_stats(&self) -> VerificationStats {
        self.orders.verification_stats()
    }

    /// The order flow for one message: `None` when it is not about an order. The session's
    /// customer is the conversation's (for a new conversation, the request's); `external` the
    /// request's `customer_id`, used when the conversation has none.
    pub(crate) async fn route_order(
        &self,
        tenant: &TenantContext,
        session: &Session,
        external: Option<&str>,
        message: &str,
    ) -> Result<Option<OrderTurn>, AgentError> {
        let classification = self.classify(tenant.id, message).await;
        let client = current_client();
        let request = OrderRequest {
            tenant,
            session: OrderSession {
                conversation: session.conversation,
                opens_conversation: session.opens.is_some(),
                customer: session.customer,
            },
            external_customer: external,
            message,
            classification,
            client: client.as_ref().map(|c| c.as_str()),
            assist: self,
        };
        Ok(self.orders.route(request).await?)
    }
}
