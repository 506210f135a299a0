//! The OpenAI-compatible HTTP client: `POST {base_url}/chat/completions`, plain or streamed
//! (SSE), with retries, `Retry-After`, timeouts and a concurrency cap. Works with anything that
//! speaks that API (OpenAI, vLLM, Ollama, LiteLLM, `tria-mock-llm`).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sse::SseDecoder;
use crate::{
    ChatMessage, Completion, CompletionRequest, LlmClient, LlmError, LlmStream, RetryPolicy, StreamEvent, Usage, UsageSource, tokens,
};

/// Where and how to call the upstream. Build with [`OpenAiConfig::new`] and the `with_*` setters.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Base URL including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    pub model: String,
    /// Non-streaming: the whole answer. Streaming: the response head, then each gap between
    /// chunks (a stream may run longer than this as long as it keeps moving).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Upstream calls in flight at once, per client; the rest wait for a slot.
    pub max_concurrency: usize,
    /// Ask for `stream_options.include_usage` so streamed answers report usage; turn off for
    /// servers that reject the field (usage is then counted locally).
    pub request_stream_usage: bool,
    /// Headers added to every call at send time — the server passes the W3C `traceparent` of
    /// the current span this way, so the upstream's work joins the request's trace.
    pub header_source: Option<HeaderSource>,
}

/// Produces per-call headers (name, value); see [`OpenAiConfig::with_header_source`].
pub type HeaderSource = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            max_concurrency: 16,
            request_stream_usage: true,
            header_source: None,
        }
    }
    pub fn with_header_source(mut self, source: HeaderSource) -> Self {
        self.header_source = Some(source);
        self
    }
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    pub fn with_max_concurrency(mut self, max: usize) -> Self {
        self.max_concurrency = max;
        self
    }
    pub fn with_stream_usage(mut self, request: bool) -> Self {
        self.request_stream_usage = request;
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// The HTTP client. Cheap to share behind an `Arc`; one connection pool and one concurrency cap
/// per instance.
#[derive(Debug)]
pub struct OpenAiClient {
    http: reqwest::Client,
    url: String,
    config: OpenAiConfig,
    permits: Arc<Semaphore>,
}

/// A failed attempt and the upstream's wait hint, if any.
struct Failure {
    error: LlmError,
    retry_after: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Self { error, retry_after: None }
    }
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| LlmError::Connection(error_chain(&e)))?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let permits = Arc::new(Semaphore::new(config.max_concurrency.max(1)));
        Ok(Self { http, url, config, permits })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// Refuses new calls and wakes the waiting ones with [`LlmError::Cancelled`] (shutdown).
    pub fn close(&self) {
        self.permits.close();
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, LlmError> {
        Arc::clone(&self.permits).acquire_owned().await.map_err(|_| LlmError::Cancelled)
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let mut body = json!({ "model": self.config.model, "messages": request.messages, "stream": stream });
        if let Some(max) = request.max_tokens {
            body["max_tokens"] = max.into();
        }
        if let Some(t) = request.temperature {
            body["temperature"] = t.into();
        }
        if let Some(user) = &request.user {
            body["user"] = user.clone().into();
        }
        if stream && self.config.request_stream_usage {
            body["stream_options"] = json!({ "include_usage": true });
        }
        body
    }

    /// Sends the request and returns the response once its status is a success.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, Failure> {
        let mut request = self.http.post(&self.url).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        if let Some(source) = &self.config.header_source {
            for (name, value) in source() {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.map_err(|e| Failure::from(transport_error(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        let error = if status.as_u16() == 429 {
            LlmError::RateLimited { retry_after }
        } else {
            LlmError::Upstream { status: status.as_u16(), message: upstream_message(&text) }
        };
        Err(Failure { error, retry_after })
    }

    async fn complete_once(&self, body: &Value) -> Result<Bytes, Failure> {
        let _permit = self.permit().await?;
        let call = async {
            let response = self.send(body).await?;
            response.bytes().await.map_err(|e| Failure::from(transport_error(&e)))
        };
        tokio::time::timeout(self.config.timeout, call).await.map_err(|_| Failure::from(LlmError::Timeout))?
    }

    async fn stream_once(&self, body: &Value) -> Result<(reqwest::Response, OwnedSemaphorePermit), Failure> {
        let permit = self.permit().await?;
        let response = tokio::time::timeout(self.config.timeout, self.send(body)).await.map_err(|_| Failure::from(LlmError::Timeout))??;
        Ok((response, permit))
    }

    /// Runs `attempt` until it succeeds, the error is not retryable, or retries run out.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<(T, u32), LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok((value, retry + 1)),
                Err(failure) => match self.config.retry.delay_before(retry, &failure.error, failure.retry_after) {
                    Some(delay) => {
                        tracing::warn!(error = %failure.error, retry, delay_ms = delay.as_millis() as u64, "retrying LLM call");
                        tokio::time::sleep(delay).await;
                        retry += 1;
                    }
                    None => return Err(failure.error),
                },
            }
        }
    }
}

#[async_trait]
impl LlmClient for OpenAiClient {
    fn model(&self) -> &str {
        &self.config.model
    }

    #[tracing::instrument(name = "llm.complete", skip_all, fields(model = %self.config.model))]
    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let body = self.body(request, false);
        let (bytes, attempts) = self.with_retries(|| self.complete_once(&body)).await?;
        let wire: ResponseWire = serde_json::from_slice(&bytes).map_err(|e| LlmError::Malformed(format!("completion body: {e}")))?;
        let choice = wire.choices.into_iter().next().ok_or_else(|| LlmError::Malformed("no choices".to_owned()))?;
        let text = choice.message.and_then(|m| m.content).unwrap_or_default();
        let usage = match wire.usage {
            Some(u) => u.into(),
            None => estimate_usage(&request.messages, &text),
        };
        Ok(Completion {
            text,
            model: wire.model.unwrap_or_else(|| self.config.model.clone()),
            usage,
            finish_reason: choice.finish_reason,
            attempts,
        })
    }

    /// The span covers opening the stream (retries included), not reading it.
    #[tracing::instrument(name = "llm.stream_open", skip_all, fields(model = %self.config.model))]
    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        let body = self.body(request, true);
        let ((response, permit), _attempts) = self.with_retries(|| self.stream_once(&body)).await?;
        let state = StreamState {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::new(),
            queue: VecDeque::new(),
            finished: false,
            text: String::new(),
            usage: None,
            finish_reason: None,
            messages: request.messages.clone(),
            idle_timeout: self.config.timeout,
            _permit: permit,
        };
        Ok(Box::pin(futures::stream::unfold(state, StreamState::next_event)))
    }
}

