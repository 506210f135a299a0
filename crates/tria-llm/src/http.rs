//! What every HTTP LLM client shares, whatever its wire format: the connection pool, the
//! concurrency cap, per-attempt timeouts, retries with backoff and `Retry-After`, per-call
//! headers, and the loop that turns an SSE body into [`StreamEvent`]s (idle timeout, the slot
//! held until the stream is dropped, one terminal item). A protocol module supplies only the
//! request, the error mapping and what each SSE event means.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sse::SseDecoder;
use crate::{ChatMessage, Completion, CompletionRequest, LlmError, LlmStream, RetryPolicy, StreamEvent, Usage, tokens};

/// Produces per-call headers (name, value); see `with_header_source` on the configs.
pub type HeaderSource = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

/// How an HTTP LLM client calls its upstream, whatever the provider.
#[derive(Clone)]
pub struct HttpOptions {
    /// Non-streaming: the whole answer. Streaming: the response head, then each gap between
    /// chunks (a stream may run longer than this as long as it keeps moving).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Upstream calls in flight at once, per client; the rest wait for a slot.
    pub max_concurrency: usize,
    /// Headers added to every call at send time — the server passes the W3C `traceparent` of
    /// the current span this way, so the upstream's work joins the request's trace.
    pub header_source: Option<HeaderSource>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            max_concurrency: 16,
            header_source: None,
        }
    }
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// The `with_*` setters of a provider config that has `api_key: Option<String>` and
/// `http: HttpOptions` fields, written once for every provider.
macro_rules! http_setters {
    () => {
        pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
            self.api_key = Some(key.into());
            self
        }
        pub fn with_header_source(mut self, source: $crate::HeaderSource) -> Self {
            self.http.header_source = Some(source);
            self
        }
        pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.timeout = timeout;
            self
        }
        pub fn with_retry(mut self, retry: $crate::RetryPolicy) -> Self {
            self.http.retry = retry;
            self
        }
        pub fn with_max_concurrency(mut self, max: usize) -> Self {
            self.http.max_concurrency = max;
            self
        }
    };
}
pub(crate) use http_setters;

/// What a whole answer's body said.
pub(crate) struct Answer {
    pub(crate) text: String,
    /// The upstream's model name, when it reports one.
    pub(crate) model: Option<String>,
    /// `None` when the upstream did not report usage (it is then counted locally).
    pub(crate) usage: Option<Usage>,
    pub(crate) finish_reason: Option<String>,
}

/// One provider's wire format: the request for a call and how to read its answer. A client
/// implements it and gets its [`crate::LlmClient`] from [`llm_client_over_http`].
pub(crate) trait Wire: Sync {
    type Events: StreamProtocol + Default;
    fn transport(&self) -> &Transport;
    /// The configured model: recorded and priced when the upstream names none.
    fn configured_model(&self) -> &str;
    /// The provider's name for the ledger (`openai`, `azure`, `anthropic`).
    fn provider_name(&self) -> &'static str;
    fn body(&self, request: &CompletionRequest, stream: bool) -> Value;
    fn request(&self, http: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder;
    fn parse(&self, body: &[u8]) -> Result<Answer, LlmError>;
}

/// [`crate::LlmClient::complete`] for any [`Wire`].
pub(crate) async fn complete<W: Wire>(wire: &W, request: &CompletionRequest) -> Result<Completion, LlmError> {
    let body = wire.body(request, false);
    let (bytes, attempts) = wire.transport().complete(&|http| wire.request(http, &body), request.deadline).await?;
    let answer = wire.parse(&bytes)?;
    let usage = answer.usage.unwrap_or_else(|| estimate_usage(&request.messages, &answer.text));
    let model = answer.model.unwrap_or_else(|| wire.configured_model().to_owned());
    Ok(Completion { text: answer.text, model, usage, finish_reason: answer.finish_reason, attempts })
}

/// [`crate::LlmClient::stream`] for any [`Wire`].
pub(crate) async fn stream<W: Wire>(wire: &W, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
    let body = wire.body(request, true);
    wire.transport().stream(&|http| wire.request(http, &body), W::Events::default(), &request.messages, request.deadline).await
}

/// `impl LlmClient` for a client that implements [`Wire`], with the same spans for every provider.
macro_rules! llm_client_over_http {
    ($client:ty) => {
        #[async_trait::async_trait]
        impl $crate::LlmClient for $client {
            fn model(&self) -> &str {
                $crate::http::Wire::configured_model(self)
            }

            fn provider(&self) -> &str {
                $crate::http::Wire::provider_name(self)
            }

            #[tracing::instrument(name = "llm.complete", skip_all, fields(model = %self.model()))]
            async fn complete(&self, request: &$crate::CompletionRequest) -> Result<$crate::Completion, $crate::LlmError> {
                $crate::http::complete(self, request).await
            }

            /// The span covers opening the stream (retries included), not reading it.
            #[tracing::instrument(name = "llm.stream_open", skip_all, fields(model = %self.model()))]
            async fn stream(&self, request: &$crate::CompletionRequest) -> Result<$crate::LlmStream, $crate::LlmError> {
                $crate::http::stream(self, request).await
            }
        }
    };
}
pub(crate) use llm_client_over_http;

/// Turns a non-success response (status, its wait hint, body text) into the error.
pub(crate) type Classify = fn(StatusCode, Option<Duration>, &str) -> LlmError;

/// A failed attempt and the upstream's wait hint, if any.
pub(crate) struct Failure {
    error: LlmError,
    retry_after: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Self { error, retry_after: None }
    }
}

