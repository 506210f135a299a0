//! Building and placing an order: reading line items into the draft, clarifying questions, the
//! priced summary, and the explicit confirmation that places (or changes) the order.

use chrono::Utc;
use tria_core::{IntentLabel, OrderStatus};
use tria_store::StoreError;
use tria_store::records::Product;
use tria_store::repo::{NewOrder, NewOrderLine};

use super::draft::{Draft, Question, Stage, price};
use super::extract::requested_lines;
use super::matching::{Match, match_product, resolve_choice};
use super::{OrderContext, OrderTurn, intent, reply, stored_summary};
use crate::money::money;
use crate::{OrderDesk, OrderError};

/// A new order number: `ORD-` and eight digits (the form `tria-intent` recognises).
fn new_order_number() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 90_000_000 + 10_000_000;
    format!("ORD-{n}")
}

impl OrderDesk {
    pub(super) async fn catalogue_rows(&self, cx: &OrderContext<'_>) -> Result<Vec<Product>, OrderError> {
        Ok(self.store().catalogue().list(cx.tenant.id).await?)
    }

    /// Reads the message's line items into `d`; returns notes for what could not be read
    /// (unknown or discontinued products, missing quantities). Ambiguous products become
    /// questions on the draft.
    pub(super) async fn read_lines(&self, cx: &OrderContext<'_>, d: &mut Draft) -> Result<Vec<String>, OrderError> {
        let catalogue = self.catalogue_rows(cx).await?;
        let changing = d.target_order.is_some();
        Ok(read_lines_as(cx, d, changing, &catalogue))
    }
}

/// [`Agent::read_lines`] against `catalogue`; with `changing` a named product's quantity
/// replaces the one on the draft ("make it 6 cases of …") unless the message adds ("2 more …"),
/// and removal words drop it.
fn read_lines_as(cx: &OrderContext<'_>, d: &mut Draft, changing: bool, catalogue: &[Product]) -> Vec<String> {
    let text = intent::without_order_numbers(cx.message, &cx.order_numbers);
    let (removal, addition) = (intent::is_removal(&text), intent::is_addition(&text));
    let mut notes = Vec::new();
    for line in requested_lines(&text) {
        let found = match match_product(&line.phrase, line.unit_word.as_deref(), catalogue) {
            // Changing an order: of several fitting products, the one already on it.
            Match::Ambiguous(candidates) if changing => {
                let on_order: Vec<&Product> = candidates.iter().copied().filter(|p| d.lines.iter().any(|l| l.sku == p.sku)).collect();
                if let [one] = on_order.as_slice() { Match::One(one) } else { Match::Ambiguous(candidates) }
            }
            other => other,
        };
        match found {
            Match::One(p) if changing && removal => d.set(&p.sku, 0),
            Match::One(p) => match line.quantity {
                Some(q) if q <= 0 => notes.push(format!("The quantity for {} must be at least 1.", p.name)),
                Some(q) if changing && !addition => d.set(&p.sku, q),
                Some(q) => d.add(&p.sku, q),
                None => notes.push(format!("How many of {} [{}] would you like? It is sold per {}.", p.name, p.sku, p.unit)),
            },
            Match::Ambiguous(candidates) => match line.quantity {
                Some(q) if q > 0 => d.questions.push(Question {
                    quantity: q,
                    phrase: line.phrase.clone(),
                    candidates: candidates.iter().map(|p| p.sku.clone()).collect(),
                }),
                Some(_) => notes.push("Quantities must be at least 1.".to_owned()),
                None => {
                    let names: Vec<String> = candidates.iter().map(|p| format!("{} [{}]", p.name, p.sku)).collect();
                    notes.push(format!("How many would you like, and which one: {}?", names.join(", ")));
                }
            },
            Match::Inactive(p) => notes.push(format!("{} [{}] is no longer sold, so it cannot be ordered.", p.name, p.sku)),
            Match::Unknown if line.phrase.trim().is_empty() => {}
            Match::Unknown => notes.push(reply::unknown_text(&line.phrase)),
        }
    }
    notes
}