/// A streamed answer in progress. Holds its concurrency slot until dropped.
struct StreamState {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    decoder: SseDecoder,
    queue: VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
    text: String,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    messages: Vec<ChatMessage>,
    idle_timeout: Duration,
    _permit: OwnedSemaphorePermit,
}

impl StreamState {
    async fn next_event(mut self) -> Option<(Result<StreamEvent, LlmError>, Self)> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some((event, self));
            }
            if self.finished {
                return None;
            }
            match tokio::time::timeout(self.idle_timeout, self.body.next()).await {
                Err(_) => self.fail(LlmError::Timeout),
                Ok(Some(Ok(bytes))) => match self.decoder.push(&bytes) {
                    Ok(events) => events.iter().for_each(|data| self.on_data(data)),
                    Err(e) => self.fail(LlmError::Malformed(e.to_string())),
                },
                Ok(Some(Err(e))) => self.fail(LlmError::Connection(error_chain(&e))),
                Ok(None) => {
                    match self.decoder.finish() {
                        Ok(events) => events.iter().for_each(|data| self.on_data(data)),
                        Err(e) => self.fail(LlmError::Malformed(e.to_string())),
                    }
                    self.fail(LlmError::Connection("the stream ended before [DONE]".to_owned()));
                }
            }
        }
    }

    /// Ends the stream with `error` (unless it already ended).
    fn fail(&mut self, error: LlmError) {
        if !self.finished {
            self.queue.push_back(Err(error));
            self.finished = true;
        }
    }

    fn on_data(&mut self, data: &str) {
        if self.finished {
            return;
        }
        if data.trim() == "[DONE]" {
            let usage = self.usage.unwrap_or_else(|| estimate_usage(&self.messages, &self.text));
            self.queue.push_back(Ok(StreamEvent::Done { usage, finish_reason: self.finish_reason.take() }));
            self.finished = true;
            return;
        }
        let chunk: ChunkWire = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => return self.fail(LlmError::Malformed(format!("stream chunk: {e}"))),
        };
        if let Some(error) = chunk.error {
            let status = error.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(502);
            return self.fail(LlmError::Upstream { status, message: upstream_message(&error.to_string()) });
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(content) = choice.delta.and_then(|d| d.content).filter(|c| !c.is_empty()) {
                self.text.push_str(&content);
                self.queue.push_back(Ok(StreamEvent::Delta(content)));
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
    }
}

#[derive(Deserialize)]
struct ResponseWire {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChoiceWire>,
    usage: Option<UsageWire>,
}

#[derive(Deserialize)]
struct ChunkWire {
    #[serde(default)]
    choices: Vec<ChoiceWire>,
    usage: Option<UsageWire>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceWire {
    message: Option<MessageWire>,
    delta: Option<MessageWire>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct MessageWire {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageWire {
    prompt_tokens: u32,
    completion_tokens: u32,
}

impl From<UsageWire> for Usage {
    fn from(u: UsageWire) -> Self {
        Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, source: UsageSource::Reported }
    }
}

fn estimate_usage(messages: &[ChatMessage], reply: &str) -> Usage {
    Usage { prompt_tokens: tokens::count_messages(messages), completion_tokens: tokens::count_text(reply), source: UsageSource::Estimated }
}

/// `retry-after-ms` (OpenAI, Azure) or `Retry-After` in seconds. HTTP-date values are ignored:
/// the backoff applies instead.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
    let finite = |x: f64| x.is_finite() && x >= 0.0;
    if let Some(ms) = value("retry-after-ms").filter(|x| finite(*x)) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    value("retry-after").filter(|x| finite(*x)).map(Duration::from_secs_f64)
}

/// The upstream's `error.message` when the body is the usual JSON, else the body; at most 200
/// characters, because it ends up in logs.
fn upstream_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message =
        parsed.as_ref().and_then(|v| v.pointer("/error/message").or_else(|| v.get("message"))).and_then(Value::as_str).unwrap_or(body);
    message.chars().take(200).collect()
}

fn transport_error(e: &reqwest::Error) -> LlmError {
    if e.is_timeout() { LlmError::Timeout } else { LlmError::Connection(error_chain(e)) }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn upstream_messages_are_short_and_prefer_the_json_message() {
        assert_eq!(upstream_message(r#"{"error":{"message":"model overloaded"}}"#), "model overloaded");
        assert_eq!(upstream_message("plain failure"), "plain failure");
        assert_eq!(upstream_message(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let config = OpenAiConfig::new("http://x/v1", "m").with_api_key("sk-secret");
        assert!(!format!("{config:?}").contains("sk-secret"));
    }
}