/// The shared HTTP machinery of one client: one connection pool and one concurrency cap.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    permits: Arc<Semaphore>,
    options: HttpOptions,
    classify: Classify,
}

impl Transport {
    pub(crate) fn new(options: HttpOptions, classify: Classify) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| LlmError::Connection(error_chain(&e)))?;
        let permits = Arc::new(Semaphore::new(options.max_concurrency.max(1)));
        Ok(Self { http, permits, options, classify })
    }

    pub(crate) fn close(&self) {
        self.permits.close();
    }

    /// One attempt's timeout: the configured one, cut to the time left before `deadline`.
    fn attempt_timeout(&self, deadline: Option<Instant>) -> Duration {
        deadline.map_or(self.options.timeout, |d| self.options.timeout.min(d.saturating_duration_since(Instant::now())))
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, LlmError> {
        Arc::clone(&self.permits).acquire_owned().await.map_err(|_| LlmError::Cancelled)
    }

    /// Sends one attempt and returns the response once its status is a success.
    async fn send(&self, build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Sync)) -> Result<reqwest::Response, Failure> {
        let mut request = build(&self.http);
        if let Some(source) = &self.options.header_source {
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
        Err(Failure { error: (self.classify)(status, retry_after, &text), retry_after })
    }

    /// The whole body of a successful call, retries included, and how many attempts it took.
    pub(crate) async fn complete(
        &self,
        build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Sync),
        deadline: Option<Instant>,
    ) -> Result<(Bytes, u32), LlmError> {
        self.with_retries(deadline, || async move {
            let _permit = self.permit().await?;
            let call = async {
                let response = self.send(build).await?;
                response.bytes().await.map_err(|e| Failure::from(transport_error(&e)))
            };
            tokio::time::timeout(self.attempt_timeout(deadline), call).await.map_err(|_| Failure::from(LlmError::Timeout))?
        })
        .await
    }

    /// Opens a streamed call (retrying until the response head arrives) and decodes its SSE
    /// body with `protocol`. The stream holds its concurrency slot until dropped.
    pub(crate) async fn stream<P: StreamProtocol>(
        &self,
        build: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Sync),
        protocol: P,
        messages: &[ChatMessage],
        deadline: Option<Instant>,
    ) -> Result<LlmStream, LlmError> {
        let ((response, permit), _attempts) = self
            .with_retries(deadline, || async move {
                let permit = self.permit().await?;
                let response = tokio::time::timeout(self.attempt_timeout(deadline), self.send(build))
                    .await
                    .map_err(|_| Failure::from(LlmError::Timeout))??;
                Ok((response, permit))
            })
            .await?;
        let state = SseStream {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::new(),
            sink: Sink { queue: VecDeque::new(), finished: false, text: String::new(), messages: messages.to_vec() },
            idle_timeout: self.options.timeout,
            protocol,
            _permit: permit,
        };
        Ok(Box::pin(futures::stream::unfold(state, SseStream::next_event)))
    }

    /// Runs `attempt` until it succeeds, the error is not retryable, retries run out, or the
    /// wait before the next one would end at or past `deadline`.
    async fn with_retries<T, F, Fut>(&self, deadline: Option<Instant>, mut attempt: F) -> Result<(T, u32), LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok((value, retry + 1)),
                Err(failure) => match self.options.retry.delay_before(retry, &failure.error, failure.retry_after) {
                    Some(delay) if deadline.is_some_and(|d| Instant::now() + delay >= d) => return Err(failure.error),
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

/// What the `data` of each SSE event means in one provider's stream.
pub(crate) trait StreamProtocol: Send + 'static {
    /// Said when the body ends before the protocol's end marker.
    const ENDED_EARLY: &'static str;
    /// Handles one event's data: deltas, the end, or an error, through `sink`.
    fn on_data(&mut self, data: &str, sink: &mut Sink);
}

