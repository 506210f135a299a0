//! The order a conversation is building: lines by SKU, the clarifying questions still open, and
//! the key that makes placing it idempotent. Stored per conversation (`order_drafts`), so the
//! next message may reach any instance. Prices are never stored here: [`price`] reads them from
//! the catalogue each time.

use serde::{Deserialize, Serialize};
use tria_core::{CustomerId, OrderLineSummary, OrderStatus, OrderSummary};
use tria_store::records::Product;
use tria_store::repo::DraftState;
use uuid::Uuid;

use super::rules::OrderRules;

/// What the draft waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Lines are being collected or a clarifying question is open.
    Building,
    /// We asked for the customer's id.
    AwaitingCustomer,
    /// The summary was shown; an explicit confirmation places (or changes) the order.
    AwaitingConfirmation,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Building => "building",
            Stage::AwaitingCustomer => "awaiting_customer",
            Stage::AwaitingConfirmation => "awaiting_confirmation",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "awaiting_customer" => Stage::AwaitingCustomer,
            "awaiting_confirmation" => Stage::AwaitingConfirmation,
            _ => Stage::Building,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DraftLine {
    pub(crate) sku: String,
    pub(crate) quantity: i64,
}

/// A product the customer named ambiguously: which SKUs fit, and the quantity to use once
/// they pick one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Question {
    pub(crate) quantity: i64,
    pub(crate) phrase: String,
    pub(crate) candidates: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    key: Option<Uuid>,
    #[serde(default)]
    questions: Vec<Question>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claimed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    asked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancelling: Option<Uuid>,
}

/// A conversation's order draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Draft {
    pub(crate) stage: Stage,
    pub(crate) customer: Option<CustomerId>,
    /// Set when the draft changes this existing order.
    pub(crate) target_order: Option<Uuid>,
    pub(crate) lines: Vec<DraftLine>,
    pub(crate) questions: Vec<Question>,
    /// Placing the draft twice ("Confirm" sent twice) creates one order.
    pub(crate) key: Uuid,
    /// The customer number a message claimed, waiting for the account's email address.
    pub(crate) claimed: Option<String>,
    /// The order question asked before we knew the customer, answered once we do.
    pub(crate) asked: Option<String>,
    /// The existing order we asked whether to cancel: the next message confirms or keeps it.
    pub(crate) cancelling: Option<Uuid>,
}

impl Draft {
    pub(crate) fn new(customer: Option<CustomerId>) -> Self {
        Self {
            stage: Stage::Building,
            customer,
            target_order: None,
            lines: vec![],
            questions: vec![],
            key: Uuid::new_v4(),
            claimed: None,
            asked: None,
            cancelling: None,
        }
    }

    pub(crate) fn from_state(state: DraftState) -> Self {
        let lines = serde_json::from_value(state.lines).unwrap_or_default();
        let pending: Pending = state.pending.and_then(|p| serde_json::from_value(p).ok()).unwrap_or_default();
        Self {
            stage: Stage::parse(&state.state),
            customer: state.customer,
            target_order: state.target_order,
            lines,
            questions: pending.questions,
            key: pending.key.unwrap_or_else(Uuid::new_v4),
            claimed: pending.claimed,
            asked: pending.asked,
            cancelling: pending.cancelling,
        }
    }

    pub(crate) fn to_state(&self) -> DraftState {
        DraftState {
            customer: self.customer,
            target_order: self.target_order,
            state: self.stage.as_str().to_owned(),
            lines: serde_json::to_value(&self.lines).unwrap_or_default(),
            pending: serde_json::to_value(Pending {
                key: Some(self.key),
                questions: self.questions.clone(),
                claimed: self.claimed.clone(),
                asked: self.asked.clone(),
                cancelling: self.cancelling,
            })
            .ok(),
        }
    }

    /// Nothing in progress: the row can go.
    pub(crate) fn is_empty(&self) -> bool {
        self.stage == Stage::Building
            && self.lines.is_empty()
            && self.questions.is_empty()
            && self.target_order.is_none()
            && self.cancelling.is_none()
    }

    /// Adds `quantity` of `sku` (to a line already there, or as a new line).
    pub(crate) fn add(&mut self, sku: &str, quantity: i64) {
        match self.lines.iter_mut().find(|l| l.sku == sku) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None => self.lines.push(DraftLine { sku: sku.to_owned(), quantity }),
        }
    }

    /// Sets the quantity of `sku` (0 removes the line).
    pub(crate) fn set(&mut self, sku: &str, quantity: i64) {
        self.lines.retain(|l| l.sku != sku);
        if quantity > 0 {
            self.lines.push(DraftLine { sku: sku.to_owned(), quantity });
        }
    }
}

/// Why a set of lines cannot be ordered as it is; each message quotes only catalogue values and
/// the customer's own quantities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LineProblem {
    NotPositive { name: String },
    OverLineMaximum { name: String, max: i64 },
    NotEnoughStock { name: String, sku: String, in_stock: i64 },
    NoLongerSold { name: String, sku: String },
    Missing { sku: String },
}

/// A priced draft: the summary to show and what is wrong with it, if anything.
#[derive(Clone, Debug)]
pub(crate) struct Priced {
    pub(crate) summary: OrderSummary,
    pub(crate) problems: Vec<LineProblem>,
    /// Per-order maximums broken (too many lines or units).
    pub(crate) order_problem: Option<String>,
}

