//! Cross-origin access for the embeddable widget: a page on a client's site calls the chat,
//! session-events and feedback endpoints of this origin. Credentials are bearer keys in a
//! header, never cookies, so allowing any origin exposes nothing a key does not already grant.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};

/// Paths a widget on another origin calls.
fn widget_path(path: &str) -> bool {
    path == "/api/chat"
        || path == "/api/v1/chat/stream"
        || (path.starts_with("/api/v1/sessions/") && path.ends_with("/events"))
        || (path.starts_with("/api/v1/messages/") && path.ends_with("/feedback"))
}

/// Answers CORS preflights and marks responses readable cross-origin, on widget paths only.
pub(crate) async fn cors(request: Request, next: Next) -> Response {
    if !widget_path(request.uri().path()) || !request.headers().contains_key(header::ORIGIN) {
        return next.run(request).await;
    }
    if request.method() == Method::OPTIONS {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x-request-id, retry-after"));
    response
}
