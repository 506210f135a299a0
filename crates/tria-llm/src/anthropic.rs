//! The Anthropic Messages API client: `POST {base_url}/v1/messages` with `x-api-key` and
//! `anthropic-version`, plain or streamed (its named SSE events), on the same transport as the
//! OpenAI client so retries, `Retry-After`, timeouts and the concurrency cap behave alike.
//!
//! Our chat is converted to the API's shape: every system message goes to the top-level
//! `system`; the rest must alternate user/assistant starting with a user turn, so consecutive
//! messages of one role are merged and a leading assistant turn gets a user turn before it.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::{Answer, HttpOptions, Sink, StreamProtocol, Transport, Wire, http_setters, llm_client_over_http};
use crate::{ChatMessage, CompletionRequest, LlmError, Role, Usage};

/// The `anthropic-version` header value this client is written against.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Where the Messages API lives when no base URL is configured.
pub const ANTHROPIC_DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// Where and how to call the Messages API. Build with [`AnthropicConfig::new`] and the setters.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// `https://api.anthropic.com` (a trailing `/v1` is tolerated); `/v1/messages` is appended.
    pub base_url: String,
    /// Sent as `x-api-key`. The API refuses calls without one.
    pub api_key: Option<String>,
    pub model: String,
    /// Sent as `anthropic-version`.
    pub version: String,
    /// `max_tokens` is required by the API; this is sent when a request sets none.
    pub default_max_tokens: u32,
    pub http: HttpOptions,
}

impl AnthropicConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            version: ANTHROPIC_VERSION.to_owned(),
            default_max_tokens: 1024,
            http: HttpOptions::default(),
        }
    }
    http_setters!();
    pub fn with_default_max_tokens(mut self, max: u32) -> Self {
        self.default_max_tokens = max.max(1);
        self
    }

    fn url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        let base = if base.is_empty() { ANTHROPIC_DEFAULT_BASE_URL } else { base };
        format!("{}/v1/messages", base.strip_suffix("/v1").unwrap_or(base))
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("version", &self.version)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// The Messages API client. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct AnthropicClient {
    transport: Transport,
    url: String,
    config: AnthropicConfig,
}

/// One turn of the Messages API's `messages`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnthropicMessage {
    pub role: &'static str,
    pub content: String,
}