impl OrderDesk {
    /// New line items for the conversation's draft (a new one when there is none).
    pub(super) async fn add_lines(&self, cx: &OrderContext<'_>, draft: Option<Draft>) -> Result<OrderTurn, OrderError> {
        let mut d = draft.unwrap_or_else(|| Draft::new(cx.customer));
        d.customer = cx.customer;
        let before = (d.lines.clone(), d.questions.len());
        let notes = self.read_lines(cx, &mut d).await?;
        if (d.lines.clone(), d.questions.len()) == before && d.lines.is_empty() && d.questions.is_empty() {
            let mut text = notes.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str("What would you like to order? For example: \"12 cases of 16 oz hot cups and 3 bags of house blend\".");
            return Ok(cx.turn(text));
        }
        self.continue_draft(cx, d, notes).await
    }

    /// A revision of the draft in progress ("actually make it 6 cases", "remove the pumps",
    /// "change the caramel syrup to 3"), if the message is one. A bare quantity applies to a
    /// one-line draft; with several lines the customer is asked which one.
    pub(super) async fn revise_draft(&self, cx: &OrderContext<'_>, d: &Draft) -> Result<Option<OrderTurn>, OrderError> {
        if d.lines.is_empty() || !cx.order_numbers.is_empty() || !intent::is_revision(cx.message) {
            return Ok(None);
        }
        let catalogue = self.catalogue_rows(cx).await?;
        let requested = requested_lines(cx.message);
        // A product named with a quantity (or to remove); a product-like word in a question
        // ("actually, do you have lids?") is not a revision.
        let removal = intent::is_removal(cx.message);
        let names_a_product = requested.iter().any(|l| {
            (l.quantity.is_some() || removal) && !matches!(match_product(&l.phrase, l.unit_word.as_deref(), &catalogue), Match::Unknown)
        });
        let mut revised = d.clone();
        let notes = if names_a_product {
            read_lines_as(cx, &mut revised, true, &catalogue)
        } else {
            let quantities: Vec<i64> = requested.iter().filter_map(|l| l.quantity).collect();
            match (quantities.as_slice(), d.lines.as_slice()) {
                ([q], [only]) if *q > 0 => {
                    revised.set(&only.sku, *q);
                    vec![]
                }
                ([_], [only]) => vec![format!("The quantity for {} must be at least 1.", only.sku)],
                ([q], _) => {
                    let skus: Vec<&str> = d.lines.iter().map(|l| l.sku.as_str()).collect();
                    return Ok(Some(cx.turn(format!(
                        "Which item should be {q}? Your order has {}. For example: \"make it {q} of {}\".",
                        skus.join(", "),
                        skus[0]
                    ))));
                }
                // Not a change of quantities ("actually, what is the total?"): not ours.
                _ => return Ok(None),
            }
        };
        revised.stage = Stage::Building;
        self.continue_draft(cx, revised, notes).await.map(Some)
    }

    /// An answer to the draft's first open question, if the message is one.
    pub(super) async fn answer_clarification(&self, cx: &OrderContext<'_>, d: &mut Draft) -> Result<Option<OrderTurn>, OrderError> {
        let Some(question) = d.questions.first().cloned() else { return Ok(None) };
        let catalogue = self.catalogue_rows(cx).await?;
        let candidates: Vec<&Product> = question.candidates.iter().filter_map(|sku| catalogue.iter().find(|p| &p.sku == sku)).collect();
        let Some(chosen) = resolve_choice(cx.message, &candidates) else { return Ok(None) };
        d.questions.remove(0);
        if d.target_order.is_some() {
            d.set(&chosen.sku, question.quantity);
        } else {
            d.add(&chosen.sku, question.quantity);
        }
        self.continue_draft(cx, d.clone(), vec![]).await.map(Some)
    }

