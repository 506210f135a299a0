//! Tria's shared vocabulary: identifiers, tenant and chat types, intent labels and error codes.
//! Every other crate depends on this one; it depends on nothing of Tria's and holds no I/O.

pub mod answer;
pub mod chat;
pub mod constraints;
pub mod currency;
pub mod error;
pub mod ids;
pub mod intent;
pub mod json_object;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod status;
pub mod tenant;

pub use answer::Answer;
pub use chat::{CacheLevel, ChatReply, ChatRequest, IntentVerdict, OrderLineSummary, OrderSummary, ReplyUsage, SourceRef};
pub use error::{ErrorCode, InputError};
pub use ids::{ConversationId, CustomerId, TenantId};
pub use intent::IntentLabel;
pub use status::{ConversationStatus, MessageRole, OrderStatus, Resolution};
pub use tenant::{ApiRole, TenantContext, ToneProfile, ToneStyle};
