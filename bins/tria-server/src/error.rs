//! The one mapping from typed errors to HTTP: a status and `{"error": {"code", "message"}}`.
//! Internal failures are logged with the request id and answered with a generic message.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use tria_admission::Refusal;
use tria_agent::{AgentError, ChatEvent};
use tria_core::{ErrorCode, InputError};

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, for 429/503.
    pub retry_after: Option<u64>,
    /// More headers for the response (`RateLimit-*` on a 429).
    pub headers: Vec<(http::HeaderName, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, headers: Vec::new() }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, message);
        e.retry_after = Some(5);
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, message)
    }

    /// Too much load right now: shed with a hint when to come back.
    pub fn overloaded(message: impl Into<String>, retry_after_s: u64) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded, message);
        e.retry_after = Some(retry_after_s.max(1));
        e
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_s: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, message);
        e.retry_after = Some(retry_after_s.max(1));
        e
    }

    /// A failure inside: the detail goes to the log, the caller sees a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error; the request id identifies it in our logs")
    }
}

/// The status each input error code maps to.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidJson | ErrorCode::MissingField | ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidField => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Overloaded | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<InputError> for ApiError {
    fn from(err: InputError) -> Self {
        // Empty or malformed values of the right type are a bad request, like missing ones;
        // 422 is kept for values of the wrong JSON type.
        let status = match err.code {
            ErrorCode::InvalidField => StatusCode::BAD_REQUEST,
            code => status_of(code),
        };
        Self::new(status, err.code, err.message)
    }
}