    /// Stores the draft and says what comes next: the customer's id, an open question, or the
    /// priced summary to confirm.
    pub(super) async fn continue_draft(
        &self,
        cx: &OrderContext<'_>,
        mut d: Draft,
        mut notes: Vec<String>,
    ) -> Result<OrderTurn, OrderError> {
        let drafts = self.store().drafts();
        let label = if d.target_order.is_some() { IntentLabel::OrderChange } else { IntentLabel::OrderPlacement };
        if d.customer.is_none() {
            d.stage = Stage::AwaitingCustomer;
            drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
            notes.push(super::ASK_CUSTOMER.to_owned());
            return Ok(cx.turn_as(notes.join("\n"), label));
        }
        let catalogue = self.catalogue_rows(cx).await?;
        if let Some(question) = d.questions.first() {
            let candidates: Vec<&Product> = question.candidates.iter().filter_map(|sku| catalogue.iter().find(|p| &p.sku == sku)).collect();
            notes.push(reply::question_text(question, &candidates, &cx.currency));
            d.stage = Stage::Building;
            drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
            return Ok(cx.turn_as(notes.join("\n"), label));
        }
        let priced = price(&d.lines, &catalogue, &cx.rules, &cx.currency);
        notes.extend(priced.problems.iter().map(reply::problem_text));
        // Only lines that can be ordered stay on the draft.
        d.lines.retain(|l| priced.summary.lines.iter().any(|s| s.sku == l.sku));
        if d.lines.is_empty() {
            if d.target_order.is_some() {
                notes.push("An order needs at least one line; to drop the whole order, ask me to cancel it.".to_owned());
            } else {
                notes.push("What would you like to order?".to_owned());
            }
            d.stage = Stage::Building;
            drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
            return Ok(cx.turn_as(notes.join("\n"), label));
        }
        let mut summary = priced.summary;
        if let Some(problem) = priced.order_problem {
            notes.push(problem);
            d.stage = Stage::Building;
            drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
            return Ok(cx.turn_as(notes.join("\n"), label).with_order(summary));
        }
        let heading = match d.target_order {
            Some(id) => match self.store().orders().find(cx.tenant.id, id).await? {
                Some(order) => format!("Here is order {} with your changes:", order.number),
                None => "Here is the order with your changes:".to_owned(),
            },
            None => "Here is your order:".to_owned(),
        };
        notes.push(reply::summary_text(&summary, &cx.rules, &heading));
        notes.push(if d.target_order.is_some() {
            "Reply \"Confirm\" to apply the change, or tell me what else to change.".to_owned()
        } else {
            reply::CONFIRM_HINT.to_owned()
        });
        d.stage = Stage::AwaitingConfirmation;
        drafts.save(cx.tenant.id, cx.conversation, d.to_state()).await?;
        summary.awaiting_confirmation = true;
        Ok(cx.turn_as(notes.join("\n"), label).with_order(summary))
    }

    /// A confirmed change that would take the order above the tenant's approval threshold: the
    /// order stays as it is and a person is asked to approve the change, as for a new order
    /// that large.
    async fn change_needs_approval(&self, cx: &OrderContext<'_>, target: uuid::Uuid, total: i64) -> Result<OrderTurn, OrderError> {
        let orders = self.store().orders();
        self.store().drafts().clear(cx.tenant.id, cx.conversation).await?;
        let Some(order) = orders.find(cx.tenant.id, target).await? else {
            return Ok(cx.turn_as("I could not find that order any more. Nothing was changed.", IntentLabel::OrderChange));
        };
        let threshold = cx.rules.approval_threshold_minor.unwrap_or_default();
        let reason = format!(
            "a change to order {} would take its total to {}, above the approval threshold of {}",
            order.number,
            money(total, &order.currency),
            money(threshold, &order.currency)
        );
        orders.open_escalation(cx.tenant.id, order.id, &format!("approval needed: {reason}")).await?;
        let hours = cx.rules.support_hours.as_deref().map(|h| format!(" during our support hours ({h})")).unwrap_or_default();
        let text = format!(
            "With your changes order {} would total {}, which is above {}, so a member of our team needs to approve the change. \
             Order {} stays as it is until then, and a person will get back to you{hours}.",
            order.number,
            money(total, &order.currency),
            money(threshold, &order.currency),
            order.number
        );
        let mut turn = cx.turn_as(text, IntentLabel::OrderChange);
        turn.handoff = Some(reason);
        Ok(turn)
    }

