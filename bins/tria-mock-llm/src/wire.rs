//! What each provider's protocol looks like on the wire, for the mock: error bodies, whole
//! answers and the frames of a streamed answer (OpenAI chunks, Azure's flavour of them,
//! Anthropic's named events).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tria_llm::Provider;

/// Tokens in and out, as the mock counts them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counted {
    pub(crate) prompt: u64,
    pub(crate) completion: u64,
}

/// The Anthropic error type an HTTP status stands for.
pub(crate) fn anthropic_error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// `status` with the provider's error body: OpenAI `{"error":{"message","type","code"}}`,
/// Azure `{"error":{"code","message"}}` (the code a string), Anthropic
/// `{"type":"error","error":{"type","message"}}`.
pub(crate) fn error_response(protocol: Provider, status: StatusCode, message: &str) -> Response {
    error_response_with_code(protocol, status, &status.as_u16().to_string(), message)
}

/// As [`error_response`], with Azure's `code` given (e.g. `DeploymentNotFound`).
pub(crate) fn error_response_with_code(protocol: Provider, status: StatusCode, code: &str, message: &str) -> Response {
    let body = match protocol {
        Provider::OpenAi => json!({ "error": { "message": message, "type": "mock_error", "code": status.as_u16() } }),
        Provider::Azure => json!({ "error": { "code": code, "message": message } }),
        Provider::Anthropic => {
            json!({ "type": "error", "error": { "type": anthropic_error_type(status), "message": message }, "request_id": "req_mock" })
        }
    };
    (status, axum::Json(body)).into_response()
}

/// A 429 with the provider's wait headers: `retry-after` (all), `retry-after-ms` (Azure).
pub(crate) fn rate_limited(protocol: Provider, retry_after_secs: u64) -> Response {
    let mut response = error_response(protocol, StatusCode::TOO_MANY_REQUESTS, "mock rate limit");
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    if protocol == Provider::Azure {
        response.headers_mut().insert("retry-after-ms", HeaderValue::from(retry_after_secs * 1000));
    }
    response
}

/// A whole answer.
pub(crate) fn answer_body(protocol: Provider, id: &str, model: &str, reply: &str, usage: Option<Counted>) -> Value {
    match protocol {
        Provider::OpenAi | Provider::Azure => {
            let mut body = json!({
                "id": id, "object": "chat.completion", "created": 0, "model": model,
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": reply }, "finish_reason": "stop" }],
            });
            if let Some(u) = usage {
                body["usage"] =
                    json!({ "prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.prompt + u.completion });
            }
            body
        }
        Provider::Anthropic => {
            let mut body = json!({
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [{ "type": "text", "text": reply }],
                "stop_reason": "end_turn", "stop_sequence": null,
            });
            if let Some(u) = usage {
                body["usage"] = json!({ "input_tokens": u.prompt, "output_tokens": u.completion });
            }
            body
        }
    }
}

/// The frames of one streamed answer; the stream plays `start`, one `token` per piece of
/// text, then `end` — or, at a fault, `malformed` or `error_event` instead of the rest.
pub(crate) struct Frames {
    pub(crate) start: Vec<Bytes>,
    pub(crate) tokens: Vec<Bytes>,
    pub(crate) end: Vec<Bytes>,
    pub(crate) malformed: Vec<Bytes>,
    pub(crate) error_event: Vec<Bytes>,
}

fn data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

pub(crate) fn frames(protocol: Provider, id: &str, model: &str, tokens: &[&str], usage: Option<Counted>) -> Frames {
    match protocol {
        Provider::OpenAi | Provider::Azure => {
            let chunk = |delta: Value, finish: Option<&str>| {
                data(&json!({
                    "id": id, "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                }))
            };
            let mut start = Vec::new();
            if protocol == Provider::Azure {
                // Azure opens with the prompt filter's verdict and no choices.
                start.push(data(&json!({
                    "id": "", "object": "", "created": 0, "model": "", "choices": [],
                    "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": {} }],
                })));
            }
            start.push(chunk(json!({ "role": "assistant", "content": "" }), None));
            let mut end = vec![chunk(json!({}), Some("stop"))];
            if let Some(u) = usage {
                let usage =
                    json!({ "prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.prompt + u.completion });
                end.push(data(
                    &json!({ "id": id, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage }),
                ));
            }
            end.push(Bytes::from_static(b"data: [DONE]\n\n"));
            let error = json!({ "error": { "message": "mock stream failure", "type": "server_error", "code": if protocol == Provider::Azure { json!("500") } else { json!(500) } } });
            Frames {
                start,
                tokens: tokens.iter().map(|t| chunk(json!({ "content": t }), None)).collect(),
                end,
                malformed: vec![Bytes::from_static(b"data: {\"choices\": [oops\n\n"), Bytes::from_static(b"data: [DONE]\n\n")],
                error_event: vec![data(&error)],
            }
        }
        Provider::Anthropic => {
            let start_usage = usage.map(|u| json!({ "input_tokens": u.prompt, "output_tokens": 1 }));
            let mut message = json!({
                "id": id, "type": "message", "role": "assistant", "content": [], "model": model,
                "stop_reason": null, "stop_sequence": null,
            });
            if let Some(u) = start_usage {
                message["usage"] = u;
            }
            let mut message_delta = json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null } });
            if let Some(u) = usage {
                message_delta["usage"] = json!({ "output_tokens": u.completion });
            }
            let error = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } });
            Frames {
                start: vec![
                    event("message_start", &json!({ "type": "message_start", "message": message })),
                    event(
                        "content_block_start",
                        &json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
                    ),
                    event("ping", &json!({ "type": "ping" })),
                ],
                tokens: tokens
                    .iter()
                    .map(|t| {
                        event(
                            "content_block_delta",
                            &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": t } }),
                        )
                    })
                    .collect(),
                end: vec![
                    event("content_block_stop", &json!({ "type": "content_block_stop", "index": 0 })),
                    event("message_delta", &message_delta),
                    event("message_stop", &json!({ "type": "message_stop" })),
                ],
                malformed: vec![
                    Bytes::from_static(b"event: content_block_delta\ndata: {\"type\": \"content_block_delta\", oops\n\n"),
                    event("message_stop", &json!({ "type": "message_stop" })),
                ],
                error_event: vec![event("error", &error)],
            }
        }
    }
}
