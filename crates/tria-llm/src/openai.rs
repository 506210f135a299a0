//! The OpenAI chat-completions client: `POST {base_url}/chat/completions`, plain or streamed
//! (SSE). Works with anything that speaks that API (OpenAI, vLLM, Ollama, LiteLLM,
//! `tria-mock-llm`) and, with [`OpenAiEndpoint::Azure`], with Azure OpenAI, which speaks the
//! same body and stream at a deployment URL with an `api-key` header.

use std::fmt;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{Answer, HttpOptions, Sink, StreamProtocol, Transport, Wire, http_setters, llm_client_over_http, upstream_message};
use crate::{CompletionRequest, LlmError, Usage};

/// Where the chat-completions endpoint is and how the key is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenAiEndpoint {
    /// `{base_url}/chat/completions`, `Authorization: Bearer {key}`.
    OpenAi,
    /// `{base_url}/openai/deployments/{deployment}/chat/completions?api-version={api_version}`,
    /// `api-key: {key}`; `base_url` is the resource endpoint
    /// (`https://{resource}.openai.azure.com`). The deployment picks the model.
    Azure { deployment: String, api_version: String },
}

/// The Azure OpenAI API version used when none is configured (the GA version of 2024-10-21).
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

/// Where and how to call the upstream. Build with [`OpenAiConfig::new`] and the `with_*` setters.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Base URL including the API version, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1`; `/chat/completions` is appended. For Azure, the resource
    /// endpoint.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` (or Azure's `api-key: …`) when set.
    pub api_key: Option<String>,
    /// The name recorded with each answer and used for pricing (for Azure, the deployment's model).
    pub model: String,
    pub endpoint: OpenAiEndpoint,
    pub http: HttpOptions,
    /// Ask for `stream_options.include_usage` so streamed answers report usage; turn off for
    /// servers that reject the field (usage is then counted locally).
    pub request_stream_usage: bool,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            endpoint: OpenAiEndpoint::OpenAi,
            http: HttpOptions::default(),
            request_stream_usage: true,
        }
    }
    /// Azure OpenAI: `endpoint` is `https://{resource}.openai.azure.com`.
    pub fn azure(
        endpoint: impl Into<String>,
        deployment: impl Into<String>,
        api_version: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        let endpoint_style = OpenAiEndpoint::Azure { deployment: deployment.into(), api_version: api_version.into() };
        Self { endpoint: endpoint_style, ..Self::new(endpoint, model) }
    }
    http_setters!();
    pub fn with_stream_usage(mut self, request: bool) -> Self {
        self.request_stream_usage = request;
        self
    }

    fn url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match &self.endpoint {
            OpenAiEndpoint::OpenAi => format!("{base}/chat/completions"),
            OpenAiEndpoint::Azure { deployment, api_version } => {
                format!("{base}/openai/deployments/{deployment}/chat/completions?api-version={api_version}")
            }
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("endpoint", &self.endpoint)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// The HTTP client. Cheap to share behind an `Arc`; one connection pool and one concurrency cap
/// per instance.
#[derive(Debug)]
pub struct OpenAiClient {
    transport: Transport,
    url: String,
    config: OpenAiConfig,
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        let transport = Transport::new(config.http.clone(), classify)?;
        Ok(Self { transport, url: config.url(), config })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// Refuses new calls and wakes the waiting ones with [`LlmError::Cancelled`] (shutdown).
    pub fn close(&self) {
        self.transport.close();
    }
}

impl Wire for OpenAiClient {
    type Events = Chunks;

    fn transport(&self) -> &Transport {
        &self.transport
    }

    fn configured_model(&self) -> &str {
        &self.config.model
    }

    fn provider_name(&self) -> &'static str {
        match self.config.endpoint {
            OpenAiEndpoint::OpenAi => "openai",
            OpenAiEndpoint::Azure { .. } => "azure",
        }
    }

    fn body(&self, request: &CompletionRequest, stream: bool) -> Value {
        let mut body = json!({ "messages": request.messages, "stream": stream });
        // Azure's deployment names the model; the body's `model` is OpenAI's.
        if self.config.endpoint == OpenAiEndpoint::OpenAi {
            body["model"] = self.config.model.clone().into();
        }
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

    fn request(&self, http: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder {
        let request = http.post(&self.url).json(body);
        match (&self.config.api_key, &self.config.endpoint) {
            (None, _) => request,
            (Some(key), OpenAiEndpoint::OpenAi) => request.bearer_auth(key),
            (Some(key), OpenAiEndpoint::Azure { .. }) => request.header("api-key", key),
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Answer, LlmError> {
        let wire: ResponseWire = serde_json::from_slice(body).map_err(|e| LlmError::Malformed(format!("completion body: {e}")))?;
        let choice = wire.choices.into_iter().next().ok_or_else(|| LlmError::Malformed("no choices".to_owned()))?;
        let text = choice.message.and_then(|m| m.content).unwrap_or_default();
        Ok(Answer { text, model: wire.model, usage: wire.usage.map(Usage::from), finish_reason: choice.finish_reason })
    }
}

/// 429 is a rate limit; anything else carries the upstream's status and `error.message`
/// (OpenAI's `{"error":{"message","type","code"}}` and Azure's `{"error":{"code","message"}}`).
fn classify(status: StatusCode, retry_after: Option<std::time::Duration>, body: &str) -> LlmError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        LlmError::RateLimited { retry_after }
    } else {
        LlmError::Upstream { status: status.as_u16(), message: upstream_message(body) }
    }
}

llm_client_over_http!(OpenAiClient);

/// The chat-completions stream: `data: {chunk}` lines, then `data: [DONE]`.
#[derive(Default)]
pub(crate) struct Chunks {
    usage: Option<Usage>,
    finish_reason: Option<String>,
}

impl StreamProtocol for Chunks {
    const ENDED_EARLY: &'static str = "the stream ended before [DONE]";

    fn on_data(&mut self, data: &str, sink: &mut Sink) {
        if data.trim() == "[DONE]" {
            return sink.done(self.usage.take(), self.finish_reason.take());
        }
        let chunk: ChunkWire = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => return sink.fail(LlmError::Malformed(format!("stream chunk: {e}"))),
        };
        if let Some(error) = chunk.error {
            // OpenAI's code is a number or a name; Azure's is the status as a string.
            let code = error.get("code");
            let status = code.and_then(Value::as_u64).or_else(|| code.and_then(Value::as_str).and_then(|c| c.parse().ok()));
            let status = status.and_then(|c| u16::try_from(c).ok()).unwrap_or(502);
            return sink.fail(LlmError::Upstream { status, message: upstream_message(&json!({ "error": error }).to_string()) });
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        // Azure sends a first chunk with no choices (its prompt filter results); it has nothing to say.
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(content) = choice.delta.and_then(|d| d.content) {
                sink.delta(content);
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

/// `usage`: OpenAI's and Azure's (same shape); `prompt_tokens` includes the cached ones.
#[derive(Deserialize)]
struct UsageWire {
    prompt_tokens: u32,
    completion_tokens: u32,
    /// Absent or `null` from servers without a prompt cache.
    prompt_tokens_details: Option<PromptDetailsWire>,
}

#[derive(Deserialize)]
struct PromptDetailsWire {
    cached_tokens: Option<u32>,
}

impl From<UsageWire> for Usage {
    fn from(u: UsageWire) -> Self {
        let cached = u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0);
        Usage::reported(u.prompt_tokens, u.completion_tokens, cached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_key() {
        let config = OpenAiConfig::new("http://x/v1", "m").with_api_key("sk-secret");
        assert!(!format!("{config:?}").contains("sk-secret"));
    }

    /// A chat completion as OpenAI returns it with a prompt-cache hit (the documented shape,
    /// `prompt_tokens_details` and `completion_tokens_details` included).
    const OPENAI_BODY: &str = r#"{
      "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion", "created": 1741570283,
      "model": "gpt-4o-2024-08-06",
      "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Refunds take 5 days.", "refusal": null, "annotations": [] },
                    "logprobs": null, "finish_reason": "stop" }],
      "usage": { "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                 "prompt_tokens_details": { "cached_tokens": 1920, "audio_tokens": 0 },
                 "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 } },
      "service_tier": "default", "system_fingerprint": "fp_fc9f1d7035"
    }"#;

    /// Azure OpenAI's body: the same usage, with its content-filter results around it.
    const AZURE_BODY: &str = r#"{
      "choices": [{ "content_filter_results": { "hate": { "filtered": false, "severity": "safe" } },
                    "finish_reason": "stop", "index": 0, "logprobs": null,
                    "message": { "content": "Refunds take 5 days.", "refusal": null, "role": "assistant" } }],
      "created": 1741570283, "id": "chatcmpl-AzureX", "model": "gpt-4o-2024-11-20", "object": "chat.completion",
      "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": { "hate": { "filtered": false, "severity": "safe" } } }],
      "system_fingerprint": "fp_ee1d74bde0",
      "usage": { "completion_tokens": 12, "completion_tokens_details": { "accepted_prediction_tokens": 0, "audio_tokens": 0, "reasoning_tokens": 0, "rejected_prediction_tokens": 0 },
                 "prompt_tokens": 1566, "prompt_tokens_details": { "audio_tokens": 0, "cached_tokens": 1408 }, "total_tokens": 1578 }
    }"#;

    fn parse(config: OpenAiConfig, body: &str) -> Usage {
        let client = OpenAiClient::new(config).expect("client");
        client.parse(body.as_bytes()).expect("parses").usage.expect("usage reported")
    }

    #[test]
    fn cached_prompt_tokens_are_read_from_prompt_tokens_details() {
        let openai = parse(OpenAiConfig::new("http://x/v1", "gpt-4o"), OPENAI_BODY);
        assert_eq!(openai, Usage::reported(2006, 300, 1920));
        assert_eq!(openai.uncached_prompt_tokens(), 86);
        let azure = parse(OpenAiConfig::azure("https://res.openai.azure.com", "chat", "2024-10-21", "gpt-4o"), AZURE_BODY);
        assert_eq!((azure.prompt_tokens, azure.completion_tokens, azure.cached_prompt_tokens), (1566, 12, 1408));
        // Servers without a prompt cache: no details, or null.
        let plain = r#"{"model":"m","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#;
        assert_eq!(parse(OpenAiConfig::new("http://x/v1", "m"), plain).cached_prompt_tokens, 0);
        let null = plain.replace(r#""total_tokens":12"#, r#""total_tokens":12,"prompt_tokens_details":null"#);
        assert_eq!(parse(OpenAiConfig::new("http://x/v1", "m"), &null), Usage::reported(10, 2, 0));
    }

    #[test]
    fn a_stream_reports_cached_tokens_in_its_usage_chunk() {
        let mut chunks = Chunks::default();
        let mut sink = Sink::for_test();
        for data in [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":9,"total_tokens":1209,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
            "[DONE]",
        ] {
            chunks.on_data(data, &mut sink);
        }
        assert_eq!(sink.done_usage(), Some(Usage::reported(1200, 9, 1024)));
    }

    #[test]
    fn azure_urls_name_the_deployment_and_version() {
        let config = OpenAiConfig::azure("https://res.openai.azure.com/", "chat-prod", "2024-10-21", "gpt-4o");
        assert_eq!(config.url(), "https://res.openai.azure.com/openai/deployments/chat-prod/chat/completions?api-version=2024-10-21");
        assert_eq!(OpenAiConfig::new("http://x/v1/", "m").url(), "http://x/v1/chat/completions");
    }
}
