//! The HTTP surface: paths, methods and the layers around them.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tria_core::{ChatReply, ChatRequest, ErrorCode};

use crate::auth::{ChatAuth, TenantAuth};
use crate::chat_admission::{AdmittedChat, admit_chat};
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::{
    ApiError, admin, audit, catalogue_upload, console, customer_data, customers, health, knowledge, metrics, middleware, openai, openapi,
    secrets, shed, slack_events, stream, usage, web, xero_connect,
};

/// The routes that run the chat pipeline, behind the load-shedding gate.
fn chat_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/chat", post(chat))
        .route("/api/v1/chat/stream", post(stream::chat_stream))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), shed::gate))
}

/// `/admin/*`: every handler requires an admin key.
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tenants", get(admin::list_tenants).post(admin::create_tenant))
        .route("/admin/tenants/{slug}", get(admin::get_tenant).patch(admin::update_tenant))
        .route("/admin/tenants/{slug}/reindex", post(admin::reindex_tenant))
        .route("/admin/tenants/{slug}/documents", get(knowledge::list_documents))
        .route("/admin/tenants/{slug}/documents/{doc_id}", put(knowledge::put_document).delete(knowledge::delete_document))
        .route("/admin/tenants/{slug}/knowledge/versions", get(knowledge::list_versions))
        .route("/admin/tenants/{slug}/knowledge/rollback", post(knowledge::rollback))
        .route("/admin/jobs/{id}", get(knowledge::get_job))
        .route("/admin/tenants/{slug}/catalogue", put(catalogue_upload::put_catalogue))
        .route("/admin/tenants/{slug}/customers", put(catalogue_upload::put_customers).delete(customer_data::erase_by_email))
        .route("/admin/tenants/{slug}/customers/{customer_number}", delete(customer_data::erase))
        .route("/admin/tenants/{slug}/customers/{customer_number}/export", get(customer_data::export))
        .route("/admin/audit", get(audit::list))
        .route("/admin/tenants/{slug}/secrets", get(secrets::list_secrets))
        .route("/admin/tenants/{slug}/secrets/{name}", put(secrets::put_secret).delete(secrets::delete_secret))
        .route("/admin/keys", get(admin::list_keys).post(admin::create_key))
        .route("/admin/keys/{id}", delete(admin::revoke_key))
        .route("/admin/cache/stats", get(admin::cache_stats))
        .route("/admin/cache/invalidate", post(admin::cache_invalidate))
        .route("/admin/db/pool", get(admin::db_pool))
        .route("/admin/integrations", get(admin::integrations))
        .route("/admin/usage", get(usage::admin_usage))
        .route("/admin/tenants/{slug}/integrations/xero", get(xero_connect::status).delete(xero_connect::disconnect))
        .route("/admin/tenants/{slug}/integrations/xero/connect", get(xero_connect::connect))
}

/// The whole service. Every response, including errors from unknown paths and wrong methods,
/// is JSON and carries `x-request-id`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(chat_routes(&state))
        .merge(admin_routes())
        .merge(web::routes())
        .merge(console::routes())
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::spec))
        .route("/docs", get(openapi::docs))
        .route("/api/v1/sessions/{id}/messages", get(session_messages))
        .route("/api/v1/metrics/cache", get(cache_metrics))
        .route("/api/v1/usage", get(usage::tenant_usage))
        .route("/api/v1/customers/{id}/profile", get(customers::profile))
        .route("/api/v1/customers/{id}/churn", get(customers::churn))
        .route("/integrations/slack/events", post(slack_events::events))
        .route("/integrations/xero/callback", get(xero_connect::callback))
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(web::cors))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::request_context))
        .with_state(state)
}

/// `?debug=true` (tenant keys only; a widget key gets 403) adds a `debug` block:
/// per-stage timings and what the context stage decided.
fn wants_debug(query: Option<&str>) -> Result<bool, ApiError> {
    let mut debug = false;
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        if key == "debug" {
            debug = match value {
                "true" | "1" | "" => true,
                "false" | "0" => false,
                other => return Err(ApiError::bad_request(format!("debug must be true or false, not `{other}`"))),
            };
        }
    }
    Ok(debug)
}

