//! Orders by chat, one stage of the agent's pipeline: orders placed from free text against the
//! tenant's catalogue, and the status, change and cancellation of the customer's own orders.

mod draft;
mod extract;
mod identity;
mod intent;
mod lockout;
mod manage;
mod matching;
mod money;
mod place;
mod reply;
mod rules;
mod text;

use std::sync::Arc;

use tria_core::{Answer, ConversationId, CustomerId, IntentLabel, OrderLineSummary, OrderStatus, OrderSummary, TenantContext, TenantId};
use tria_integrations::{IntegrationProbe, IntegrationState};
use tria_intent::{Classification, extract_entities};
use tria_store::records::{Order, OrderItem, Product};
use tria_store::repo::NewCustomer;
use tria_store::{Store, StoreError};

use self::draft::{Draft, Stage};
use self::identity::Claim;
pub use self::lockout::{VerificationLimits, VerificationStats};
pub use self::money::money;
use self::rules::OrderRules;

/// What can stop the order flow: only the store (the flow's own refusals are replies).
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The order flow's desk: the store it reads and writes, the invoicing integration's probe and
/// the limits on failed verifications. Cheap to clone; clones share the verification counts.
///
/// Placing an order goes through clarifying questions, a priced summary and an explicit
/// confirmation. Invariants: every number in a reply comes from the catalogue, the tenant's
/// settings or stored order rows (never from a model); only an explicit confirmation creates or
/// changes an order, and creation writes the order, its items and its invoice outbox row in one
/// transaction (`OrderRepo::place`); a customer only ever sees their own orders (another's is
/// "not found"). The draft lives in `order_drafts`, so a multi-turn order survives a change of
/// instance. Entry point: [`OrderDesk::route`], which the agent calls before its answer cache;
/// `None` means the message is not about an order and the agent answers as usual.
#[derive(Clone)]
pub struct OrderDesk {
    store: Store,
    /// The accounting integration's state (its circuit breaker): while it is not `ok`, customers
    /// are told their invoice will follow.
    invoicing: Option<Arc<dyn IntegrationProbe>>,
    verification_limits: VerificationLimits,
    verification: Arc<lockout::VerificationCounters>,
}

impl OrderDesk {
    pub fn new(store: Store) -> Self {
        Self { store, invoicing: None, verification_limits: VerificationLimits::default(), verification: Arc::default() }
    }

    /// The invoicing integration's probe (e.g. the Xero circuit breaker), so order replies can
    /// say when an invoice will be late.
    pub fn with_invoicing(mut self, probe: Option<Arc<dyn IntegrationProbe>>) -> Self {
        self.invoicing = probe;
        self
    }

    /// Limits on failed customer verifications (defaults: [`VerificationLimits::default`]).
    pub fn with_verification_limits(mut self, limits: VerificationLimits) -> Self {
        self.verification_limits = limits;
        self
    }

    fn store(&self) -> &Store {
        &self.store
    }
}

/// What the desk asks of the agent, only when a turn needs it: the intent of a question asked
/// before the customer was verified, and when the tenant's people answer.
#[async_trait::async_trait]
pub trait OrderAssist: Send + Sync {
    /// The intent of `message` (the agent's classifier, remembered and cached as for any turn).
    async fn classify(&self, tenant: TenantId, message: &str) -> Classification;
    /// The sentence saying when the tenant's team answers ("Our team answers 9-5").
    async fn team_hours(&self, tenant: &TenantContext) -> String;
}

/// The conversation as the order flow sees it.
#[derive(Clone, Copy, Debug)]
pub struct OrderSession {
    pub conversation: ConversationId,
    /// This message opens the conversation (so it has no draft yet).
    pub opens_conversation: bool,
    /// The conversation's customer (for a new conversation, the request's).
    pub customer: Option<CustomerId>,
}

/// One message for the order flow.
pub struct OrderRequest<'a> {
    pub tenant: &'a TenantContext,
    pub session: OrderSession,
    /// The request's `customer_id`, used when the conversation has none.
    pub external_customer: Option<&'a str>,
    pub message: &'a str,
    pub classification: Classification,
    /// The caller's client (the widget's network address), counted by the verification limits.
    pub client: Option<&'a str>,
    pub assist: &'a dyn OrderAssist,
}