/// Our chat as the Messages API wants it: the joined system text (if any) and strictly
/// alternating turns that start with the user's.
pub fn to_anthropic_messages(messages: &[ChatMessage]) -> (Option<String>, Vec<AnthropicMessage>) {
    let system: Vec<&str> = messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
    let mut turns: Vec<AnthropicMessage> = Vec::new();
    for message in messages.iter().filter(|m| m.role != Role::System) {
        let role = if message.role == Role::Assistant { "assistant" } else { "user" };
        match turns.last_mut() {
            Some(last) if last.role == role => {
                last.content.push_str("\n\n");
                last.content.push_str(&message.content);
            }
            _ => turns.push(AnthropicMessage { role, content: message.content.clone() }),
        }
    }
    if turns.first().is_none_or(|t| t.role != "user") {
        // The API wants the user to speak first (and something to answer at all).
        turns.insert(0, AnthropicMessage { role: "user", content: "(The conversation so far.)".to_owned() });
    }
    for turn in &mut turns {
        // Empty text blocks are refused.
        if turn.content.trim().is_empty() {
            turn.content = "(empty)".to_owned();
        }
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    (system, turns)
}

impl AnthropicClient {
    pub fn new(config: AnthropicConfig) -> Result<Self, LlmError> {
        let transport = Transport::new(config.http.clone(), classify)?;
        Ok(Self { transport, url: config.url(), config })
    }

    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// Refuses new calls and wakes the waiting ones with [`LlmError::Cancelled`] (shutdown).
    pub fn close(&self) {
        self.transport.close();
    }
}

impl Wire for AnthropicClient {
    type Events = Events;

    fn transport(&self) -> &Transport {
        &self.transport
    }

    fn configured_model(&self) -> &str {
        &self.config.model
    }

    fn provider_name(&self) -> &'static str {
        "anthropic"
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let (system, messages) = to_anthropic_messages(&request.messages);
        let max_tokens = request.max_tokens.unwrap_or(self.config.default_max_tokens).max(1);
        let mut body = json!({ "model": self.config.model, "max_tokens": max_tokens, "messages": messages });
        if let Some(system) = system {
            body["system"] = system.into();
        }
        if stream {
            body["stream"] = true.into();
        }
        if let Some(t) = request.temperature {
            // The API's range is 0..=1 (OpenAI's is 0..=2).
            body["temperature"] = t.clamp(0.0, 1.0).into();
        }
        if let Some(user) = &request.user {
            body["metadata"] = json!({ "user_id": user });
        }
        body
    }

    fn request(&self, http: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder {
        let mut request = http.post(&self.url).header("anthropic-version", &self.config.version).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.header("x-api-key", key);
        }
        request
    }

    fn parse(&self, body: &[u8]) -> Result<Answer, LlmError> {
        let wire: MessageWire = serde_json::from_slice(body).map_err(|e| LlmError::Malformed(format!("message body: {e}")))?;
        if wire.kind.as_deref() == Some("error") {
            return Err(in_band_error(wire.error.as_ref(), &String::from_utf8_lossy(body)));
        }
        let text: String = wire.content.iter().filter(|b| b.kind == "text").filter_map(|b| b.text.as_deref()).collect();
        let usage = wire.usage.map(|u| Usage::reported(u.prompt_tokens(), u.output_tokens, u.cache_read_input_tokens.unwrap_or(0)));
        Ok(Answer { text, model: wire.model, usage, finish_reason: wire.stop_reason })
    }
}

/// An error body `{"type":"error","error":{"type","message"}}` as `type: message`, at most 200
/// characters (it ends up in logs); the body itself when it is not that shape.
fn error_message(error: Option<&Value>, body: &str) -> String {
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    let text = match (kind, message) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (None, Some(message)) => message.to_owned(),
        _ => body.to_owned(),
    };
    text.chars().take(200).collect()
}

/// The HTTP status an error type stands for, for errors that arrive inside a 200 stream.
fn status_of(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 502,
    }
}

/// 429 (`rate_limit_error`) is a rate limit; 529 (`overloaded_error`) and 500 (`api_error`)
/// are retried like any 5xx; 400/401/403/404/413 are not.
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> LlmError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return LlmError::RateLimited { retry_after };
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    LlmError::Upstream { status: status.as_u16(), message: error_message(parsed.as_ref().and_then(|v| v.get("error")), body) }
}

fn in_band_error(error: Option<&Value>, data: &str) -> LlmError {
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str).unwrap_or("");
    match status_of(kind) {
        429 => LlmError::RateLimited { retry_after: None },
        status => LlmError::Upstream { status, message: error_message(error, data) },
    }
}

llm_client_over_http!(AnthropicClient);

/// The Messages stream: `message_start` (input tokens), `content_block_start`,
/// `content_block_delta` (`text_delta`), `content_block_stop`, `message_delta` (stop reason,
/// output tokens so far), `message_stop`; `ping` any time; `error` ends it. Event types the
/// API may add later are skipped, as its versioning policy asks.
#[derive(Default)]
pub(crate) struct Events {
    /// Every prompt token (uncached, written to the cache, read from it).
    input_tokens: Option<u32>,
    /// Of which read from the prompt cache.
    cache_read_tokens: u32,
    output_tokens: Option<u32>,
    stop_reason: Option<String>,
}

impl Events {
    fn note_input(&mut self, usage: &UsageWire) {
        self.input_tokens = Some(usage.prompt_tokens());
        self.cache_read_tokens = usage.cache_read_input_tokens.unwrap_or(0);
    }
}

