//! OpenAPI stand-ins for the web widget's and the operator console's routes (the handlers stay
//! free of OpenAPI detail; `openapi.rs` lists these).
#![allow(dead_code)]

#[utoipa::path(get, path = "/", tag = "web", responses((status = 200, description = "The chat page: the widget mounted full-page with the demo publishable key", content_type = "text/html")))]
pub(crate) fn index() {}

#[utoipa::path(get, path = "/widget.js", tag = "web",
    responses((status = 200, description = "The embeddable widget: `<script src=\".../widget.js\" data-key=\"PUBLISHABLE_KEY\" defer>`; optional `data-mount` (CSS selector) and `data-title`", content_type = "text/javascript"),
        (status = 304, description = "`If-None-Match` matched the ETag")))]
pub(crate) fn widget_js() {}

#[utoipa::path(get, path = "/widget.css", tag = "web", responses((status = 200, description = "The widget's styles", content_type = "text/css"), (status = 304)))]
pub(crate) fn widget_css() {}

#[utoipa::path(get, path = "/console", tag = "web", responses((status = 200, description = "The operator console page (asks for an operator or admin key)", content_type = "text/html")))]
pub(crate) fn console_page() {}

#[utoipa::path(get, path = "/console.js", tag = "web", responses((status = 200, description = "The console's script", content_type = "text/javascript"), (status = 304)))]
pub(crate) fn console_js() {}

#[utoipa::path(get, path = "/console.css", tag = "web", responses((status = 200, description = "The console's styles", content_type = "text/css"), (status = 304)))]
pub(crate) fn console_css() {}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/events", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session id"), ("after" = Option<String>, Query, description = "Only messages after this message id")),
    responses((status = 200, description = "`{\"session_id\", \"status\", \"messages\": [{\"id\", \"role\" (user|assistant|operator), \"content\", \"citations\", ...}]}`; polled by the widget for operator replies"),
        (status = 400, description = "`after` is not a UUID"), (status = 401), (status = 403),
        (status = 404, description = "Unknown session, another tenant's, or (widget keys) one the widget did not open")))]
pub(crate) fn session_events() {}

#[utoipa::path(post, path = "/api/v1/messages/{id}/feedback", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "The reply's `message_id` (from the chat reply or the stream's `done` event)")),
    request_body(content = super::session::FeedbackBody, description = "`{\"rating\": \"up\"|\"down\", \"comment\"?}`; a second verdict replaces the first"),
    responses((status = 200, description = "`{\"message_id\", \"session_id\", \"rating\"}`"), (status = 400), (status = 401), (status = 403),
        (status = 404, description = "Not one of the caller's replies"), (status = 415)))]
pub(crate) fn feedback() {}

#[utoipa::path(get, path = "/api/v1/console/me", tag = "console", security(("bearer" = [])),
    responses((status = 200, description = "`{\"role\", \"tenants\": [{\"id\", \"slug\", \"name\"}]}`"), (status = 401), (status = 403)))]
pub(crate) fn console_me() {}

#[utoipa::path(get, path = "/api/v1/console/conversations", tag = "console", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "open, handed_off or closed"), ("tenant" = Option<String>, Query, description = "One of the caller's tenant slugs")),
    responses((status = 200, description = "The queue across the caller's tenants: `{\"conversations\": [{\"id\", \"tenant\", \"status\", \"resolution\", \"intent\", \"sentiment\", \"handoff\", \"messages\", \"preview\", ...}]}`"),
        (status = 400), (status = 401), (status = 403), (status = 404, description = "A tenant the caller is not assigned to")))]
pub(crate) fn console_conversations() {}

#[utoipa::path(get, path = "/api/v1/console/conversations/{id}", tag = "console", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "`{\"conversation\", \"summary\": {\"customer_wants\", \"bot_did\", \"reason\", \"sentiment\"}, \"messages\" (with citations, notes, feedback), \"escalations\"}`"),
        (status = 401), (status = 403), (status = 404)))]
pub(crate) fn console_conversation() {}

#[utoipa::path(post, path = "/api/v1/console/conversations/{id}/take-over", tag = "console", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The conversation, now `handed_off`: a person answers, the bot stops"), (status = 401), (status = 403), (status = 404)))]
pub(crate) fn console_take_over() {}

#[utoipa::path(post, path = "/api/v1/console/conversations/{id}/hand-back", tag = "console", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The conversation, `open` again: the bot answers"), (status = 401), (status = 403), (status = 404)))]
pub(crate) fn console_hand_back() {}

#[utoipa::path(post, path = "/api/v1/console/conversations/{id}/messages", tag = "console", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Object, description = "`{\"content\"}`"),
    responses((status = 201, description = "The stored operator message (role `operator`); the customer's widget shows it"),
        (status = 400), (status = 401), (status = 403), (status = 404), (status = 409, description = "The conversation is not taken over")))]
pub(crate) fn console_post_message() {}

#[utoipa::path(get, path = "/api/v1/console/dashboard", tag = "console", security(("bearer" = [])),
    params(("tenant" = String, Query, description = "A tenant slug the caller works on"), ("days" = Option<u32>, Query, description = "1 to 90, default 14")),
    responses((status = 200, description = "`messages_per_day`, `resolutions`, `feedback`, `replies_by_cache_level`, `cache`, `tokens` (spent and saved), `latency_ms` (p50, p95), `escalations_open`, `breakers`"),
        (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) fn console_dashboard() {}
