//! The chat pipeline as a library: resolve the session, classify the intent, retrieve the
//! tenant's policies, compose a grounded reply and persist the exchange. Embed it with
//! [`Agent::builder`] and call [`Agent::chat`].

mod agent;
mod cached;
mod catalogue;
mod client;
mod components;
pub mod context;
mod conversation;
pub mod customer_data;
mod error;
mod generation;
mod group_commit;
pub mod handoff;
mod input;
pub mod intent_fallback;
pub mod language;
pub mod ledger;
mod llm_failover;
mod llm_guard;
mod message_facts;
mod orders;
mod persist;
mod pipeline;
pub mod resolution;
mod responder;
mod routing;
pub mod safety;
mod scope;
pub mod semantic;
mod session;
pub mod setup;
pub mod stream;
mod tenant_indexes;
pub mod trace;

pub use agent::{Agent, AgentBuilder};
pub use cached::WarmReport;
pub use client::{ChatClient, with_chat_client};
pub use context::HistoryMessage;
pub use conversation::OperatorReply;
pub use error::AgentError;
pub use generation::{GenerationInfo, LlmDirectory, LlmRoute};
pub use handoff::{HandoffEvent, HandoffNotifier, HandoffReason, NotifyError};
pub use input::ChatLimits;
pub use intent_fallback::{LlmIntentFallback, LlmIntentOptions};
pub use llm_guard::{FALLBACK_MARGIN, FallbackReason, LlmGuard, LlmProviderStatus, LlmResilience};
pub use orders::{VerificationLimits, VerificationStats};
pub use pipeline::BegunTurn;
pub use resolution::SettleReport;
pub use semantic::{SemanticParts, load_semantic};
pub use session::{Caller, Channel};
pub use stream::{ChatEvent, Usage};
pub use trace::{ChatDebug, StageTimings};
pub use tria_rag::EmbedderStatus;