impl StreamProtocol for Events {
    const ENDED_EARLY: &'static str = "the stream ended before message_stop";

    fn on_data(&mut self, data: &str, sink: &mut Sink) {
        let event: EventWire = match serde_json::from_str(data) {
            Ok(event) => event,
            Err(e) => return sink.fail(LlmError::Malformed(format!("stream event: {e}"))),
        };
        match event.kind.as_str() {
            "message_start" => {
                if let Some(usage) = event.message.and_then(|m| m.usage) {
                    self.note_input(&usage);
                    self.output_tokens = Some(usage.output_tokens);
                }
            }
            "content_block_delta" => {
                if let Some(delta) = event.delta.filter(|d| d.kind.as_deref() == Some("text_delta")) {
                    sink.delta(delta.text.unwrap_or_default());
                }
            }
            "message_delta" => {
                if let Some(reason) = event.delta.and_then(|d| d.stop_reason) {
                    self.stop_reason = Some(reason);
                }
                if let Some(usage) = event.usage {
                    // Cumulative; newer API versions repeat the input counts here too.
                    if usage.input_tokens.is_some() {
                        self.note_input(&usage);
                    }
                    self.output_tokens = Some(usage.output_tokens);
                }
            }
            "message_stop" => {
                let usage = match (self.input_tokens, self.output_tokens) {
                    (Some(prompt_tokens), Some(completion_tokens)) => {
                        Some(Usage::reported(prompt_tokens, completion_tokens, self.cache_read_tokens))
                    }
                    _ => None,
                };
                sink.done(usage, self.stop_reason.take());
            }
            "error" => sink.fail(in_band_error(event.error.as_ref(), data)),
            // ping, content_block_start, content_block_stop and anything newer.
            _ => {}
        }
    }
}