    /// The explicit confirmation: places the order (or applies the change) from fresh
    /// catalogue prices. Above the tenant's approval threshold the order is stored as a draft
    /// and a person is asked to approve it.
    pub(super) async fn confirm(&self, cx: &OrderContext<'_>, mut d: Draft) -> Result<OrderTurn, OrderError> {
        let catalogue = self.catalogue_rows(cx).await?;
        let priced = price(&d.lines, &catalogue, &cx.rules, &cx.currency);
        if !priced.problems.is_empty() || priced.order_problem.is_some() || priced.summary.lines.is_empty() {
            // Prices, stock or the catalogue changed since the summary: show it again.
            return self.continue_draft(cx, d, vec!["Something changed since I showed you the order.".into()]).await;
        }
        let Some(customer) = d.customer else {
            return self.continue_draft(cx, d, vec![]).await;
        };
        let lines: Vec<NewOrderLine> = d.lines.iter().map(|l| NewOrderLine { sku: l.sku.clone(), quantity: l.quantity }).collect();
        let orders = self.store().orders();
        if let Some(target) = d.target_order {
            if cx.rules.needs_approval(priced.summary.total_minor) {
                return self.change_needs_approval(cx, target, priced.summary.total_minor).await;
            }
            return match orders.replace_lines(cx.tenant.id, target, &lines).await {
                Ok(order) => {
                    self.store().drafts().clear(cx.tenant.id, cx.conversation).await?;
                    let items = orders.items(cx.tenant.id, order.id).await?;
                    let summary = stored_summary(&order, &items, &catalogue);
                    let text = format!(
                        "Done: order {} now is\n{}\nNew total: {}.",
                        order.number,
                        reply::lines_text(&summary),
                        money(order.total_minor, &order.currency)
                    );
                    Ok(cx.turn_as(text, IntentLabel::OrderChange).with_order(summary))
                }
                Err(StoreError::Conflict(why)) => {
                    d.stage = super::draft::Stage::Building;
                    self.store().drafts().save(cx.tenant.id, cx.conversation, d.to_state()).await?;
                    Ok(cx.turn_as(format!("I could not apply the change: {why}. Nothing was changed."), IntentLabel::OrderChange))
                }
                Err(e) => Err(e.into()),
            };
        }
        let key = format!("chat-{}-{}", cx.conversation, d.key);
        let total = priced.summary.total_minor;
        let needs_approval = cx.rules.needs_approval(total);
        let new = NewOrder {
            customer,
            number: new_order_number(),
            status: OrderStatus::Draft,
            idempotency_key: key.clone(),
            lines,
            created_at: Utc::now(),
            outbox_kind: None,
        };
        let placed = if needs_approval { orders.create(cx.tenant.id, new).await } else { orders.place(cx.tenant.id, new).await };
        let order = match placed {
            Ok(order) => order,
            Err(StoreError::Conflict(why)) => match orders.find_by_idempotency_key(cx.tenant.id, &key).await? {
                // "Confirm" sent twice at once: the other request placed it.
                Some(order) => order,
                None => {
                    return self
                        .continue_draft(
                            cx,
                            d,
                            vec![format!("Sorry, I could not place the order: {why}. Please adjust it and confirm again.")],
                        )
                        .await;
                }
            },
            Err(e) => return Err(e.into()),
        };
        self.store().drafts().clear(cx.tenant.id, cx.conversation).await?;
        let items = orders.items(cx.tenant.id, order.id).await?;
        let summary = stored_summary(&order, &items, &catalogue);
        let mut turn;
        if needs_approval {
            let threshold = cx.rules.approval_threshold_minor.unwrap_or_default();
            let reason = format!(
                "order {} totals {}, above the approval threshold of {}",
                order.number,
                money(order.total_minor, &order.currency),
                money(threshold, &order.currency)
            );
            orders.open_escalation(cx.tenant.id, order.id, &format!("approval needed: {reason}")).await?;
            let hours = cx.rules.support_hours.as_deref().map(|h| format!(" during our support hours ({h})")).unwrap_or_default();
            let text = format!(
                "Thank you. Order {} totals {}, which is above {}, so a member of our team needs to approve it before it is processed. \
                 It stays a draft until then, and nothing is charged; a person will get back to you{hours}.",
                order.number,
                money(order.total_minor, &order.currency),
                money(threshold, &order.currency)
            );
            turn = cx.turn_as(text, IntentLabel::OrderPlacement);
            turn.handoff = Some(reason);
        } else {
            let invoice = reply::invoice_promise(cx.rules.email_invoices, self.invoicing_degraded());
            let text = format!(
                "Thank you! Order {} is confirmed:\n{}\nTotal: {}. {invoice}",
                order.number,
                reply::lines_text(&summary),
                money(order.total_minor, &order.currency)
            );
            turn = cx.turn_as(text, IntentLabel::OrderPlacement);
        }
        Ok(turn.with_order(summary))
    }
}
