//! The embedded browser assets and how they are served: compiled into the binary
//! (`include_str!`), with a content-hash `ETag` (a matching `If-None-Match` is answered
//! `304`), `Cache-Control`, and a strict Content-Security-Policy — scripts and styles from this
//! origin only, no inline script, no framing.

use std::hash::{Hash, Hasher};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Pages may load scripts, styles and data from this origin only. `img-src data:` is for the
/// inline SVG the dashboard draws; `frame-ancestors 'none'` stops click-jacking of the console.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) const INDEX_HTML: &str = include_str!("assets/index.html");
pub(crate) const WIDGET_JS: &str = include_str!("assets/widget.js");
pub(crate) const WIDGET_CSS: &str = include_str!("assets/widget.css");
pub(crate) const CONSOLE_HTML: &str = include_str!("assets/console.html");
pub(crate) const CONSOLE_JS: &str = include_str!("assets/console.js");
pub(crate) const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// What kind of file an asset is, which decides its content type and caching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Revalidated on every load, so a deploy shows at once.
    Html,
    /// Cached for a few minutes, then revalidated by ETag (the widget is embedded on other
    /// sites under a fixed URL, so it cannot be cached forever).
    Script,
    Style,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Kind::Html => "text/html; charset=utf-8",
            Kind::Script => "text/javascript; charset=utf-8",
            Kind::Style => "text/css; charset=utf-8",
        }
    }

    fn cache_control(self) -> &'static str {
        match self {
            Kind::Html => "no-cache",
            Kind::Script | Kind::Style => "public, max-age=300, must-revalidate",
        }
    }
}

/// A strong validator for `body`: equal bodies give equal tags within one build.
pub(crate) fn etag(body: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{:x}\"", hasher.finish(), body.len())
}

/// Whether the request's `If-None-Match` already names `tag`.
fn not_modified(request: &HeaderMap, tag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == "*" || candidate.trim().trim_start_matches("W/") == tag)
}

/// The asset as a response (or `304 Not Modified`).
pub(crate) fn serve(request: &HeaderMap, kind: Kind, body: String) -> Response {
    let tag = etag(&body);
    let status = if not_modified(request, &tag) { StatusCode::NOT_MODIFIED } else { StatusCode::OK };
    let mut response = Response::new(if status == StatusCode::OK { Body::from(body) } else { Body::empty() });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(kind.cache_control()));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if kind == Kind::Html {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// Escapes text for an HTML attribute value.
pub(crate) fn attr_escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_content_and_if_none_match_is_honoured() {
        assert_eq!(etag("a"), etag("a"));
        assert_ne!(etag("a"), etag("b"));
        let tag = etag("body");
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&format!("\"other\", W/{tag}")).expect("header"));
        assert!(not_modified(&headers, &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
        assert_eq!(serve(&headers, Kind::Script, "body".into()).status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn assets_carry_no_inline_script() {
        for page in [INDEX_HTML, CONSOLE_HTML] {
            let lower = page.to_ascii_lowercase();
            for (i, _) in lower.match_indices("<script") {
                let tag_end = lower[i..].find('>').map(|e| i + e).unwrap_or(lower.len());
                assert!(lower[i..tag_end].contains(" src="), "inline script in a page: {}", &page[i..tag_end]);
            }
            assert!(!lower.contains(" onclick=") && !lower.contains(" onload=") && !lower.contains(" style="), "inline handler or style");
        }
    }
}
