//! The chat pipeline as a library: resolve the session, classify the intent, retrieve the
//! tenant's policies, compose a grounded reply and persist the exchange. Embed it with
//! [`Agent::builder`] and call [`Agent::chat`].

mod agent;
mod cached;
mod catalogue;
mod error;
mod generation;
mod input;
mod orders;
mod responder;
pub mod semantic;
pub mod setup;
pub mod stream;

pub use agent::{Agent, AgentBuilder, HistoryMessage};
pub use cached::WarmReport;
pub use error::AgentError;
pub use generation::GenerationInfo;
pub use input::ChatLimits;
pub use semantic::{SemanticParts, load_semantic};
pub use stream::{ChatEvent, Usage};
pub use tria_rag::EmbedderStatus;
