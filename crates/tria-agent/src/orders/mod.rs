//! Orders by chat: placing an order from free text against the tenant's catalogue, with
//! clarifying questions, a priced summary and an explicit confirmation; and the status, change
//! and cancellation of the customer's own orders by their `ORD-…` number.
//!
//! Invariants: every number in a reply comes from the catalogue, the tenant's settings or stored
//! order rows (never from a model); only an explicit confirmation creates or changes an order,
//! and creation writes the order, its items and its invoice outbox row in one transaction
//! (`OrderRepo::place`); a customer only ever sees their own orders (another's is "not found").
//! The draft lives in `order_drafts`, so a multi-turn order survives a change of instance.
//!
//! Entry point: [`Agent::route_order`], called by the pipeline before the answer cache. It
//! returns `None` when the message is not about an order, and the pipeline answers as usual.

mod draft;
mod extract;
mod identity;
mod intent;
mod lockout;
mod manage;
mod matching;
mod place;
mod reply;
mod rules;
mod text;

use std::sync::Arc;

use tria_core::{Answer, ConversationId, CustomerId, IntentLabel, OrderLineSummary, OrderStatus, OrderSummary, TenantContext};
use tria_integrations::{IntegrationProbe, IntegrationState};
use tria_intent::{Classification, extract_entities};
use tria_store::records::{Order, OrderItem, Product};

use self::draft::{Draft, Stage};
use self::identity::Claim;
pub use self::lockout::{VerificationLimits, VerificationStats};
use self::rules::OrderRules;
use crate::session::Session;
use crate::{Agent, AgentBuilder, AgentError};

/// What the order flow answered.
#[derive(Debug)]
pub(crate) struct OrderTurn {
    pub(crate) answer: Answer,
    pub(crate) order: Option<OrderSummary>,
    /// Set when a person must take over (e.g. a high-value order needs approval): the reason.
    pub(crate) handoff: Option<String>,
}

impl OrderTurn {
    fn new(reply: impl Into<String>, label: IntentLabel, confidence: f32) -> Self {
        Self { answer: Answer::new(reply, label, confidence), order: None, handoff: None }
    }

    fn with_order(mut self, order: OrderSummary) -> Self {
        self.order = Some(order);
        self
    }
}

/// Parts the order flow uses besides the store.
#[derive(Clone, Default)]
pub(crate) struct OrderParts {
    /// The accounting integration's state (its circuit breaker): while it is not `ok`, customers
    /// are told their invoice will follow.
    pub(crate) invoicing: Option<Arc<dyn IntegrationProbe>>,
    pub(crate) verification_limits: VerificationLimits,
    /// Shared by the agent's clones of these parts: one count per process.
    pub(crate) verification: Arc<lockout::VerificationCounters>,
}

impl AgentBuilder {
    /// The invoicing integration's probe (e.g. the Xero circuit breaker), so order replies can
    /// say when an invoice will be late.
    pub fn invoicing_probe(mut self, probe: Arc<dyn IntegrationProbe>) -> Self {
        self.orders.invoicing = Some(probe);
        self
    }
}

/// The per-message context of the order flow.
pub(crate) struct OrderContext<'a> {
    pub(crate) tenant: &'a TenantContext,
    pub(crate) conversation: ConversationId,
    pub(crate) message: &'a str,
    pub(crate) classification: Classification,
    pub(crate) rules: OrderRules,
    pub(crate) currency: String,
    pub(crate) customer: Option<CustomerId>,
    pub(crate) order_numbers: Vec<String>,
}

impl OrderContext<'_> {
    fn turn(&self, reply: impl Into<String>) -> OrderTurn {
        OrderTurn::new(reply, self.classification.label, self.classification.confidence)
    }

    fn turn_as(&self, reply: impl Into<String>, label: IntentLabel) -> OrderTurn {
        OrderTurn::new(reply, label, 1.0)
    }
}

const ASK_CUSTOMER: &str =
    "To help with orders I need your customer number (it is on your invoices) and the email address on your account. What are they?";

impl Agent {
    /// Answers a message about an order, or `None` to let the pipeline answer it.
    /// The session's customer is the conversation's (for a new conversation, the request's);
    /// `external` the request's `customer_id`, used when the conversation has none.
    pub(crate) async fn route_order(
        &self,
        tenant: &TenantContext,
        session: &Session,
        external: Option<&str>,
        message: &str,
    ) -> Result<Option<OrderTurn>, AgentError> {
        let classification = self.classify(tenant.id, message).await;
        let label = classification.label;
        let order_intent = matches!(label, IntentLabel::OrderPlacement | IntentLabel::OrderStatus | IntentLabel::OrderChange);
        // A conversation this message opens has no draft yet: no need to look.
        if !order_intent && session.opens.is_some() {
            return Ok(None);
        }
        // Boxed: the order flow's state is kilobytes, and every chat future would carry it
        // (and be moved and allocated with it) though most messages never get here.
        Box::pin(self.route_order_flow(tenant, session, external, message, classification, order_intent)).await
    }

