//! The operator console's JSON API (`/api/v1/console/...`, admin or operator keys): one queue
//! across exactly the caller's tenants, a conversation view with a handoff summary, take over /
//! hand back, operator replies, and a tenant dashboard. What they show and do is
//! `tria_console`'s; this module is the HTTP around it. The page itself is `web::assets`.

mod api;
mod dashboard;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tria_console::Console;

use crate::state::AppState;

pub(crate) use api::{conversation, conversations, hand_back, me, post_message, take_over};
pub(crate) use dashboard::dashboard;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/console/me", get(me))
        .route("/api/v1/console/conversations", get(conversations))
        .route("/api/v1/console/conversations/{id}", get(conversation))
        .route("/api/v1/console/conversations/{id}/take-over", post(take_over))
        .route("/api/v1/console/conversations/{id}/hand-back", post(hand_back))
        .route("/api/v1/console/conversations/{id}/messages", post(post_message))
        .route("/api/v1/console/dashboard", get(dashboard))
}

/// The console library over this state's components.
pub(crate) fn console(state: &AppState) -> Console<'_> {
    Console::new(state.store(), state.agent(), state.integrations())
}

/// A view as a JSON body. Through `serde_json::Value`, whose objects keep their keys sorted: the
/// order these responses have always had, whatever the order of the view's fields.
pub(crate) fn json_of(view: &impl Serialize) -> Response {
    match serde_json::to_value(view) {
        Ok(value) => Json(value).into_response(),
        Err(err) => crate::ApiError::internal(err).into_response(),
    }
}

/// The value of `name` in a query string (values here are slugs, statuses and ids, which need
/// no percent-decoding; anything else simply matches nothing).
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v)).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_found_by_exact_name() {
        assert_eq!(query_param(Some("tenant=velo&status=open"), "status"), Some("open"));
        assert_eq!(query_param(Some("xtenant=velo"), "tenant"), None);
        assert_eq!(query_param(Some("tenant="), "tenant"), None);
        assert_eq!(query_param(None, "tenant"), None);
    }
}
