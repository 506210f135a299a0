//! The streaming form of [`Agent::chat`]: a `meta` event once the session and intent are known,
//! `token` deltas of the reply, then `done` with sources, usage and latency — or one `error`.
//!
//! The reply is produced by the same pipeline as `chat` (cache, intent, retrieval, responder,
//! persistence), so a streamed answer is exactly the stored one. Dropping the stream cancels the
//! work in progress; the exchange is persisted in one transaction, so a cancelled request leaves
//! nothing half-written.

use futures::Stream;
use futures::stream::{self, StreamExt};
use serde::Serialize;
use tria_core::{CacheLevel, ChatReply, ChatRequest, ErrorCode, IntentVerdict, SourceRef, TenantContext};

use crate::{Agent, AgentError};

/// Token counts of one exchange (cl100k, as the LLM would count them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl Usage {
    pub fn of(message: &str, reply: &str) -> Self {
        let prompt_tokens = tria_cache::count_tokens(message);
        let completion_tokens = tria_cache::count_tokens(reply);
        Self { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
    }
}

/// One server-sent event of a streamed chat; the variant name is the SSE event name.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ChatEvent {
    Meta {
        session_id: String,
        intent: IntentVerdict,
        cache: CacheLevel,
    },
    Token {
        delta: String,
    },
    Done {
        sources: Vec<SourceRef>,
        usage: Usage,
        latency_ms: u64,
        cache: CacheLevel,
        /// The stored assistant message (for feedback).
        #[serde(skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ChatEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::Meta { .. } => "meta",
            ChatEvent::Token { .. } => "token",
            ChatEvent::Done { .. } => "done",
            ChatEvent::Error { .. } => "error",
        }
    }

    /// The SSE `data:` payload (JSON without the tag).
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(mut v) => v.get_mut("data").map(serde_json::Value::take).unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// The events of a finished exchange (or its failure), in order.
    pub fn sequence(message: &str, result: Result<ChatReply, AgentError>) -> Vec<ChatEvent> {
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                let (code, message) = e.public();
                return vec![ChatEvent::Error { code, message }];
            }
        };
        let mut events = Vec::with_capacity(reply.reply.len() / 4 + 2);
        events.push(ChatEvent::Meta { session_id: reply.session_id.clone(), intent: reply.intent.clone(), cache: reply.cache });
        events.extend(token_deltas(&reply.reply).map(|delta| ChatEvent::Token { delta: delta.to_owned() }));
        events.push(ChatEvent::Done {
            usage: Usage::of(message, &reply.reply),
            sources: reply.sources,
            latency_ms: reply.latency_ms,
            cache: reply.cache,
            message_id: reply.message_id,
        });
        events
    }
}

/// Word-sized pieces that concatenate back to `text` exactly (whitespace stays with the word
/// before it), the granularity an LLM stream delivers.
pub fn token_deltas(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(char::is_whitespace)
}

impl Agent {
    /// [`Agent::chat`] as a stream of [`ChatEvent`]s. Failures arrive as one `error` event.
    pub fn chat_stream<'a>(&'a self, tenant: &'a TenantContext, request: ChatRequest) -> impl Stream<Item = ChatEvent> + Send + 'a {
        let message = request.message.clone();
        stream::once(self.chat(tenant, request)).flat_map(move |result| stream::iter(ChatEvent::sequence(&message, result)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_rebuild_the_reply_exactly() {
        let text = "Returns are accepted within 30 days.\nA 10% fee  applies.";
        let pieces: Vec<&str> = token_deltas(text).collect();
        assert!(pieces.len() > 5);
        assert_eq!(pieces.concat(), text);
        assert_eq!(token_deltas("").count(), 0);
    }

    #[test]
    fn a_failure_is_a_single_error_event_without_internals() {
        let events = ChatEvent::sequence("hi", Err(AgentError::Internal("db password=hunter2".into())));
        assert_eq!(events.len(), 1);
        let ChatEvent::Error { code, message } = &events[0] else { panic!("{events:?}") };
        assert_eq!(*code, ErrorCode::Internal);
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(events[0].name(), "error");
        assert_eq!(events[0].data()["code"], "internal");
    }
}