    /// [`Agent::route_order`] past its quick exit.
    async fn route_order_flow(
        &self,
        tenant: &TenantContext,
        session: &Session,
        external: Option<&str>,
        message: &str,
        classification: Classification,
        order_intent: bool,
    ) -> Result<Option<OrderTurn>, AgentError> {
        let (conversation, session_customer) = (session.conversation, session.customer);
        let label = classification.label;
        let stored = self.store().drafts().get(tenant.id, conversation).await?;
        // "Confirm" (the order table's button, sent again) with nothing waiting for it.
        if stored.is_none() && session.opens.is_none() && intent::is_order_confirmation_word(message) {
            let reply = "There is no order waiting for your confirmation in this conversation: an order I confirmed is already placed \
                         (its number is above). Tell me what you would like to order, or ask about an order by its number.";
            return Ok(Some(OrderTurn::new(reply, IntentLabel::OrderStatus, 1.0)));
        }
        if stored.is_none() && !order_intent {
            return Ok(None);
        }
        let known_customer = self.request_customer(tenant, session_customer, external).await?;
        let mut draft = stored.map(Draft::from_state);
        let currency = self.store().tenants().currency(tenant.id).await?;
        let order_numbers = extract_entities(message).order_numbers;
        let customer = known_customer.or_else(|| draft.as_ref().and_then(|d| d.customer));
        let mut cx = OrderContext {
            tenant,
            conversation,
            message,
            classification,
            rules: OrderRules::from_settings(&tenant.settings),
            currency,
            customer,
            order_numbers,
        };

        // A step the conversation is in the middle of comes first.
        if let Some(d) = draft.as_mut()
            && d.cancelling.is_some()
            && let Some(turn) = self.answer_cancellation(&cx, d).await?
        {
            return Ok(Some(turn));
        }
        if draft.as_ref().is_some_and(Draft::is_empty) {
            draft = None;
        }
        if let Some(d) = draft.as_mut() {
            if d.customer.is_none() {
                d.customer = cx.customer;
            }
            if d.stage == Stage::AwaitingCustomer && cx.customer.is_none() {
                match self.claim_customer(tenant, conversation, message, d.claimed.as_deref()).await? {
                    Claim::Verified(found) => return self.customer_verified(&mut cx, session, d.clone(), found).await.map(Some),
                    Claim::NeedsEmail(number) => {
                        d.claimed = Some(number);
                        self.store().drafts().save(tenant.id, conversation, d.to_state()).await?;
                        return Ok(Some(cx.turn_as(identity::ASK_EMAIL, IntentLabel::OrderStatus)));
                    }
                    Claim::Mismatch => {
                        d.claimed = None;
                        self.store().drafts().save(tenant.id, conversation, d.to_state()).await?;
                        return Ok(Some(cx.turn_as(identity::NOT_VERIFIED, IntentLabel::OrderStatus)));
                    }
                    Claim::LockedOut => {
                        d.claimed = None;
                        self.store().drafts().save(tenant.id, conversation, d.to_state()).await?;
                        let reply = self.verification_locked_reply(tenant).await;
                        return Ok(Some(cx.turn_as(reply, IntentLabel::OrderStatus)));
                    }
                    Claim::Nothing => {}
                }
            }
            if d.stage == Stage::AwaitingConfirmation && intent::is_confirmation(message) {
                return self.confirm(&cx, d.clone()).await.map(Some);
            }
            if cx.order_numbers.is_empty() && intent::is_decline(message) {
                self.store().drafts().clear(tenant.id, conversation).await?;
                return Ok(Some(cx.turn("All right, I've dropped that order draft; nothing was ordered or changed.")));
            }
            if let Some(turn) = self.answer_clarification(&cx, d).await? {
                return Ok(Some(turn));
            }
            if cx.customer.is_some()
                && let Some(turn) = self.revise_draft(&cx, d).await?
            {
                return Ok(Some(turn));
            }
        }

        if !order_intent {
            // A draft is open but this message is about something else: answer it normally.
            return Ok(None);
        }
        if cx.customer.is_none() {
            let mut d = draft.unwrap_or_else(|| Draft::new(None));
            // Keep what they asked for; it is priced, or answered, once we know who they are.
            let mut notes = if label == IntentLabel::OrderPlacement {
                self.read_lines(&cx, &mut d).await?
            } else {
                d.asked = Some(message.to_owned());
                vec![]
            };
            d.stage = Stage::AwaitingCustomer;
            d.claimed = None;
            self.store().drafts().save(tenant.id, conversation, d.to_state()).await?;
            notes.push(ASK_CUSTOMER.to_owned());
            return Ok(Some(cx.turn(notes.join("\n"))));
        }
        if !cx.order_numbers.is_empty() && intent::is_cancellation(message) {
            return self.ask_to_cancel(&cx).await.map(Some);
        }
        // "Please don't cancel ORD-…": nothing to do but say where the order stands.
        if !cx.order_numbers.is_empty() && intent::declines_cancellation(message) {
            return self.status(&cx, None).await.map(Some);
        }
        // An existing order's number with new lines or change words is a change, whatever the
        // classifier thought (a new order never names an existing number).
        let changes_existing = !cx.order_numbers.is_empty() && (label == IntentLabel::OrderPlacement || intent::is_change_request(message));
        let turn = match label {
            _ if changes_existing => self.change(&cx, draft).await?,
            IntentLabel::OrderStatus => self.status(&cx, draft.as_ref()).await?,
            IntentLabel::OrderChange if intent::is_cancellation(message) => self.ask_to_cancel(&cx).await?,
            IntentLabel::OrderChange => self.change(&cx, draft).await?,
            _ => self.add_lines(&cx, draft).await?,
        };
        Ok(Some(turn))
    }

