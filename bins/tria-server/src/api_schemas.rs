//! What the OpenAPI document says beyond the handler annotations and the derived schemas: the
//! error shape on every status an operation can answer, the headers every response carries, and
//! the schemas no Rust type describes (the annotations name them by `ref`). Applied to the
//! generated document in one pass, so a new route gets its error responses without repeating them.
//!
//! Derived, not written here (`openapi.rs` lists them): `ChatRequest`, `ChatReply` and what they
//! hold, `Tone` (tria-core, feature `openapi`, limits from `tria_core::constraints`, the same
//! constants `tria_agent::input` validates with), `Error` ([`ErrorBody`], codes from
//! `tria_core::ErrorCode`), `CreateTenant`/`UpdateTenant` (`admin.rs`, field schemas from the
//! constants in `admin_fields`) and `Feedback` (`web/session.rs`). What stays hand-written says
//! why at its function.

use serde_json::{Map, Value, json};
use tria_core::ErrorCode;
use tria_core::constraints::{LABEL_PATTERN, PROSE_PATTERN};

use crate::admin_fields::{CACHE_PATTERN_MAX_CHARS, KEY_LABEL_MAX_CHARS};

// The body of every error response, as `ApiError`'s `IntoResponse` writes it with `json!`:
// described here, with its codes from the enum the server answers with.
/// `{"error": {"code", "message"}}`.
#[derive(utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    code: ErrorCode,
    #[schema(min_length = 1)]
    message: String,
}

/// The schemas no Rust type describes, by area; `complete` adds them to the document.
fn component_schemas() -> Map<String, Value> {
    let mut schemas = Map::new();
    for area in [chat_schemas(), completion_schemas(), tenant_schemas(), key_and_cache_schemas(), ops_schemas()] {
        if let Value::Object(area) = area {
            schemas.extend(area);
        }
    }
    schemas.extend(crate::onboarding_described::schemas());
    schemas.extend(crate::usage::schemas());
    schemas
}

/// A field schema from tria-core as a JSON value, for the hand-written schemas below.
fn field(schema: utoipa::openapi::schema::Schema) -> Value {
    serde_json::to_value(schema).unwrap_or_default()
}

/// `/api/v1/chat/stream`'s events and session messages. Hand-written: an event is SSE framing
/// (`event:` and `data:` lines), not a serialised type; session messages are built with `json!`.
fn chat_schemas() -> Value {
    json!({
        // One Server-Sent Event as a client sees it: its `event` name and `data` line(s).
        "ChatEvent": {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": { "type": "string", "enum": ["meta", "token", "replace", "done", "error"] },
                "data": { "type": "string", "description": "A JSON object: meta {session_id, intent, cache}, token {delta}, replace {reply}, done {…}, error {code, message}" },
            },
        },
        "SessionMessages": {
            "type": "object",
            "required": ["session_id", "messages"],
            "properties": { "session_id": { "type": "string" }, "messages": { "type": "array" } },
        },
    })
}

/// `/v1/chat/completions`, OpenAI's shape. Hand-written: "the last message must be a user's"
/// (`contains`) and the OpenAI fields accepted and ignored have no Rust type to derive from
/// (`openai.rs` reads the request field by field); the message, session and customer fields
/// are tria-core's, with the chat request's limits.
fn completion_schemas() -> Value {
    let session_id = field(tria_core::openapi::session_id());
    let customer_id = field(tria_core::openapi::customer_id());
    let message = field(tria_core::openapi::message());
    json!({
        "CompletionRequest": {
            "type": "object",
            "description": "OpenAI Chat Completions request. The last `user` message is answered; other fields OpenAI defines are accepted and ignored.",
            "required": ["messages"],
            "properties": {
                "model": { "type": ["string", "null"] },
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["role", "content"],
                        "properties": {
                            "role": { "type": "string", "enum": ["system", "developer", "user", "assistant", "tool"] },
                            "content": message,
                        },
                    },
                    // The answered message must be a user's.
                    "contains": { "type": "object", "properties": { "role": { "const": "user" } }, "required": ["role"] },
                },
                "stream": { "type": "boolean" },
                "stream_options": { "type": ["object", "null"], "properties": { "include_usage": { "type": "boolean" } } },
                "user": customer_id,
                "metadata": { "type": ["object", "null"], "properties": { "session_id": session_id, "customer_id": customer_id } },
            },
        },
        "ChatCompletion": {
            "type": "object",
            "required": ["id", "object", "created", "model", "choices", "usage"],
            "properties": {
                "id": { "type": "string" },
                "object": { "const": "chat.completion" },
                "created": { "type": "integer" },
                "model": { "type": "string" },
                "choices": { "type": "array", "items": { "type": "object" } },
                "usage": { "type": "object" },
                "tria": { "type": "object" },
            },
        },
        "CompletionChunkEvent": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "event": { "type": "string", "enum": ["message"] },
                "data": { "type": "string", "description": "A `chat.completion.chunk` JSON object, or `[DONE]` last" },
            },
        },
    })
}