async fn chat(
    State(state): State<AppState>,
    caller: ChatAuth,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    let debug = wants_debug(query.as_deref())?;
    if debug && caller.widget {
        return Err(ApiError::forbidden("debug timings need a tenant key"));
    }
    let AdmittedChat { tenant, request, caller, scope } = admit_chat(&state, caller.into(), request).await?;
    // The pipeline's future is large (every stage's state); boxed, the handler's own future
    // stays small, and axum and hyper move a pointer instead of kilobytes on every poll setup.
    let (reply, trace) = scope.run(Box::pin(state.agent().chat_traced_on(&tenant, request, caller))).await?;
    if debug {
        let mut body = serde_json::to_value(&reply).map_err(ApiError::internal)?;
        body["debug"] = serde_json::to_value(&trace).map_err(ApiError::internal)?;
        return Ok(Json(body).into_response());
    }
    chat_json(&reply)
}

/// The reply as JSON, written into a buffer sized for it up front (axum's `Json` starts at
/// 128 bytes and grows four or five times for a typical 1–2 KB reply).
fn chat_json(reply: &ChatReply) -> Result<Response, ApiError> {
    const FIELDS: usize = 512;
    const PER_SOURCE: usize = 192;
    let mut body = Vec::with_capacity(FIELDS + reply.reply.len() + PER_SOURCE * reply.sources.len());
    serde_json::to_writer(&mut body, reply).map_err(ApiError::internal)?;
    Ok(([(http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn session_messages(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let messages = state.agent().history(&tenant, &id).await?;
    Ok(Json(serde_json::json!({ "session_id": id, "messages": messages })).into_response())
}

/// The caller tenant's cache figures: per level hits, misses, latency, entries, savings.
async fn cache_metrics(State(state): State<AppState>, TenantAuth(tenant): TenantAuth) -> Response {
    Json(state.agent().answer_cache().stats(tenant.id).await).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed, "this endpoint does not accept that method")
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use axum::extract::FromRequestParts;

    use crate::auth::ChatAuth;
    use crate::state::AppState;

    // The size of the future an `async fn` returns, read off its type without calling it.
    fn future_size2<A, B, F: Future>(_: impl FnOnce(A, B) -> F) -> usize {
        size_of::<F>()
    }
    fn future_size3<A, B, C, F: Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
        size_of::<F>()
    }
    fn future_size4<A, B, C, D, F: Future>(_: impl FnOnce(A, B, C, D) -> F) -> usize {
        size_of::<F>()
    }

    /// axum allocates every request's handler future (extractors included) and moves it into
    /// place, so state that only a cache miss, a Redis round trip or a widget needs must be
    /// boxed where it is entered, not carried inline. Unboxing one store read (the auth cache's)
    /// and one Redis read (the budget's) takes these to 8.1 KB / 1.9 KB / 7.6 KB; boxed they
    /// are 0.8 / 0.3 / 0.3 KB in this (debug) build. docs/PERFORMANCE.md, session 12.
    #[test]
    fn the_chat_handler_and_what_it_awaits_on_every_request_keep_small_futures() {
        let handler = future_size4(super::chat);
        let auth = future_size2(<ChatAuth as FromRequestParts<AppState>>::from_request_parts);
        let admission = future_size3(crate::chat_admission::admit_chat);
        let streamed_admission = future_size3(crate::chat_admission::admit_turn);
        assert!(handler <= 2048, "the /api/chat handler's future is {handler} bytes");
        assert!(auth <= 1024, "the ChatAuth extractor's future is {auth} bytes");
        assert!(admission <= 1024, "admission's future is {admission} bytes");
        assert!(streamed_admission <= 1024, "a stream's admission future is {streamed_admission} bytes");
    }
}
