//! The chat request and reply exchanged over `POST /api/chat` and the agent's library API.

use serde::{Deserialize, Serialize};

use crate::{IntentLabel, OrderStatus};

/// A customer's message. `session_id` continues a conversation; `customer_id` is the tenant's
/// own external customer id.
// Its OpenAPI schema (feature `openapi`) takes the limits from `crate::constraints`, as
// `tria_agent::input` does when it validates one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::message))]
    pub message: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::session_id))]
    pub session_id: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::customer_id))]
    pub customer_id: Option<String>,
}

impl ChatRequest {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), session_id: None, customer_id: None }
    }
}

/// Which cache level answered, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CacheLevel {
    L1,
    L2,
    L3,
    #[default]
    None,
}

impl CacheLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheLevel::L1 => "l1",
            CacheLevel::L2 => "l2",
            CacheLevel::L3 => "l3",
            CacheLevel::None => "none",
        }
    }
}

/// The classifier's verdict as shown to API users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntentVerdict {
    pub label: IntentLabel,
    pub confidence: f32,
}

/// A piece of grounding the reply relied on, for citations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceRef {
    /// Stable chunk id.
    pub id: String,
    /// Document title.
    pub title: String,
    /// Heading path inside the document, e.g. `Returns › Refund timelines`.
    pub heading: String,
    pub score: f32,
}

/// What producing one reply cost: the LLM's tokens and dollars, and the prompt version that
/// wrote it. Zeros (and no version) when a cache level or the offline responder answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplyUsage {
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub cost_usd: f64,
    pub prompt_version: Option<String>,
    /// Why a configured LLM did not write this reply and the grounded responder did instead
    /// (`deadline`, `circuit_open`, `rate_limited`, `llm_error`, `rejected`); absent when the
    /// model wrote it, or no model is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// The answer to one chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatReply {
    pub reply: String,
    pub session_id: String,
    pub intent: IntentVerdict,
    pub sources: Vec<SourceRef>,
    pub cache: CacheLevel,
    pub latency_ms: u64,
    /// The stored assistant message, for feedback (`POST /api/v1/messages/{id}/feedback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The order this reply is about (a draft awaiting confirmation, or a placed order); absent
    /// when the reply is not about an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderSummary>,
    /// Always serialized; defaulted when reading replies from before it existed.
    #[serde(default)]
    pub usage: ReplyUsage,
    /// True when the conversation is now with a person (the bot no longer answers it).
    #[serde(default)]
    pub handoff: bool,
    /// The customer's language as the reply was written for it (ISO 639-1: `en`, `de`, `es`,
    /// `fr`): the message's own, or the session's when the message was too short to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// An order as shown to the customer. Every number comes from the catalogue or the stored order
/// rows, never from a model; money is in minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderSummary {
    /// `ORD-…` once placed; `None` for a draft.
    pub order_number: Option<String>,
    pub status: OrderStatus,
    pub lines: Vec<OrderLineSummary>,
    pub total_minor: i64,
    pub currency: String,
    /// True while a draft waits for the customer's explicit confirmation ("Confirm").
    pub awaiting_confirmation: bool,
}

/// One line of an [`OrderSummary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLineSummary {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit: String,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_omitted_when_absent_and_keeps_its_wire_shape_when_present() {
        let mut reply = ChatReply {
            reply: "hi".into(),
            session_id: "s".into(),
            intent: IntentVerdict { label: IntentLabel::Greeting, confidence: 1.0 },
            sources: vec![],
            cache: CacheLevel::None,
            latency_ms: 1,
            message_id: None,
            order: None,
            usage: ReplyUsage::default(),
            handoff: false,
            language: None,
        };
        let json = serde_json::to_value(&reply).expect("serialises");
        assert!(json.get("order").is_none(), "{json}");
        assert!(json.get("language").is_none(), "{json}");
        reply.order = Some(OrderSummary {
            order_number: None,
            status: OrderStatus::Draft,
            lines: vec![OrderLineSummary {
                sku: "NW-CUP16".into(),
                name: "Paper Cups 16oz".into(),
                quantity: 12,
                unit: "box".into(),
                unit_price_minor: 4500,
                line_total_minor: 54_000,
            }],
            total_minor: 54_000,
            currency: "USD".into(),
            awaiting_confirmation: true,
        });
        let json = serde_json::to_value(&reply).expect("serialises");
        assert_eq!(
            json["order"],
            serde_json::json!({
                "order_number": null, "status": "draft",
                "lines": [{"sku": "NW-CUP16", "name": "Paper Cups 16oz", "quantity": 12, "unit": "box",
                           "unit_price_minor": 4500, "line_total_minor": 54000}],
                "total_minor": 54000, "currency": "USD", "awaiting_confirmation": true
            })
        );
        let back: ChatReply = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, reply);
    }
}