/// Tenant settings, which `CreateTenant` and `UpdateTenant` (derived) refer to. Hand-written:
/// settings are free-form JSON whose known keys `tenant_settings` describes from its own table.
fn tenant_schemas() -> Value {
    json!({
        // Settings are free-form JSON, but PostgreSQL cannot store NUL and the server refuses
        // control characters in any string of them (`text_input::json_strings`).
        // The keys the server reads are typed and ranged (`tenant_settings`: 422 otherwise).
        "Settings": {
            "type": "object",
            "propertyNames": { "pattern": PROSE_PATTERN },
            "properties": crate::tenant_settings::schema_properties(),
            "additionalProperties": { "$ref": "#/components/schemas/SettingValue" },
        },
        "SettingValue": {
            "anyOf": [
                { "type": "string", "pattern": PROSE_PATTERN },
                { "type": ["number", "boolean", "null"] },
                { "type": "array", "items": { "$ref": "#/components/schemas/SettingValue" } },
                // A free-form object, not `Settings`: the typed keys are only read at the top
                // level (and inside `rate_limit`/`budget`), so `{"x": {"support_phone": 1}}` is
                // free-form data the server stores as given.
                {
                    "type": "object",
                    "propertyNames": { "pattern": PROSE_PATTERN },
                    "additionalProperties": { "$ref": "#/components/schemas/SettingValue" },
                },
            ],
        },
    })
}

/// `/admin/keys` and `/admin/cache/invalidate`. Hand-written: which fields a key needs depends
/// on its role, and an invalidation takes a tenant or a pattern, never both (`oneOf`), which
/// `admin.rs`'s flat structs cannot derive; their limits are `admin.rs`'s constants.
fn key_and_cache_schemas() -> Value {
    let label = json!({ "type": ["string", "null"], "maxLength": KEY_LABEL_MAX_CHARS, "pattern": LABEL_PATTERN });
    json!({
        "CreateKey": {
            "description": "A tenant or widget key names its tenant; an operator key lists the tenants it works on; an admin key names none.",
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["role", "tenant"],
                    "properties": {
                        "role": { "enum": ["tenant", "widget"] },
                        "tenant": { "type": "string" },
                        "tenants": { "type": "null" },
                        "label": label,
                    },
                },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["role", "tenants"],
                    "properties": {
                        "role": { "const": "operator" },
                        "tenant": { "type": "null" },
                        "tenants": { "type": "array", "minItems": 1, "uniqueItems": true, "items": { "type": "string" } },
                        "label": label,
                    },
                },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["role"],
                    "properties": {
                        "role": { "const": "admin" },
                        "tenant": { "type": "null" },
                        "tenants": { "type": "null" },
                        "label": label,
                    },
                },
            ],
        },
        "Invalidate": {
            "description": "A tenant (optionally one level), or a Redis glob over cache keys alone.",
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["tenant"],
                    "properties": {
                        "tenant": { "type": "string" },
                        "level": { "anyOf": [{ "type": "string", "enum": ["l1", "l2", "l3", "l4"] }, { "type": "null" }] },
                        "pattern": { "type": "null" },
                    },
                },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["pattern"],
                    "properties": {
                        "pattern": { "type": "string", "minLength": 1, "maxLength": CACHE_PATTERN_MAX_CHARS },
                        "tenant": { "type": "null" },
                        "level": { "type": "null" },
                    },
                },
            ],
        },
    })
}

/// `/health`. Hand-written: `health.rs` builds the body with `json!`.
fn ops_schemas() -> Value {
    json!({
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": { "type": "string", "enum": ["ok", "degraded", "down"] },
                "version": { "type": "string" },
                "uptime_s": { "type": "integer" },
                "components": { "type": "array", "items": { "type": "object" } },
            },
        },
    })
}