/// Prices `lines` from `catalogue` (current prices, units, stock) and checks the bounds.
/// `currency` is the tenant's; a product in another currency is reported missing rather than
/// mixed into the total.
pub(crate) fn price(lines: &[DraftLine], catalogue: &[Product], rules: &OrderRules, currency: &str) -> Priced {
    let mut problems = Vec::new();
    let mut summary_lines = Vec::with_capacity(lines.len());
    let mut total: i64 = 0;
    for line in lines {
        let Some(product) = catalogue.iter().find(|p| p.sku == line.sku && p.currency.eq_ignore_ascii_case(currency)) else {
            problems.push(LineProblem::Missing { sku: line.sku.clone() });
            continue;
        };
        if line.quantity <= 0 {
            problems.push(LineProblem::NotPositive { name: product.name.clone() });
            continue;
        }
        if line.quantity > rules.max_quantity_per_line {
            problems.push(LineProblem::OverLineMaximum { name: product.name.clone(), max: rules.max_quantity_per_line });
            continue;
        }
        if !product.active {
            problems.push(LineProblem::NoLongerSold { name: product.name.clone(), sku: product.sku.clone() });
            continue;
        }
        if product.stock < line.quantity {
            problems.push(LineProblem::NotEnoughStock {
                name: product.name.clone(),
                sku: product.sku.clone(),
                in_stock: product.stock.max(0),
            });
            continue;
        }
        let line_total = product.unit_price_minor.saturating_mul(line.quantity);
        total = total.saturating_add(line_total);
        summary_lines.push(OrderLineSummary {
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity: line.quantity,
            unit: product.unit.clone(),
            unit_price_minor: product.unit_price_minor,
            line_total_minor: line_total,
        });
    }
    let units: i64 = lines.iter().map(|l| l.quantity.max(0)).fold(0, i64::saturating_add);
    let order_problem = if lines.len() > rules.max_lines_per_order {
        Some(format!("An order can have at most {} lines; please split it into several orders.", rules.max_lines_per_order))
    } else if units > rules.max_units_per_order {
        Some(format!(
            "An order can have at most {} units in total; for larger quantities our team prepares a quote.",
            rules.max_units_per_order
        ))
    } else {
        None
    };
    let summary = OrderSummary {
        order_number: None,
        status: OrderStatus::Draft,
        lines: summary_lines,
        total_minor: total,
        currency: currency.to_owned(),
        awaiting_confirmation: false,
    };
    Priced { summary, problems, order_problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::tests::catalogue;

    #[test]
    fn a_draft_round_trips_through_its_stored_form() {
        let mut draft = Draft::new(Some(CustomerId(Uuid::new_v4())));
        draft.add("NW-MLK-OAT", 2);
        draft.add("NW-MLK-OAT", 3);
        draft.questions.push(Question { quantity: 4, phrase: "house blend".into(), candidates: vec!["A".into(), "B".into()] });
        draft.stage = Stage::AwaitingConfirmation;
        let back = Draft::from_state(draft.to_state());
        assert_eq!(back, draft);
        assert_eq!(back.lines, vec![DraftLine { sku: "NW-MLK-OAT".into(), quantity: 5 }]);
    }

    #[test]
    fn prices_come_from_the_catalogue_and_bounds_are_enforced() {
        let cat = catalogue();
        let rules = OrderRules::from_settings(&serde_json::json!({ "max_quantity_per_line": 100 }));
        let lines = vec![
            DraftLine { sku: "NW-CUP-16OZ".into(), quantity: 12 },
            DraftLine { sku: "NW-MLK-OAT".into(), quantity: 3 },
            DraftLine { sku: "NW-COF-ESP-1KG".into(), quantity: 101 },
            DraftLine { sku: "NW-CUP-12OZ-DW".into(), quantity: 75 },
            DraftLine { sku: "NW-CUP-10OZ".into(), quantity: 1 },
            DraftLine { sku: "NW-CUP-12OZ".into(), quantity: 0 },
        ];
        let priced = price(&lines, &cat, &rules, "USD");
        assert_eq!(priced.summary.lines.len(), 2);
        assert_eq!(priced.summary.lines[0].line_total_minor, 12 * 8400);
        assert_eq!(priced.summary.total_minor, 12 * 8400 + 3 * 1900);
        assert_eq!(
            priced.problems,
            vec![
                LineProblem::OverLineMaximum { name: "Northwind Espresso Roast, Whole Bean".into(), max: 100 },
                LineProblem::NotEnoughStock { name: "Double-Wall Hot Cup 12 oz, Kraft".into(), sku: "NW-CUP-12OZ-DW".into(), in_stock: 74 },
                LineProblem::NoLongerSold { name: "Hot Cup 10 oz, White, Single Wall (discontinued)".into(), sku: "NW-CUP-10OZ".into() },
                LineProblem::NotPositive { name: "Hot Cup 12 oz, White, Single Wall".into() },
            ]
        );
        let many: Vec<DraftLine> = (0..3).map(|_| DraftLine { sku: "NW-MLK-OAT".into(), quantity: 900 }).collect();
        assert!(price(&many, &cat, &OrderRules::from_settings(&serde_json::json!({})), "USD").order_problem.is_some());
    }
}