    /// The invoicing integration is held back (breaker open or half-open).
    fn invoicing_degraded(&self) -> bool {
        self.orders.invoicing.as_ref().is_some_and(|p| p.status().state != IntegrationState::Ok)
    }

    /// The customer a request acts for: the conversation's, else the request's `customer_id`.
    async fn request_customer(
        &self,
        tenant: &TenantContext,
        session_customer: Option<CustomerId>,
        external: Option<&str>,
    ) -> Result<Option<CustomerId>, AgentError> {
        match (session_customer, external) {
            (Some(customer), _) => Ok(Some(customer)),
            (None, Some(external)) => Ok(Some(self.customer(tenant, external).await?)),
            (None, None) => Ok(None),
        }
    }

    /// The customer proved who they are (number and email): the conversation is theirs from
    /// now on, and what they were doing when we asked goes on — the draft's lines, or the
    /// question they asked.
    async fn customer_verified(
        &self,
        cx: &mut OrderContext<'_>,
        session: &Session,
        mut d: Draft,
        customer: CustomerId,
    ) -> Result<OrderTurn, AgentError> {
        let (tenant, conversation) = (cx.tenant, cx.conversation);
        self.store().conversations().identify_customer(tenant.id, conversation, customer).await?;
        cx.customer = Some(customer);
        d.customer = Some(customer);
        d.stage = Stage::Building;
        d.claimed = None;
        const THANKS: &str = "Thank you, that's you.";
        if d.lines.is_empty() && d.questions.is_empty() {
            self.store().drafts().clear(tenant.id, conversation).await?;
            if let Some(asked) = d.asked.take() {
                let session = Session { customer: Some(customer), ..session.clone() };
                let classification = self.classify(tenant.id, &asked).await;
                let answered = Box::pin(self.route_order_flow(tenant, &session, None, &asked, classification, true)).await?;
                if let Some(mut turn) = answered {
                    turn.answer.reply = format!("{THANKS} {}", turn.answer.reply);
                    return Ok(turn);
                }
            }
            return Ok(cx.turn_as(format!("{THANKS} How can I help with your orders?"), IntentLabel::OrderStatus));
        }
        self.continue_draft(cx, d, vec![THANKS.into()]).await
    }

    /// The customer's order with this number; another customer's (or tenant's) is `None`.
    async fn own_order(&self, cx: &OrderContext<'_>, number: &str) -> Result<Option<Order>, AgentError> {
        let Some(customer) = cx.customer else { return Ok(None) };
        Ok(self.store().orders().find_by_number(cx.tenant.id, number).await?.filter(|o| o.customer_id == customer.0))
    }
}

/// The summary of a stored order, from its rows (units from the catalogue).
pub(crate) fn stored_summary(order: &Order, items: &[OrderItem], catalogue: &[Product]) -> OrderSummary {
    OrderSummary {
        order_number: Some(order.number.clone()),
        status: OrderStatus::parse(&order.status).unwrap_or(OrderStatus::Failed),
        lines: items
            .iter()
            .map(|i| OrderLineSummary {
                sku: i.sku.clone(),
                name: i.name.clone(),
                quantity: i.quantity,
                unit: catalogue.iter().find(|p| p.id == i.product_id).map(|p| p.unit.clone()).unwrap_or_default(),
                unit_price_minor: i.unit_price_minor,
                line_total_minor: i.line_total_minor,
            })
            .collect(),
        total_minor: order.total_minor,
        currency: order.currency.clone(),
        awaiting_confirmation: false,
    }
}
