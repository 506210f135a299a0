//! The customer's existing orders: status, cancellation and change by `ORD-…` number. Only the
//! customer's own orders are found; anyone else's is "not found" (the same words as a number
//! that does not exist, so nothing leaks).

use tria_core::{CustomerId, IntentLabel, OrderStatus};
use tria_store::StoreError;
use tria_store::records::Order;
use tria_store::repo::{CancelOutcome, VOID_OUTBOX_KIND, outbox_state};

use super::draft::{Draft, DraftLine, Stage};
use super::{OrderContext, OrderTurn, intent, reply, stored_summary};
use crate::money::money;
use crate::{OrderDesk, OrderError};

/// Orders listed when the customer asks about "my orders" without a number.
const RECENT_ORDERS: usize = 5;

fn not_cancellable_invoiced(number: &str) -> String {
    format!(
        "Order {number} has been invoiced and shipped, so it can no longer be cancelled. Unopened products can be returned under our returns policy."
    )
}

fn not_processed(number: &str) -> String {
    format!("Order {number} could not be processed, so there is nothing to cancel and nothing was charged.")
}

fn not_found(number: &str) -> String {
    format!(
        "I couldn't find order {number} on your account. Please check the number (it starts with ORD- and is on your order confirmation)."
    )
}

impl OrderDesk {
    /// What became of a cancelled order's invoice, if it had one.
    async fn void_note(&self, cx: &OrderContext<'_>, order: &Order) -> Result<Option<String>, OrderError> {
        let Some(job) = self.store().outbox().job_for_order(cx.tenant.id, VOID_OUTBOX_KIND, order.id).await? else {
            return Ok(None);
        };
        let voided = job.last_error.as_deref().is_some_and(|note| note.ends_with("voided"));
        Ok(match (job.state.as_str(), &order.invoice_number) {
            (outbox_state::DONE, Some(number)) if voided => Some(format!("Its invoice {number} has been voided.")),
            (outbox_state::DONE, None) if voided => Some("Its invoice has been voided.".to_owned()),
            (outbox_state::DONE, _) => None,
            (outbox_state::FAILED, _) => Some("A member of our team is voiding its invoice by hand.".to_owned()),
            (_, Some(number)) => Some(format!("Its invoice {number} is being voided.")),
            (_, None) => None,
        })
    }

