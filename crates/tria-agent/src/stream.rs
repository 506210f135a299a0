//! The streaming form of [`Agent::chat`]: a `meta` event once the session and intent are known,
//! `token` deltas of the reply, then `done` with sources, usage and latency — or, last, the
//! [`AgentError`] (the server turns it into the `error` event with its one error mapping).
//!
//! The reply is produced by the same pipeline as `chat` (cache, intent, retrieval, generation,
//! persistence). When an LLM writes the reply, its tokens are forwarded as they arrive, one
//! checked sentence at a time: a sentence is sent once it is complete and every number in it is
//! in the grounding and it leaks nothing, so an unchecked sentence never reaches the client.
//! The rule when the stored reply differs from what was streamed (a sentence failed the checks
//! and the reply was regenerated or replaced by the offline responder, tone adaptation rewrote
//! it, or a hand-off replaced it): the stream sends `replace` with the whole final reply, and
//! the client shows that instead of the tokens so far. When the final reply only extends the
//! streamed text (e.g. a sign-off), the rest arrives as more `token`s. Cache hits and offline
//! replies are streamed word by word after the fact.
//!
//! Dropping the stream (the client disconnected) drops the pipeline future, which drops the
//! upstream LLM request; the exchange is persisted in one transaction after generation, so a
//! cancelled request leaves nothing half-written.

use std::future::Future;

use futures::Stream;
use futures::channel::{mpsc, oneshot};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use tracing::Instrument;
use tria_core::{CacheLevel, ChatReply, ChatRequest, ErrorCode, IntentVerdict, SourceRef, TenantContext};

use crate::trace::ChatDebug;
use crate::{Agent, AgentError, BegunTurn, Caller};

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
    /// The whole reply, replacing the tokens sent so far (see the module docs for when).
    Replace {
        reply: String,
    },
    Done {
        sources: Vec<SourceRef>,
        usage: Usage,
        latency_ms: u64,
        cache: CacheLevel,
        /// The stored assistant message (for feedback).
        #[serde(skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// The conversation is now with a person.
        handoff: bool,
        /// The order the reply is about (the widget renders it with a Confirm button).
        #[serde(skip_serializing_if = "Option::is_none")]
        order: Option<tria_core::OrderSummary>,
    },
    /// A failure as the client sees it: the server makes it from the stream's [`AgentError`]
    /// with the same mapping as an HTTP error (the agent never shows an error's detail).
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
            ChatEvent::Replace { .. } => "replace",
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

    /// The events of a finished exchange, in order.
    pub fn sequence(message: &str, reply: ChatReply) -> Vec<ChatEvent> {
        let mut events = Vec::with_capacity(reply.reply.len() / 4 + 2);
        events.push(ChatEvent::Meta { session_id: reply.session_id.clone(), intent: reply.intent.clone(), cache: reply.cache });
        events.extend(token_deltas(&reply.reply).map(|delta| ChatEvent::Token { delta: delta.to_owned() }));
        events.push(ChatEvent::done(message, reply));
        events
    }

    /// The closing `done` event of a reply.
    fn done(message: &str, reply: ChatReply) -> Self {
        ChatEvent::Done {
            usage: Usage::of(message, &reply.reply),
            sources: reply.sources,
            latency_ms: reply.latency_ms,
            cache: reply.cache,
            message_id: reply.message_id,
            handoff: reply.handoff,
            order: reply.order,
        }
    }
}

/// Word-sized pieces that concatenate back to `text` exactly (whitespace stays with the word
/// before it), the granularity an LLM stream delivers.
pub fn token_deltas(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(char::is_whitespace)
}

/// What generation sends while it runs (before the reply is final).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StreamSignal {
    Meta { session_id: String, intent: IntentVerdict },
    Token(String),
}

pub(crate) type StreamSink = mpsc::UnboundedSender<StreamSignal>;

enum Piece {
    Signal(StreamSignal),
    // Boxed: a reply is large and arrives once; signals are many and small.
    Finished(Box<Result<ChatReply, AgentError>>),
}

/// What has been sent so far, to finish the stream consistently.
#[derive(Default)]
struct Sent {
    meta: bool,
    streamed: String,
}

impl Sent {
    fn events(&mut self, message: &str, piece: Piece) -> Vec<Result<ChatEvent, AgentError>> {
        match piece {
            Piece::Signal(signal) => self.signal(signal).into_iter().map(Ok).collect(),
            Piece::Finished(result) => match *result {
                Ok(reply) => self.finish(message, reply).into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            },
        }
    }

