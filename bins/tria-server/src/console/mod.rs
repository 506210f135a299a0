//! The operator console's JSON API (`/api/v1/console/...`, admin or operator keys): one queue
//! across exactly the caller's tenants, a conversation view with a handoff summary, take over /
//! hand back, operator replies, and a tenant dashboard. The page itself is `web::assets`.

mod api;
mod dashboard;
mod summary;

use axum::Router;
use axum::routing::{get, post};
use tria_core::TenantId;

use crate::ApiError;
use crate::auth::ConsoleAuth;
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

/// The value of `name` in a query string (values here are slugs, statuses and ids, which need
/// no percent-decoding; anything else simply matches nothing).
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v)).filter(|v| !v.is_empty())
}

/// The caller's tenants, narrowed to `slug` when given; a slug the caller may not see is 404
/// (whether or not it exists).
pub(crate) async fn scope(state: &AppState, caller: &ConsoleAuth, slug: Option<&str>) -> Result<Vec<TenantId>, ApiError> {
    let Some(slug) = slug else { return Ok(caller.tenants.clone()) };
    match state.store().tenants().find_by_slug(slug).await? {
        Some(t) if caller.tenants.contains(&t.id) => Ok(vec![t.id]),
        _ => Err(ApiError::not_found("no such tenant")),
    }
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
