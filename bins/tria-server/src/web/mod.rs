//! The browser side of Tria: the chat page `/`, the embeddable widget (`/widget.js`), the
//! operator console page (`/console`), and the two JSON endpoints the widget needs besides the
//! chat stream — new messages of its session (operator replies) and feedback on replies.
//!
//! Publishable widget keys (role `widget`) chat for one tenant and may only read or rate
//! sessions the widget itself opened (channel `web`); every other session is "not found" to them.

pub(crate) mod assets;
mod cors;
pub(crate) mod described;
mod session;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use http::HeaderMap;
use tria_core::ApiRole;
use tria_store::Store;

use crate::state::AppState;
pub(crate) use cors::cors;
pub(crate) use session::{caller_of, message_json};

/// Pages, assets and the widget's session endpoints.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/widget.js", get(|h: HeaderMap| async move { assets::serve(&h, assets::Kind::Script, assets::WIDGET_JS.into()) }))
        .route("/widget.css", get(|h: HeaderMap| async move { assets::serve(&h, assets::Kind::Style, assets::WIDGET_CSS.into()) }))
        .route("/console", get(|h: HeaderMap| async move { assets::serve(&h, assets::Kind::Html, assets::CONSOLE_HTML.into()) }))
        .route("/console.js", get(|h: HeaderMap| async move { assets::serve(&h, assets::Kind::Script, assets::CONSOLE_JS.into()) }))
        .route("/console.css", get(|h: HeaderMap| async move { assets::serve(&h, assets::Kind::Style, assets::CONSOLE_CSS.into()) }))
        .route("/api/v1/sessions/{id}/events", get(session::session_events))
        .route("/api/v1/messages/{id}/feedback", post(session::feedback))
}

/// The demo chat page: the widget mounted full-page with the configured publishable key.
/// Without one, the page explains how to create a key (`?key=` also works, for trying one).
async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let key = state.settings().demo_widget_key.as_deref().unwrap_or("");
    let title = match state.store().keys().authenticate(key).await {
        Ok(Some(found)) => match found.tenant_id {
            Some(tenant) => state.store().tenants().get(tenant).await.ok().flatten().map(|t| format!("{} support", t.name)),
            None => None,
        },
        _ => None,
    };
    let title = title.unwrap_or_else(|| "Support chat".to_owned());
    let page =
        assets::INDEX_HTML.replace("{{WIDGET_KEY}}", &assets::attr_escape(key)).replace("{{WIDGET_TITLE}}", &assets::attr_escape(&title));
    assets::serve(&headers, assets::Kind::Html, page)
}

/// Stores the fixed publishable widget keys of `widget_keys` (tenant slug → key) that are not
/// stored yet; unknown slugs are skipped with a warning. Idempotent.
pub async fn seed_widget_keys(store: &Store, widget_keys: &BTreeMap<String, String>) -> Result<usize, tria_store::StoreError> {
    let mut created = 0;
    for (slug, key) in widget_keys {
        let Some(tenant) = store.tenants().find_by_slug(slug).await? else {
            tracing::warn!(tenant = %slug, "widget key configured for an unknown tenant; skipped");
            continue;
        };
        if !store.keys().exists(key).await? {
            store.keys().insert(Some(tenant.id), ApiRole::Widget, "demo web widget", key).await?;
            created += 1;
        }
    }
    Ok(created)
}