fn header(description: &str, required: bool) -> Value {
    json!({ "description": description, "required": required, "schema": { "type": "string" } })
}

/// The documented error response for `status`.
fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "Malformed JSON, a missing field or an invalid value",
        401 => "Missing, unknown or revoked API key",
        403 => "The key's role may not use this endpoint",
        404 => "No such resource",
        409 => "Already exists",
        413 => "The body is larger than the limit",
        415 => "The body is not JSON",
        422 => "A field has the wrong JSON type",
        429 => "A rate limit (tenant or customer) or the tenant's LLM spend budget is exhausted; see Retry-After and RateLimit-*",
        500 => "Internal error; the request id finds it in the logs",
        503 => "Overloaded (shed), timed out, or a required component is down; see Retry-After",
        _ => "Error",
    };
    let mut headers = json!({ "x-request-id": header("Identifies the request in logs and traces", true) });
    if status == 429 || status == 503 {
        headers["Retry-After"] = header("Seconds to wait before retrying", true);
    }
    if status == 429 {
        for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"] {
            headers[name] = header("IETF RateLimit header fields (draft)", false);
        }
    }
    json!({
        "description": description,
        "headers": headers,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

/// The error statuses an operation can answer, from what it is.
fn error_statuses(op: &Map<String, Value>, path: &str) -> Vec<u16> {
    let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let tenant = op.get("tags").and_then(Value::as_array).is_some_and(|t| t.iter().any(|t| t == "chat"));
    let mut statuses = vec![500, 503];
    if secured {
        statuses.extend([401, 403, 404]);
    }
    if tenant {
        statuses.push(429);
    }
    if op.contains_key("requestBody") {
        statuses.extend([400, 413, 415, 422]);
    }
    if path.contains('{') || op.get("parameters").and_then(Value::as_array).is_some_and(|p| !p.is_empty()) {
        statuses.extend([400, 404]);
    }
    statuses
}

/// Completes the generated document in place.
pub(crate) fn complete(doc: &mut Value) {
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        let schemas = components.entry("schemas").or_insert_with(|| json!({}));
        if let Some(into) = schemas.as_object_mut() {
            into.extend(component_schemas());
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for op in item.values_mut() {
            let Some(op) = op.as_object_mut() else { continue };
            // Every body is required (the handlers refuse a request without one); utoipa says so
            // only of the bodies a Rust type names, not of those named by `ref`.
            if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
                body.insert("required".into(), Value::Bool(true));
            }
            // Ids in paths are UUIDs (anything else is a 400 before any lookup).
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for param in params.iter_mut().filter(|p| p["in"] == "path" && p["name"] == "id" && path.starts_with("/admin/keys/")) {
                    param["schema"] = json!({ "type": "string", "format": "uuid" });
                }
                // The widget's poll cursor is a message id.
                for param in params.iter_mut().filter(|p| p["in"] == "query" && p["name"] == "after" && path.ends_with("/events")) {
                    param["schema"] = json!({ "type": "string", "format": "uuid" });
                }
                params.iter_mut().for_each(|param| crate::onboarding_described::refine_parameter(path, param));
                params.iter_mut().for_each(|param| crate::usage::refine_parameter(path, param));
            }
            let statuses = error_statuses(op, path);
            let responses = op.entry("responses").or_insert_with(|| json!({}));
            let Some(responses) = responses.as_object_mut() else { continue };
            for status in statuses {
                responses.entry(status.to_string()).or_insert(Value::Null);
            }
            for (status, response) in responses.iter_mut() {
                let code: u16 = status.parse().unwrap_or(0);
                if code >= 400 {
                    // Keep a handler's own wording; the shape and headers are the same everywhere.
                    let own = response.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_owned);
                    // A body of its own (an upload's 422 bad-row report) replaces the plain error.
                    let own_content = response.get("content").cloned();
                    *response = error_response(code);
                    if let Some(own) = own {
                        response["description"] = Value::String(own);
                    }
                    if let Some(content) = own_content {
                        response["content"] = content;
                    }
                } else {
                    if !response.is_object() {
                        *response = json!({ "description": "OK" });
                    }
                    response["headers"] = json!({ "x-request-id": header("Identifies the request in logs and traces", true) });
                }
            }
        }
    }
}
