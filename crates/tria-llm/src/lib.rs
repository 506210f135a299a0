//! The LLM seam: the [`LlmClient`] trait (complete and stream, one typed [`LlmError`]), the
//! HTTP clients — OpenAI-compatible and Azure OpenAI ([`OpenAiClient`]), Anthropic Messages
//! ([`AnthropicClient`]), built from plain settings by [`build`] — per-model prices
//! ([`PriceTable`]) and the versioned prompt templates ([`PromptLibrary`]).
//!
//! Consumers hold an `Arc<dyn LlmClient>`; resilience (retries, backoff, `Retry-After`, the
//! concurrency cap, timeouts) lives inside the HTTP client so a caller sees either a completion
//! or one typed error.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tria_core::{IntentLabel, ToneStyle};
//! use tria_llm::prompt::GroundingItem;
//! use tria_llm::{CompletionRequest, LlmClient, OpenAiClient, OpenAiConfig, PriceTable, PromptContext, PromptLibrary};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let llm: Arc<dyn LlmClient> = Arc::new(OpenAiClient::new(
//!     OpenAiConfig::new("http://127.0.0.1:8090/v1", "tria-mock")
//!         .with_api_key("sk-…")
//!         .with_timeout(Duration::from_secs(20))
//!         .with_max_concurrency(8),
//! )?);
//! let prompts = PromptLibrary::embedded()?; // or PromptLibrary::load_dir("config/prompts".as_ref())?
//! let grounding = [GroundingItem { source: "Returns > Window", text: "Returns are accepted within 30 days." }];
//! let prompt = prompts.render("default", &PromptContext {
//!     tenant_name: "Northwind",
//!     persona: "You are Nora.",
//!     tone: ToneStyle::Friendly,
//!     intent: IntentLabel::PolicyQuestion,
//!     grounding: &grounding,
//!     history: &[],
//!     user_message: "How long do I have to return a box?",
//! })?;
//! let completion = llm.complete(&CompletionRequest::new(prompt.messages).with_max_tokens(300)).await?;
//! let cost = PriceTable::builtin().cost(&completion.model, &completion.usage);
//! println!("{} ({} tokens, {:?}, prompt {})", completion.text, completion.usage.total_tokens(), cost, prompt.version);
//! # Ok(())
//! # }
//! ```

mod anthropic;
mod client;
mod error;
pub mod holdoff;
mod http;
pub mod observe;
mod openai;
pub mod prices;
pub mod prompt;
mod provider;
mod retry;
pub mod sse;
pub mod tokens;
mod types;

pub use anthropic::{
    ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_VERSION, AnthropicClient, AnthropicConfig, AnthropicMessage, to_anthropic_messages,
};
pub use client::LlmClient;
pub use error::LlmError;
pub use holdoff::{HoldOffError, SharedHoldOff};
pub use http::{HeaderSource, HttpOptions};
pub use observe::{
    CacheHitRecord, CallContext, CallOutcome, CallRecord, LedgerOutcome, LlmObserver, ObservedLlm, SettledCall, TurnFacts,
    with_call_context, with_turn,
};
pub use openai::{AZURE_DEFAULT_API_VERSION, OpenAiClient, OpenAiConfig, OpenAiEndpoint};
pub use prices::{Cost, ModelPrice, PriceTable};
pub use prompt::{GroundingItem, PromptContext, PromptError, PromptLibrary, RenderedPrompt};
pub use provider::{Provider, ProviderClient, ProviderConfig, UnknownProvider, build};
pub use retry::RetryPolicy;
pub use types::{ChatMessage, Completion, CompletionRequest, LlmStream, Role, StreamEvent, Usage, UsageSource};
