//! A path-parameter extractor whose rejection is the API's JSON error: a parameter that is not
//! valid UTF-8 or does not fit its type is 400 `invalid_field`, like a bad body field
//! ([`crate::json_body`]); axum's own `Path` answers `text/plain` "Invalid URL: …".

use axum::extract::FromRequestParts;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The request's path parameters, parsed as `T`.
#[derive(Debug)]
pub(crate) struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParam(value)),
            Err(rejection) => Err(rejection_error(rejection)),
        }
    }
}

fn rejection_error(rejection: PathRejection) -> ApiError {
    // A route extracting parameters it does not have is a routing mistake, not the client's.
    if rejection.status().is_server_error() {
        return ApiError::internal(rejection.body_text());
    }
    let message = match &rejection {
        PathRejection::FailedToDeserializePathParams(failed) => match failed.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => format!("the path parameter `{key}` is not valid UTF-8"),
            ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::DeserializeError { key, .. } => {
                format!("the path parameter `{key}` is not valid")
            }
            _ => "a path parameter is not valid".to_owned(),
        },
        _ => "a path parameter is not valid".to_owned(),
    };
    ApiError::bad_request(message)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::PathParam;

    async fn get_status_and_body(uri: &str) -> (StatusCode, serde_json::Value) {
        let app = Router::new()
            .route("/items/{id}", get(|PathParam(id): PathParam<u32>| async move { id.to_string() }))
            .route("/names/{name}", get(|PathParam(name): PathParam<String>| async move { name }));
        let response = app.oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("infallible");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({ "raw": String::from_utf8_lossy(&bytes) })))
    }

    #[tokio::test]
    async fn bad_path_parameters_are_json_400s_naming_the_parameter() {
        let (status, body) = get_status_and_body("/names/%ff%fe").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_field", "{body}");
        assert_eq!(body["error"]["message"], "the path parameter `name` is not valid UTF-8");
        let (status, body) = get_status_and_body("/items/nope").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["message"], "a path parameter is not valid", "{body}");
        assert_eq!(get_status_and_body("/items/7").await.0, StatusCode::OK);
        assert_eq!(get_status_and_body("/names/caf%C3%A9").await, (StatusCode::OK, serde_json::json!({ "raw": "café" })));
    }
}