    pub(super) async fn status(&self, cx: &OrderContext<'_>, draft: Option<&Draft>) -> Result<OrderTurn, OrderError> {
        let orders = self.store().orders();
        let Some(number) = cx.order_numbers.first() else {
            // "What's in my order?" while one is being put together: that one.
            if let Some(d) = draft.filter(|d| d.target_order.is_none() && !d.lines.is_empty()) {
                let note = "Here is the order we are putting together; nothing is placed until you confirm it.";
                return self.continue_draft(cx, d.clone(), vec![note.into()]).await;
            }
            let Some(customer) = cx.customer else { return Ok(cx.turn(super::ASK_CUSTOMER)) };
            let mine = orders.list_for_customer(cx.tenant.id, customer).await?;
            if mine.is_empty() {
                return Ok(cx.turn("I don't see any orders on your account yet."));
            }
            let lines: Vec<String> = mine
                .iter()
                .take(RECENT_ORDERS)
                .map(|o| {
                    let status = OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Failed);
                    format!(
                        "- {} (placed {}): {}, total {}",
                        o.number,
                        o.created_at.format("%Y-%m-%d"),
                        reply::status_word(status),
                        money(o.total_minor, &o.currency)
                    )
                })
                .collect();
            return Ok(cx.turn(format!("Your most recent orders:\n{}\nAsk me about one by its number for details.", lines.join("\n"))));
        };
        let Some(order) = self.own_order(cx, number).await? else {
            return Ok(cx.turn(not_found(number)));
        };
        let catalogue = self.catalogue_rows(cx).await?;
        let items = orders.items(cx.tenant.id, order.id).await?;
        let summary = stored_summary(&order, &items, &catalogue);
        let void_note = self.void_note(cx, &order).await?;
        let text = format!(
            "{}\n{}",
            reply::status_text(&order, self.invoicing_degraded(), cx.rules.email_invoices, void_note.as_deref()),
            reply::lines_text(&summary)
        );
        Ok(cx.turn(text).with_order(summary))
    }

    /// A request to cancel an order: shows it and asks for an explicit confirmation (a
    /// cancellation voids the invoice and cannot be undone, and "please don't cancel ORD-…" or
    /// "could I cancel ORD-… later?" name the order too). An order that cannot be cancelled is
    /// said so at once.
    pub(super) async fn ask_to_cancel(&self, cx: &OrderContext<'_>) -> Result<OrderTurn, OrderError> {
        let Some(number) = cx.order_numbers.first() else {
            return Ok(cx.turn_as("Which order would you like to cancel? Please give me its number (ORD-…).", IntentLabel::OrderChange));
        };
        let Some(order) = self.own_order(cx, number).await? else {
            return Ok(cx.turn_as(not_found(number), IntentLabel::OrderChange));
        };
        let status = OrderStatus::parse(&order.status);
        let refusal = match status {
            Some(OrderStatus::Cancelled) => Some(format!("Order {number} is already cancelled.")),
            Some(OrderStatus::Invoiced) if !cx.rules.cancel_invoiced_orders => Some(not_cancellable_invoiced(number)),
            Some(OrderStatus::Failed) | None => Some(not_processed(number)),
            _ => None,
        };
        let catalogue = self.catalogue_rows(cx).await?;
        let items = self.store().orders().items(cx.tenant.id, order.id).await?;
        let summary = stored_summary(&order, &items, &catalogue);
        if let Some(text) = refusal {
            return Ok(cx.turn_as(text, IntentLabel::OrderChange).with_order(summary));
        }
        let drafts = self.store().drafts();
        let mut d = drafts.get(cx.tenant.id, cx.conversation).await?.map(Draft::from_state).unwrap_or_else(|| Draft::new(cx.customer));
        d.cancelling = Some(order.id);
        drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
        let invoice = match (status, order.invoice_number.as_deref()) {
            (Some(OrderStatus::Invoiced), Some(invoice)) => format!(" Its invoice {invoice} will be voided."),
            (Some(OrderStatus::Invoiced), None) => " Its invoice will be voided.".to_owned(),
            _ => String::new(),
        };
        let text = format!(
            "{}\n{}\nDo you want me to cancel order {number}?{invoice} Reply \"Confirm\" to cancel it, or \"No\" to keep it.",
            reply::status_text(&order, self.invoicing_degraded(), cx.rules.email_invoices, None),
            reply::lines_text(&summary)
        );
        Ok(cx.turn_as(text, IntentLabel::OrderChange).with_order(summary))
    }

    /// The reply to "do you want me to cancel …?": an explicit yes cancels, a no keeps the
    /// order, and anything else drops the question (`None`: the message is answered as usual).
    pub(super) async fn answer_cancellation(&self, cx: &OrderContext<'_>, d: &mut Draft) -> Result<Option<OrderTurn>, OrderError> {
        let Some(order_id) = d.cancelling.take() else { return Ok(None) };
        let drafts = self.store().drafts();
        if d.is_empty() {
            drafts.clear(cx.tenant.id, cx.conversation).await?;
        } else {
            drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
        }
        let orders = self.store().orders();
        let Some(order) = orders.find(cx.tenant.id, order_id).await?.filter(|o| Some(CustomerId(o.customer_id)) == cx.customer) else {
            return Ok(None);
        };
        let message = cx.message;
        if intent::confirms_cancellation(message) {
            return self.cancel(cx, order).await.map(Some);
        }
        if intent::keeps_order(message) {
            return Ok(Some(
                cx.turn_as(format!("All right, order {} stays as it is; nothing was cancelled.", order.number), IntentLabel::OrderChange),
            ));
        }
        Ok(None)
    }

    async fn cancel(&self, cx: &OrderContext<'_>, order: Order) -> Result<OrderTurn, OrderError> {
        let number = order.number.clone();
        let orders = self.store().orders();
        let outcome = match orders.cancel(cx.tenant.id, order.id, cx.rules.cancel_invoiced_orders).await {
            Ok(outcome) => outcome,
            Err(StoreError::Conflict(_)) => {
                return Ok(cx.turn_as(
                    format!("Order {number} was just updated by our system; please ask me again in a moment."),
                    IntentLabel::OrderChange,
                ));
            }
            Err(e) => return Err(e.into()),
        };
        // A change in progress for this order is moot now.
        if let Some(state) = self.store().drafts().get(cx.tenant.id, cx.conversation).await?
            && state.target_order == Some(order.id)
        {
            self.store().drafts().clear(cx.tenant.id, cx.conversation).await?;
        }
        let text = match outcome {
            CancelOutcome::Cancelled { previous: OrderStatus::Invoiced, .. } => {
                let invoice = order.invoice_number.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
                format!("Order {number} is cancelled. Its invoice{invoice} will be voided, so you will not be charged for it.")
            }
            CancelOutcome::Cancelled { .. } => format!("Order {number} is cancelled. Nothing will be charged."),
            CancelOutcome::AlreadyCancelled => format!("Order {number} is already cancelled."),
            CancelOutcome::NotCancellable(OrderStatus::Invoiced) => not_cancellable_invoiced(&number),
            CancelOutcome::NotCancellable(_) => not_processed(&number),
        };
        let catalogue = self.catalogue_rows(cx).await?;
        let fresh = orders.find(cx.tenant.id, order.id).await?.unwrap_or(order);
        let items = orders.items(cx.tenant.id, fresh.id).await?;
        Ok(cx.turn_as(text, IntentLabel::OrderChange).with_order(stored_summary(&fresh, &items, &catalogue)))
    }

    pub(super) async fn change(&self, cx: &OrderContext<'_>, draft: Option<Draft>) -> Result<OrderTurn, OrderError> {
        // More changes to an order already being changed.
        let number = match (cx.order_numbers.first(), &draft) {
            (Some(number), _) => number.clone(),
            (None, Some(d)) if d.target_order.is_some() => {
                let mut d = d.clone();
                let notes = self.read_lines(cx, &mut d).await?;
                return self.continue_draft(cx, d, notes).await;
            }
            (None, _) => {
                return Ok(cx.turn("Which order would you like to change? Please give me its number (ORD-…) and the change."));
            }
        };
        let Some(order) = self.own_order(cx, &number).await? else {
            return Ok(cx.turn(not_found(&number)));
        };
        match OrderStatus::parse(&order.status) {
            Some(OrderStatus::Confirmed) => {}
            Some(OrderStatus::Invoiced) => {
                return Ok(cx.turn(format!(
                    "Order {number} has already been invoiced and shipped, so it can no longer be changed. I can help you place a new order instead."
                )));
            }
            Some(OrderStatus::Draft) => {
                return Ok(cx.turn(format!("Order {number} is waiting for approval by our team; a person will handle changes to it.")));
            }
            _ => return Ok(cx.turn(format!("Order {number} is {} and cannot be changed.", order.status))),
        }
        let items = self.store().orders().items(cx.tenant.id, order.id).await?;
        let mut d = Draft::new(cx.customer);
        d.target_order = Some(order.id);
        d.lines = items.iter().map(|i| DraftLine { sku: i.sku.clone(), quantity: i.quantity }).collect();
        let before = d.lines.clone();
        let notes = self.read_lines(cx, &mut d).await?;
        if d.lines == before && d.questions.is_empty() {
            d.stage = Stage::Building;
            self.store().drafts().save(cx.tenant.id, cx.conversation, d.to_state()).await?;
            let mut text = notes.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!(
                "What would you like to change on order {number}? For example \"make it 5 cases of 12 oz hot cups\" or \"remove the oat milk\"."
            ));
            return Ok(cx.turn(text));
        }
        self.continue_draft(cx, d, notes).await
    }
}