/// What the order flow answered.
#[derive(Debug)]
pub struct OrderTurn {
    pub answer: Answer,
    pub order: Option<OrderSummary>,
    /// Set when a person must take over (e.g. a high-value order needs approval): the reason.
    pub handoff: Option<String>,
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
    pub(crate) client: Option<&'a str>,
    pub(crate) assist: &'a dyn OrderAssist,
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

impl OrderDesk {
    /// Answers a message about an order, or `None` to let the pipeline answer it.
    pub async fn route(&self, request: OrderRequest<'_>) -> Result<Option<OrderTurn>, OrderError> {
        let label = request.classification.label;
        let order_intent = matches!(label, IntentLabel::OrderPlacement | IntentLabel::OrderStatus | IntentLabel::OrderChange);
        // A conversation this message opens has no draft yet: no need to look.
        if !order_intent && request.session.opens_conversation {
            return Ok(None);
        }
        // Boxed: the order flow's state is kilobytes, and every chat future would carry it
        // (and be moved and allocated with it) though most messages never get here.
        Box::pin(self.route_flow(request, order_intent)).await
    }

    /// [`OrderDesk::route`] past its quick exit.
    async fn route_flow(&self, request: OrderRequest<'_>, order_intent: bool) -> Result<Option<OrderTurn>, OrderError> {
        let OrderRequest { tenant, session, external_customer: external, message, classification, client, assist } = request;
        let (conversation, session_customer) = (session.conversation, session.customer);
        let label = classification.label;
        let stored = self.store().drafts().get(tenant.id, conversation).await?;
        // "Confirm" (the order table's button, sent again) with nothing waiting for it.
        if stored.is_none() && !session.opens_conversation && intent::is_order_confirmation_word(message) {
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
            client,
            assist,
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
                match self.claim_customer(tenant, conversation, client, message, d.claimed.as_deref()).await? {
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
                        let reply = self.verification_locked_reply(tenant, assist).await;
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
        self.invoicing.as_ref().is_some_and(|p| p.status().state != IntegrationState::Ok)
    }

    /// The customer a request acts for: the conversation's, else the request's `customer_id`.
    async fn request_customer(
        &self,
        tenant: &TenantContext,
        session_customer: Option<CustomerId>,
        external: Option<&str>,
    ) -> Result<Option<CustomerId>, OrderError> {
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
        session: OrderSession,
        mut d: Draft,
        customer: CustomerId,
    ) -> Result<OrderTurn, OrderError> {
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
                let session = OrderSession { customer: Some(customer), ..session };
                let classification = cx.assist.classify(tenant.id, &asked).await;
                let request = OrderRequest {
                    tenant,
                    session,
                    external_customer: None,
                    message: &asked,
                    classification,
                    client: cx.client,
                    assist: cx.assist,
                };
                let answered = Box::pin(self.route_flow(request, true)).await?;
                if let Some(mut turn) = answered {
                    turn.answer.reply = format!("{THANKS} {}", turn.answer.reply);
                    return Ok(turn);
                }
            }
            return Ok(cx.turn_as(format!("{THANKS} How can I help with your orders?"), IntentLabel::OrderStatus));
        }
        self.continue_draft(cx, d, vec![THANKS.into()]).await
    }

    /// The customer with the tenant's id `external_id`; customers first seen in chat are
    /// recorded with what we know: their id.
    async fn customer(&self, tenant: &TenantContext, external_id: &str) -> Result<CustomerId, OrderError> {
        let new = NewCustomer { external_id: external_id.to_owned(), name: String::new(), email: String::new(), company: String::new() };
        let row = self.store().customers().upsert(tenant.id, new).await?;
        Ok(CustomerId(row.id))
    }

    /// The customer's order with this number; another customer's (or tenant's) is `None`.
    async fn own_order(&self, cx: &OrderContext<'_>, number: &str) -> Result<Option<Order>, OrderError> {
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