impl From<AgentError> for ApiError {
    fn from(err: AgentError) -> Self {
        match err {
            AgentError::Input(input) => input.into(),
            AgentError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                ApiError::unavailable("storage is temporarily unavailable; retry shortly")
            }
            AgentError::Busy(detail) => {
                tracing::warn!(error = %detail, "turn lock wait ran out");
                ApiError::overloaded(format!("{detail}; retry shortly"), 1)
            }
            AgentError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

/// Whole seconds a client should wait: rounded up, so waiting exactly that long finds room.
fn ceil_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A refusal by admission is a 429 with `Retry-After` and the `RateLimit-*` headers (IETF draft
/// names); a spent budget also states its policy, in whole units (tokens, or dollars in cents).
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let seconds = ceil_seconds(refusal.retry_after());
        let (limit, policy) = match &refusal {
            Refusal::TenantRate { limit, .. } | Refusal::WidgetRate { limit, .. } | Refusal::CustomerRate { limit, .. } => {
                (u64::from(*limit), None)
            }
            Refusal::Budget { window, unit, limit, .. } => {
                let (quota, quota_unit) =
                    if *unit == "usd" { ((limit * 100.0).round() as u64, "usd-cents") } else { (*limit as u64, "tokens") };
                (quota, Some(format!("{quota};w={};unit=\"{quota_unit}\"", window.policy_seconds())))
            }
        };
        let mut err = ApiError::rate_limited(refusal.to_string(), seconds);
        err.headers.push((http::HeaderName::from_static("ratelimit-limit"), limit.to_string()));
        err.headers.push((http::HeaderName::from_static("ratelimit-remaining"), "0".to_owned()));
        err.headers.push((http::HeaderName::from_static("ratelimit-reset"), seconds.to_string()));
        if let Some(policy) = policy {
            err.headers.push((http::HeaderName::from_static("ratelimit-policy"), policy));
        }
        err
    }
}

impl ApiError {
    /// The `error` event a chat stream ends with: the same code and message as the HTTP answer.
    pub(crate) fn into_chat_event(self) -> ChatEvent {
        ChatEvent::Error { code: self.code, message: self.message }
    }
}

/// A streamed chat's item as the client sees it: a failure mapped like any HTTP error.
pub(crate) fn chat_event(item: Result<ChatEvent, AgentError>) -> ChatEvent {
    item.unwrap_or_else(|err| ApiError::from(err).into_chat_event())
}

impl From<tria_console::ConsoleError> for ApiError {
    fn from(err: tria_console::ConsoleError) -> Self {
        use tria_console::ConsoleError;
        match err {
            ConsoleError::NotFound(what) => ApiError::not_found(what),
            ConsoleError::Invalid(message) => ApiError::bad_request(message),
            ConsoleError::MalformedSlackEvent => ApiError::bad_request(err.to_string()),
            // 409 with the field code: the body's `content` cannot be taken in this state.
            ConsoleError::BotAnswering => ApiError::new(StatusCode::CONFLICT, ErrorCode::InvalidField, err.to_string()),
            // Logged where it failed; Slack retries on a 5xx.
            ConsoleError::Reaction(_) => ApiError::unavailable("the helpdesk could not be reached; Slack will retry"),
            ConsoleError::Agent(err) => err.into(),
            ConsoleError::Store(err) => err.into(),
        }
    }
}

impl From<tria_secrets::SecretsError> for ApiError {
    fn from(err: tria_secrets::SecretsError) -> Self {
        use tria_secrets::SecretsError;
        match err {
            SecretsError::NotConfigured => Self::unavailable(err.to_string()),
            SecretsError::Store(e) => e.into(),
            // The errors name keys and rows, never values: safe for the log.
            other => Self::internal(other),
        }
    }
}

impl From<tria_store::StoreError> for ApiError {
    fn from(err: tria_store::StoreError) -> Self {
        AgentError::from(err).into()
    }
}

impl From<tria_store::uploads::UploadError> for ApiError {
    fn from(err: tria_store::uploads::UploadError) -> Self {
        match err {
            tria_store::uploads::UploadError::Import(e) if e.is_client_error() => {
                let (status, code) = crate::catalogue_upload::import_status(&e);
                Self::new(status, code, e.to_string())
            }
            tria_store::uploads::UploadError::Store(e) => e.into(),
            other => Self::internal(other),
        }
    }
}

impl From<tria_knowledge::KnowledgeError> for ApiError {
    fn from(err: tria_knowledge::KnowledgeError) -> Self {
        use tria_ingest::IngestError;
        use tria_knowledge::KnowledgeError;
        // The message starts with the upload's own code (`no_text: …`) so a script can tell
        // the problems apart within one HTTP code.
        let named = |status, code, err: &KnowledgeError| Self::new(status, code, format!("{}: {err}", err.code()));
        match &err {
            KnowledgeError::Ingest(IngestError::TooLarge { .. }) => named(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, &err),
            KnowledgeError::Ingest(IngestError::UnsupportedType(_) | IngestError::UnsupportedCharset(_)) => {
                named(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, &err)
            }
            KnowledgeError::Ingest(_) => named(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, &err),
            KnowledgeError::InvalidDocId(message) => Self::bad_request(message.clone()),
            KnowledgeError::NotFound(what) => Self::not_found(format!("{what} not found")),
            KnowledgeError::Store(_)
            | KnowledgeError::Chunk(_)
            | KnowledgeError::BadJob(_)
            | KnowledgeError::Indexer(_)
            | KnowledgeError::LeaseLost(_) => match err {
                KnowledgeError::Store(e) => e.into(),
                other => Self::internal(other),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "code": self.code.as_str(), "message": self.message } }));
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = http::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(http::header::RETRY_AFTER, value);
        }
        for (name, value) in self.headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_errors() -> Vec<AgentError> {
        vec![
            AgentError::Input(InputError::new(ErrorCode::NotFound, "session not found")),
            AgentError::Unavailable("connection refused password=hunter2".into()),
            AgentError::Internal("db password=hunter2".into()),
            AgentError::Busy("conversation busy: waited for the conversation's earlier turns for longer than 30000 ms".into()),
        ]
    }

    #[test]
    fn agent_errors_map_to_a_status_code_and_message_without_internals() {
        let mapped: Vec<_> = agent_errors().into_iter().map(ApiError::from).map(|e| (e.status.as_u16(), e.code, e.message)).collect();
        assert_eq!(
            mapped,
            [
                (404, ErrorCode::NotFound, "session not found".to_owned()),
                (503, ErrorCode::Unavailable, "storage is temporarily unavailable; retry shortly".to_owned()),
                (500, ErrorCode::Internal, "internal error; the request id identifies it in our logs".to_owned()),
                (
                    503,
                    ErrorCode::Overloaded,
                    "conversation busy: waited for the conversation's earlier turns for longer than 30000 ms; retry shortly".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_streamed_failure_says_what_the_http_answer_says() {
        for (err, same) in agent_errors().into_iter().zip(agent_errors()) {
            let http = ApiError::from(same);
            let ChatEvent::Error { code, message } = chat_event(Err(err)) else { panic!("an error event") };
            assert_eq!((code, message.as_str()), (http.code, http.message.as_str()));
            assert!(!message.contains("hunter2"), "{message}");
        }
        let ok = ChatEvent::Token { delta: "Hi".into() };
        assert_eq!(chat_event(Ok(ok.clone())), ok);
    }
}
