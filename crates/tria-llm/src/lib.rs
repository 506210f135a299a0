//! The LLM seam: the [`LlmClient`] trait (complete and stream, one typed [`LlmError`]), the
//! OpenAI-compatible HTTP client [`OpenAiClient`], per-model prices ([`PriceTable`]) and the
//! versioned prompt templates ([`PromptLibrary`]).
//!
//! Consumers hold an `Arc<dyn LlmClient>`; resilience (retries, backoff, `Retry-After`, the
//! concurrency cap, timeouts) lives inside the HTTP client so a caller sees either a completion
//! or one typed error.

mod client;
mod error;
mod openai;
pub mod prices;
pub mod prompt;
mod retry;
pub mod sse;
pub mod tokens;
mod types;

pub use client::LlmClient;
pub use error::LlmError;
pub use openai::{OpenAiClient, OpenAiConfig};
pub use prices::{Cost, ModelPrice, PriceTable};
pub use prompt::{PromptContext, PromptError, PromptLibrary, RenderedPrompt};
pub use retry::RetryPolicy;
pub use types::{ChatMessage, Completion, CompletionRequest, LlmStream, Role, StreamEvent, Usage, UsageSource};
