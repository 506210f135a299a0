//! A JSON body extractor whose every rejection is the API's JSON error: wrong content type 415,
//! too large 413, malformed 400, missing field 400, wrong type 422.

use axum::extract::{FromRequest, Request};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use tria_core::ErrorCode;

use crate::ApiError;
use crate::state::AppState;

/// A request body parsed as `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !is_json(content_type) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let limit = state.settings().body_limit_bytes;
        if declared_length(&req).is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|err| read_error(err, limit))?;
        parse(&bytes).map(JsonBody)
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, format!("the body is larger than the limit of {limit} bytes"))
}

fn declared_length(req: &Request) -> Option<usize> {
    req.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
}

fn read_error(err: axum::Error, limit: usize) -> ApiError {
    let inner = err.into_inner();
    if inner.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
        too_large(limit)
    } else {
        // The client went away or sent a broken body (e.g. bad chunked encoding).
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, "the request body could not be read")
    }
}

/// The request with its whole body in memory, read within `timeout` and the body size limit.
/// The chat gate calls this before it gives out a slot: a client that sends its headers and
/// then holds the body back would otherwise keep a slot — shared by every tenant — for the
/// whole request deadline. A body still unfinished at `timeout` is the client's fault: 408.
/// A declared length over the limit is left for [`JsonBody`] to refuse without reading.
pub(crate) async fn buffered(req: Request, limit: usize, timeout: std::time::Duration) -> Result<Request, ApiError> {
    if declared_length(&req).is_some_and(|n| n > limit) {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(read) => read.map_err(|err| read_error(err, limit))?,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::Timeout,
                format!("the request body did not arrive within {} ms", timeout.as_millis()),
            ));
        }
    };
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Parses a body, classifying the failure.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body of this API is an object. Said first, so a well-formed array or `null` gets
    // that rather than serde's "expected struct ChatRequest with 3 elements".
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, format!("malformed JSON: {e}")));
        }
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, "the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = deserialize_classified(&mut de);
    let value = result.and_then(|value| {
        de.end().map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, format!("malformed JSON: {e}")))?;
        Ok(value)
    })?;
    Ok(value)
}

fn deserialize_classified<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    T::deserialize(de).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, format!("malformed JSON: {e}"))
            }
            Category::Data => {
                let text = e.to_string();
                if text.starts_with("missing field") {
                    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MissingField, strip_position(&text))
                } else {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, strip_position(&text))
                }
            }
        }
    })
}

/// serde_json appends " at line 1 column 12"; keep the message about the field.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tria_core::ChatRequest;

    fn code(body: &str) -> (StatusCode, ErrorCode) {
        let err = parse::<ChatRequest>(body.as_bytes()).expect_err(body);
        (err.status, err.code)
    }

    #[test]
    fn classifies_every_kind_of_bad_body() {
        assert_eq!(code("{"), (StatusCode::BAD_REQUEST, ErrorCode::InvalidJson));
        assert_eq!(code(""), (StatusCode::BAD_REQUEST, ErrorCode::InvalidJson));
        assert_eq!(code(r#"{"message": "hi"} trailing"#), (StatusCode::BAD_REQUEST, ErrorCode::InvalidJson));
        assert_eq!(code("{}"), (StatusCode::BAD_REQUEST, ErrorCode::MissingField));
        assert_eq!(code(r#"{"message": 5}"#), (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField));
        assert_eq!(code(r#"[1,2]"#), (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField));
        assert_eq!(code(r#"{"message": "hi", "extra": 1}"#), (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField));
        assert!(parse::<ChatRequest>(br#"{"message": "hi", "session_id": null}"#).is_ok());
        // Structs fill from arrays in serde; the API takes objects only.
        assert_eq!(code(r#"["hi", null, null]"#), (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField));
        for body in ["[]", "null", "\"hi\"", "3"] {
            let err = parse::<ChatRequest>(body.as_bytes()).expect_err(body);
            assert_eq!((err.status, err.message.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "the body must be a JSON object"), "{body}");
        }
        assert_eq!(code("[1,"), (StatusCode::BAD_REQUEST, ErrorCode::InvalidJson));
        assert!(parse::<ChatRequest>(b" \n {\"message\": \"hi\"}").is_ok());
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