#[derive(Deserialize)]
struct MessageWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    #[serde(default)]
    content: Vec<BlockWire>,
    stop_reason: Option<String>,
    usage: Option<UsageWire>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct BlockWire {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

/// `usage`. `input_tokens` counts only the prompt after the last cache breakpoint; what was
/// written to the prompt cache and what was read from it are counted apart.
#[derive(Deserialize)]
struct UsageWire {
    /// Absent in `message_delta`'s usage (older API versions).
    input_tokens: Option<u32>,
    cache_creation_input_tokens: Option<u32>,
    cache_read_input_tokens: Option<u32>,
    output_tokens: u32,
}

impl UsageWire {
    /// Every prompt token. Tokens written to the cache are priced as plain input (Anthropic
    /// bills them at 1.25x; the price table has no column for that).
    fn prompt_tokens(&self) -> u32 {
        let parts = [self.input_tokens, self.cache_creation_input_tokens, self.cache_read_input_tokens];
        parts.into_iter().map(|n| n.unwrap_or(0)).fold(0u32, u32::saturating_add)
    }
}

#[derive(Deserialize)]
struct EventWire {
    #[serde(rename = "type")]
    kind: String,
    message: Option<MessageWire>,
    delta: Option<DeltaWire>,
    usage: Option<UsageWire>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct DeltaWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    stop_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(turns: &[AnthropicMessage]) -> Vec<&str> {
        turns.iter().map(|t| t.role).collect()
    }

    /// A Messages API response with a prompt-cache read (the documented shape).
    const MESSAGE_BODY: &str = r#"{
      "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
      "content": [{ "type": "text", "text": "Refunds take 5 days." }],
      "model": "claude-3-5-haiku-20241022", "stop_reason": "end_turn", "stop_sequence": null,
      "usage": { "input_tokens": 21, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1800, "output_tokens": 393,
                 "service_tier": "standard" }
    }"#;

    fn client() -> AnthropicClient {
        AnthropicClient::new(AnthropicConfig::new("http://127.0.0.1:9", "claude-3-5-haiku").with_api_key("k")).expect("client")
    }

    #[test]
    fn cache_reads_are_cached_prompt_tokens_and_every_prompt_token_is_counted() {
        let usage = client().parse(MESSAGE_BODY.as_bytes()).expect("parses").usage.expect("usage");
        // input_tokens is only what came after the cache breakpoint: the prompt is all three.
        assert_eq!(usage, Usage::reported(1821, 393, 1800));
        assert_eq!(usage.uncached_prompt_tokens(), 21);
        let written = MESSAGE_BODY
            .replace(r#""cache_creation_input_tokens": 0, "cache_read_input_tokens": 1800"#, r#""cache_creation_input_tokens": 500"#);
        assert_eq!(client().parse(written.as_bytes()).expect("parses").usage, Some(Usage::reported(521, 393, 0)));
    }

    #[test]
    fn a_stream_takes_cache_reads_from_message_start() {
        let mut events = Events::default();
        let mut sink = Sink::for_test();
        for data in [
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-3-5-haiku-20241022","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":1800,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            r#"{"type":"message_stop"}"#,
        ] {
            events.on_data(data, &mut sink);
        }
        assert_eq!(sink.done_usage(), Some(Usage::reported(1825, 15, 1800)));
    }

    #[test]
    fn system_goes_top_level_and_turns_alternate_from_the_user() {
        let (system, turns) = to_anthropic_messages(&[
            ChatMessage::system("Be brief."),
            ChatMessage::user("summary of earlier turns"),
            ChatMessage::user("hi"),
            ChatMessage::assistant("hello"),
            ChatMessage::assistant("(operator) how can we help?"),
            ChatMessage::system("Grounding."),
            ChatMessage::user("refunds?"),
        ]);
        assert_eq!(system.as_deref(), Some("Be brief.\n\nGrounding."));
        assert_eq!(roles(&turns), ["user", "assistant", "user"]);
        assert_eq!(turns[0].content, "summary of earlier turns\n\nhi");
        assert_eq!(turns[1].content, "hello\n\n(operator) how can we help?");
    }

    #[test]
    fn a_leading_assistant_turn_or_no_turn_gets_a_user_turn_first() {
        let (_, turns) = to_anthropic_messages(&[ChatMessage::assistant("Welcome!"), ChatMessage::user("")]);
        assert_eq!(roles(&turns), ["user", "assistant", "user"]);
        assert_eq!(turns[2].content, "(empty)");
        let (system, turns) = to_anthropic_messages(&[ChatMessage::system("only")]);
        assert_eq!((system.as_deref(), roles(&turns)), (Some("only"), vec!["user"]));
    }

    #[test]
    fn urls_tolerate_a_trailing_v1_and_default_to_the_public_api() {
        assert_eq!(AnthropicConfig::new("http://127.0.0.1:9/v1/", "m").url(), "http://127.0.0.1:9/v1/messages");
        assert_eq!(AnthropicConfig::new("http://127.0.0.1:9", "m").url(), "http://127.0.0.1:9/v1/messages");
        assert_eq!(AnthropicConfig::new("", "m").url(), "https://api.anthropic.com/v1/messages");
    }

    #[test]
    fn error_types_map_to_statuses_and_messages() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let err = classify(StatusCode::from_u16(529).expect("status"), None, body);
        assert_eq!(err, LlmError::Upstream { status: 529, message: "overloaded_error: Overloaded".into() });
        assert!(err.is_retryable());
        let event: Value = serde_json::from_str(body).expect("json");
        assert_eq!(in_band_error(event.get("error"), body), err);
        let limited: Value =
            serde_json::from_str(r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#).expect("json");
        assert_eq!(in_band_error(limited.get("error"), ""), LlmError::RateLimited { retry_after: None });
        assert!(!classify(StatusCode::UNAUTHORIZED, None, "nope").is_retryable());
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let config = AnthropicConfig::new("", "m").with_api_key("sk-ant-secret");
        assert!(!format!("{config:?}").contains("sk-ant-secret"));
    }
}