    fn signal(&mut self, signal: StreamSignal) -> Vec<ChatEvent> {
        match signal {
            StreamSignal::Meta { session_id, intent } if !self.meta => {
                self.meta = true;
                vec![ChatEvent::Meta { session_id, intent, cache: CacheLevel::None }]
            }
            StreamSignal::Meta { .. } => Vec::new(),
            StreamSignal::Token(delta) => {
                self.streamed.push_str(&delta);
                vec![ChatEvent::Token { delta }]
            }
        }
    }

    fn finish(&self, message: &str, reply: ChatReply) -> Vec<ChatEvent> {
        if !self.meta {
            return ChatEvent::sequence(message, reply);
        }
        let mut events = Vec::new();
        match reply.reply.strip_prefix(self.streamed.as_str()) {
            Some(rest) => events.extend(token_deltas(rest).map(|delta| ChatEvent::Token { delta: delta.to_owned() })),
            None => events.push(ChatEvent::Replace { reply: reply.reply.clone() }),
        }
        events.push(ChatEvent::done(message, reply));
        events
    }
}

impl Agent {
    /// [`Agent::chat`] as a stream of [`ChatEvent`]s. A failure arrives as one `Err`, the last item.
    pub fn chat_stream<'a>(
        &'a self,
        tenant: &'a TenantContext,
        request: ChatRequest,
    ) -> impl Stream<Item = Result<ChatEvent, AgentError>> + Send + 'a {
        self.chat_stream_on(tenant, request, Caller::TENANT)
    }

    /// [`Agent::chat_stream`] for a message from `caller`: the session must be one it may use,
    /// and a conversation it opens is recorded under its channel (before `meta` names it).
    pub fn chat_stream_on<'a>(
        &'a self,
        tenant: &'a TenantContext,
        request: ChatRequest,
        caller: Caller,
    ) -> impl Stream<Item = Result<ChatEvent, AgentError>> + Send + 'a {
        let message = request.message.clone();
        self.events_of(message, move |sink| self.chat_inner(tenant, request, caller, Some(sink)))
    }

    /// The streamed answer to a turn [`Agent::begin_turn`] began: a streaming endpoint begins
    /// the turn first, so a request it refuses is a plain error response instead of a stream.
    pub fn chat_stream_turn<'a>(
        &'a self,
        tenant: &'a TenantContext,
        begun: BegunTurn,
    ) -> impl Stream<Item = Result<ChatEvent, AgentError>> + Send + 'a {
        let message = begun.message_as_sent().to_owned();
        let span = tracing::info_span!("chat", tenant = %tenant.slug);
        self.events_of(message, move |sink| self.answer(tenant, begun, Some(sink)).instrument(span))
    }

    /// The events of one turn that `answer` runs with a sink for the signals of its reply.
    fn events_of<'a, F>(
        &'a self,
        message: String,
        answer: impl FnOnce(StreamSink) -> F + Send + 'a,
    ) -> impl Stream<Item = Result<ChatEvent, AgentError>> + Send + 'a
    where
        F: Future<Output = Result<(ChatReply, ChatDebug), AgentError>> + Send + 'a,
    {
        let (sink, signals) = mpsc::unbounded();
        let (finished_tx, finished_rx) = oneshot::channel();
        let work = async move {
            let result = answer(sink).await.map(|(reply, _)| reply);
            let _ = finished_tx.send(result);
        };
        // The sink is dropped when the pipeline returns, which ends `signals`; the result follows
        // every signal.
        let running = stream::select(signals.map(Some), stream::once(work).map(|()| None)).filter_map(futures::future::ready);
        let finished = stream::once(finished_rx)
            .map(|r| r.unwrap_or_else(|_| Err(AgentError::Internal("the chat pipeline ended without a result".into()))));
        let mut sent = Sent::default();
        running
            .map(Piece::Signal)
            .chain(finished.map(|r| Piece::Finished(Box::new(r))))
            .flat_map(move |piece| stream::iter(sent.events(&message, piece)))
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
    fn a_failure_ends_the_stream_as_the_error_itself() {
        let mut sent = Sent { meta: true, streamed: "Returns ".into() };
        let events = sent.events("hi", Piece::Finished(Box::new(Err(AgentError::Internal("db down".into())))));
        assert!(matches!(events.as_slice(), [Err(AgentError::Internal(detail))] if detail == "db down"), "{events:?}");
        let error = ChatEvent::Error { code: ErrorCode::Internal, message: "internal error".into() };
        assert_eq!(error.name(), "error");
        assert_eq!(error.data()["code"], "internal");
    }
}
