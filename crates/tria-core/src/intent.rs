//! The closed set of intent labels Tria routes on. The strings are part of the HTTP contract.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the customer wants from this message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IntentLabel {
    OrderPlacement,
    OrderStatus,
    OrderChange,
    ProductInquiry,
    PolicyQuestion,
    Billing,
    Complaint,
    Greeting,
    HumanHandoff,
    OutOfScope,
}

impl IntentLabel {
    /// Every label, in a stable order (used for confusion matrices and metrics).
    pub const ALL: [IntentLabel; 10] = [
        IntentLabel::OrderPlacement,
        IntentLabel::OrderStatus,
        IntentLabel::OrderChange,
        IntentLabel::ProductInquiry,
        IntentLabel::PolicyQuestion,
        IntentLabel::Billing,
        IntentLabel::Complaint,
        IntentLabel::Greeting,
        IntentLabel::HumanHandoff,
        IntentLabel::OutOfScope,
    ];

    /// The wire name, e.g. `order_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentLabel::OrderPlacement => "order_placement",
            IntentLabel::OrderStatus => "order_status",
            IntentLabel::OrderChange => "order_change",
            IntentLabel::ProductInquiry => "product_inquiry",
            IntentLabel::PolicyQuestion => "policy_question",
            IntentLabel::Billing => "billing",
            IntentLabel::Complaint => "complaint",
            IntentLabel::Greeting => "greeting",
            IntentLabel::HumanHandoff => "human_handoff",
            IntentLabel::OutOfScope => "out_of_scope",
        }
    }

    /// Intents whose answer depends on who is asking (their orders, invoices), so an answer
    /// must never be shared between customers.
    pub fn is_customer_specific(self) -> bool {
        matches!(self, IntentLabel::OrderStatus | IntentLabel::OrderChange | IntentLabel::Billing)
    }
}

impl fmt::Display for IntentLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the ten labels.
#[derive(Debug, thiserror::Error)]
#[error("unknown intent label `{0}`")]
pub struct UnknownIntent(pub String);

impl FromStr for IntentLabel {
    type Err = UnknownIntent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IntentLabel::ALL.into_iter().find(|label| label.as_str() == s).ok_or_else(|| UnknownIntent(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_round_trips_through_its_wire_name() {
        for label in IntentLabel::ALL {
            assert_eq!(label.as_str().parse::<IntentLabel>().ok(), Some(label));
            let json = serde_json::to_string(&label).expect("serialises");
            assert_eq!(json, format!("\"{}\"", label.as_str()));
        }
        assert!("shopping".parse::<IntentLabel>().is_err());
    }
}
