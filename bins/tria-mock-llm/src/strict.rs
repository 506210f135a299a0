//! Reading a request the way the real API would: what the Anthropic and Azure doubles refuse,
//! they refuse with the provider's status and error body, so a client test that passes against
//! the double speaks the real protocol (headers, URL, body shape), not just "some JSON".

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tria_llm::Provider;

use crate::wire::{error_response, error_response_with_code};

/// What a request asks, whatever its protocol.
pub(crate) struct Asked {
    /// Every text of the prompt (system included), in order.
    pub(crate) prompt: Vec<String>,
    pub(crate) stream: bool,
    /// OpenAI/Azure `stream_options.include_usage`; Anthropic always reports usage.
    pub(crate) include_usage: bool,
}

/// The top-level fields the Messages API accepts (it refuses others).
const ANTHROPIC_FIELDS: &[&str] = &[
    "model",
    "max_tokens",
    "messages",
    "system",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
];

/// The provider's error response to a request it refuses (boxed: it is large).
pub(crate) type Refused = Box<Response>;

fn invalid(protocol: Provider, message: impl AsRef<str>) -> Refused {
    Box::new(error_response(protocol, StatusCode::BAD_REQUEST, message.as_ref()))
}

fn parse(protocol: Provider, body: &[u8]) -> Result<Value, Refused> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid(protocol, "invalid request body: expected a JSON object"))
}

/// OpenAI-compatible servers vary, so the OpenAI double only needs JSON with `messages`.
pub(crate) fn openai(body: &[u8]) -> Result<Asked, Refused> {
    let value = parse(Provider::OpenAi, body)?;
    chat_completions(Provider::OpenAi, &value)
}

fn chat_completions(protocol: Provider, value: &Value) -> Result<Asked, Refused> {
    let messages = match value.get("messages") {
        None => &Vec::new(),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(invalid(protocol, "messages: expected an array")),
    };
    let prompt = messages.iter().map(|m| m.get("content").and_then(Value::as_str).unwrap_or_default().to_owned()).collect();
    Ok(Asked {
        prompt,
        stream: value.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: value.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Azure OpenAI: `api-key` header (a Bearer key is refused), `api-version` query, the
/// deployment in the URL must exist, then the chat-completions body.
pub(crate) fn azure(headers: &HeaderMap, api_version: Option<&str>, deployment: &str, known: &str, body: &[u8]) -> Result<Asked, Refused> {
    let p = Provider::Azure;
    if api_version.is_none_or(str::is_empty) {
        return Err(Box::new(error_response(p, StatusCode::NOT_FOUND, "Resource not found")));
    }
    if headers.get("api-key").is_none_or(|k| k.is_empty()) {
        let message = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
        return Err(Box::new(error_response(p, StatusCode::UNAUTHORIZED, message)));
    }
    if deployment != known {
        let message = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";
        return Err(Box::new(error_response_with_code(p, StatusCode::NOT_FOUND, "DeploymentNotFound", message)));
    }
    let value = parse(p, body)?;
    if value.get("messages").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        return Err(invalid(p, "'messages' is a required property"));
    }
    chat_completions(p, &value)
}

/// The text of a Messages API `content`: a string or an array of `text` blocks.
fn anthropic_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) => {
            blocks.iter().map(|b| b.get("text").and_then(Value::as_str)).collect::<Option<Vec<_>>>().map(|t| t.concat())
        }
        _ => None,
    }
}

/// Anthropic Messages: `x-api-key` and `anthropic-version` headers; `model`, `max_tokens`
/// (≥ 1) and non-empty `messages` whose roles are user/assistant, alternate and start with
/// the user; no `system` role (it is a top-level field); no unknown fields; `temperature` 0..=1.
pub(crate) fn anthropic(headers: &HeaderMap, body: &[u8]) -> Result<Asked, Refused> {
    let p = Provider::Anthropic;
    if headers.get("x-api-key").is_none_or(|k| k.is_empty()) {
        return Err(Box::new(error_response(p, StatusCode::UNAUTHORIZED, "x-api-key header is required")));
    }
    if headers.get("anthropic-version").is_none_or(|v| v.is_empty()) {
        return Err(invalid(p, "anthropic-version: header is required"));
    }
    let value = parse(p, body)?;
    let object = value.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    if let Some(extra) = object.iter().find(|k| !ANTHROPIC_FIELDS.contains(&k.as_str())) {
        return Err(invalid(p, format!("{extra}: Extra inputs are not permitted")));
    }
    if value.get("model").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(invalid(p, "model: Field required"));
    }
    if value.get("max_tokens").and_then(Value::as_u64).is_none_or(|n| n == 0) {
        return Err(invalid(p, "max_tokens: Field required (an integer of at least 1)"));
    }
    if value.get("temperature").and_then(Value::as_f64).is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(invalid(p, "temperature: Input should be less than or equal to 1"));
    }
    let messages = value.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty());
    let Some(messages) = messages else {
        return Err(invalid(p, "messages: at least one message is required"));
    };
    let mut prompt = Vec::new();
    if let Some(system) = value.get("system") {
        prompt.push(anthropic_text(system).ok_or_else(|| invalid(p, "system: Input should be a valid string or list of text blocks"))?);
    }
    let mut previous: Option<&str> = None;
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(invalid(p, format!("messages.{i}.role: Input should be 'user' or 'assistant'")));
        }
        if i == 0 && role != "user" {
            return Err(invalid(p, "messages: first message must use the \"user\" role"));
        }
        if previous == Some(role) {
            return Err(invalid(
                p,
                format!("messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"),
            ));
        }
        previous = Some(role);
        let text =
            message.get("content").and_then(anthropic_text).ok_or_else(|| invalid(p, format!("messages.{i}.content: Field required")))?;
        if text.trim().is_empty() {
            return Err(invalid(p, format!("messages.{i}: text content blocks must be non-empty")));
        }
        prompt.push(text);
    }
    Ok(Asked { prompt, stream: value.get("stream").and_then(Value::as_bool).unwrap_or(false), include_usage: true })
}
