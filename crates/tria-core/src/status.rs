//! Lifecycle states stored in the database and shown over the API.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The stored and wire form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses the stored form; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Whether the bot, a person, or nobody is answering a conversation.
    ConversationStatus { Open => "open", HandedOff => "handed_off", Closed => "closed" }
);
wire_enum!(
    /// Who wrote a message.
    MessageRole { User => "user", Assistant => "assistant", System => "system", Operator => "operator" }
);
wire_enum!(
    /// Where an order is in its life.
    OrderStatus {
        Draft => "draft",
        Confirmed => "confirmed",
        Invoiced => "invoiced",
        Cancelled => "cancelled",
        Failed => "failed",
    }
);
wire_enum!(
    /// How a conversation ended, judged by outcome rather than by the bot's own opinion.
    Resolution {
        ResolvedVerified => "resolved_verified",
        ResolvedAssumed => "resolved_assumed",
        HandedOff => "handed_off",
        Abandoned => "abandoned",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_round_trip_and_reject_unknown_values() {
        for status in [OrderStatus::Draft, OrderStatus::Invoiced, OrderStatus::Failed] {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ConversationStatus::parse("handed_off"), Some(ConversationStatus::HandedOff));
        assert_eq!(MessageRole::parse("robot"), None);
        assert_eq!(Resolution::ResolvedVerified.to_string(), "resolved_verified");
    }
}