/// Where a [`StreamProtocol`] puts what it read; the first `done` or `fail` ends the stream.
pub(crate) struct Sink {
    queue: VecDeque<Result<StreamEvent, LlmError>>,
    finished: bool,
    text: String,
    messages: Vec<ChatMessage>,
}

impl Sink {
    pub(crate) fn delta(&mut self, text: String) {
        if !self.finished && !text.is_empty() {
            self.text.push_str(&text);
            self.queue.push_back(Ok(StreamEvent::Delta(text)));
        }
    }

    /// The answer is complete; `usage` is `None` when the upstream did not report it (it is
    /// then counted locally).
    pub(crate) fn done(&mut self, usage: Option<Usage>, finish_reason: Option<String>) {
        if !self.finished {
            let usage = usage.unwrap_or_else(|| estimate_usage(&self.messages, &self.text));
            self.queue.push_back(Ok(StreamEvent::Done { usage, finish_reason }));
            self.finished = true;
        }
    }

    /// Ends the stream with `error` (unless it already ended).
    pub(crate) fn fail(&mut self, error: LlmError) {
        if !self.finished {
            self.queue.push_back(Err(error));
            self.finished = true;
        }
    }
}

#[cfg(test)]
impl Sink {
    /// A sink for feeding a [`StreamProtocol`] events by hand.
    pub(crate) fn for_test() -> Self {
        Self { queue: VecDeque::new(), finished: false, text: String::new(), messages: Vec::new() }
    }

    /// The usage of the `Done` event, once the stream has ended with one.
    pub(crate) fn done_usage(&self) -> Option<Usage> {
        self.queue.iter().find_map(|e| match e {
            Ok(StreamEvent::Done { usage, .. }) => Some(*usage),
            _ => None,
        })
    }
}

/// A streamed answer in progress. Holds its concurrency slot until dropped.
struct SseStream<P> {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    decoder: SseDecoder,
    sink: Sink,
    idle_timeout: Duration,
    protocol: P,
    _permit: OwnedSemaphorePermit,
}

impl<P: StreamProtocol> SseStream<P> {
    async fn next_event(mut self) -> Option<(Result<StreamEvent, LlmError>, Self)> {
        loop {
            if let Some(event) = self.sink.queue.pop_front() {
                return Some((event, self));
            }
            if self.sink.finished {
                return None;
            }
            match tokio::time::timeout(self.idle_timeout, self.body.next()).await {
                Err(_) => self.sink.fail(LlmError::Timeout),
                Ok(Some(Ok(bytes))) => {
                    let events = self.decoder.push(&bytes);
                    self.dispatch(events);
                }
                Ok(Some(Err(e))) => self.sink.fail(LlmError::Connection(error_chain(&e))),
                Ok(None) => {
                    let events = self.decoder.finish();
                    self.dispatch(events);
                    self.sink.fail(LlmError::Connection(P::ENDED_EARLY.to_owned()));
                }
            }
        }
    }

    fn dispatch(&mut self, events: Result<Vec<String>, crate::sse::SseError>) {
        match events {
            Ok(events) => {
                for data in events {
                    if self.sink.finished {
                        break;
                    }
                    self.protocol.on_data(&data, &mut self.sink);
                }
            }
            Err(e) => self.sink.fail(LlmError::Malformed(e.to_string())),
        }
    }
}

pub(crate) fn estimate_usage(messages: &[ChatMessage], reply: &str) -> Usage {
    Usage::estimated(tokens::count_messages(messages), tokens::count_text(reply))
}

/// `retry-after-ms` (OpenAI, Azure) or `retry-after` in seconds (all of them). HTTP-date
/// values are ignored: the backoff applies instead.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
    let finite = |x: f64| x.is_finite() && x >= 0.0;
    if let Some(ms) = value("retry-after-ms").filter(|x| finite(*x)) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    value("retry-after").filter(|x| finite(*x)).map(Duration::from_secs_f64)
}

/// The upstream's `error.message` when the body is the usual JSON, else the body; at most 200
/// characters, because it ends up in logs.
pub(crate) fn upstream_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message =
        parsed.as_ref().and_then(|v| v.pointer("/error/message").or_else(|| v.get("message"))).and_then(Value::as_str).unwrap_or(body);
    message.chars().take(200).collect()
}

fn transport_error(e: &reqwest::Error) -> LlmError {
    if e.is_timeout() { LlmError::Timeout } else { LlmError::Connection(error_chain(e)) }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
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
        assert_eq!(upstream_message(r#"{"error":{"code":"DeploymentNotFound","message":"no such deployment"}}"#), "no such deployment");
        assert_eq!(upstream_message("plain failure"), "plain failure");
        assert_eq!(upstream_message(&"x".repeat(500)).len(), 200);
    }
}
