//! Requests, completions and stream events, independent of any wire format.

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::LlmError;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of the conversation sent to the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// What to ask the model. The model name is the client's, not the request's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompletionRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// End-user id passed upstream for abuse tracking (OpenAI's `user` field).
    pub user: Option<String>,
    /// When the caller stops waiting: each attempt's timeout is cut to the time left, and a
    /// retry whose backoff or `Retry-After` would end past it is not made (the last error is
    /// returned instead, e.g. [`LlmError::RateLimited`] at once rather than a timeout later).
    pub deadline: Option<std::time::Instant>,
}

impl CompletionRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self { messages, ..Self::default() }
    }
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }
    /// See [`CompletionRequest::deadline`]; an earlier deadline already set is kept.
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> Self {
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        self
    }
}

/// Where the token counts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// The upstream's `usage` object.
    Reported,
    /// Counted locally with the cl100k tokenizer because the upstream did not say.
    Estimated,
}

/// Tokens in and out of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Every prompt token, those served from the provider's prompt cache included.
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// The part of `prompt_tokens` the provider served from its prompt cache (billed at the
    /// cached-input price): OpenAI's and Azure's `usage.prompt_tokens_details.cached_tokens`,
    /// Anthropic's `usage.cache_read_input_tokens`. 0 when not reported.
    #[serde(default)]
    pub cached_prompt_tokens: u32,
    pub source: UsageSource,
}

impl Usage {
    /// Tokens as the provider reported them; `cached_prompt_tokens` is capped at `prompt_tokens`.
    pub fn reported(prompt_tokens: u32, completion_tokens: u32, cached_prompt_tokens: u32) -> Self {
        let cached_prompt_tokens = cached_prompt_tokens.min(prompt_tokens);
        Self { prompt_tokens, completion_tokens, cached_prompt_tokens, source: UsageSource::Reported }
    }

    /// Tokens counted locally (nothing is known to have come from a prompt cache).
    pub fn estimated(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self { prompt_tokens, completion_tokens, cached_prompt_tokens: 0, source: UsageSource::Estimated }
    }

    /// Prompt tokens billed at the full input price.
    pub fn uncached_prompt_tokens(&self) -> u32 {
        self.prompt_tokens.saturating_sub(self.cached_prompt_tokens)
    }

    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A whole answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub text: String,
    /// The model that answered (the upstream's name when it reports one).
    pub model: String,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// How many HTTP attempts it took (1 = no retry).
    pub attempts: u32,
}

/// One item of a streamed answer: text deltas, then exactly one `Done` on success. An `Err` item
/// ends the stream; nothing follows it.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    Done { usage: Usage, finish_reason: Option<String> },
}

/// A streamed answer. Dropping it cancels the upstream request.
pub type LlmStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;
