//! The audit log over HTTP (issue 29): [`record`] appends what an admin or operator did (the
//! handlers call it after the action succeeded), `GET /admin/audit` reads it, filtered and
//! paged. Nothing here updates or deletes an entry, and there is no route that could.

use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};
use tria_core::{ApiRole, TenantContext, TenantId};
use tria_store::repo::{AuditFilter, NewAuditEntry};
use uuid::Uuid;

use crate::ApiError;
use crate::auth::AdminAuth;
use crate::state::AppState;

/// The request's `x-request-id` (set by `middleware::request_context`; empty off that path).
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestId>().cloned().unwrap_or_default())
    }
}

/// Who acted: an API key and its role.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Actor {
    pub key_id: Uuid,
    pub role: ApiRole,
}

impl From<&AdminAuth> for Actor {
    fn from(admin: &AdminAuth) -> Self {
        Self { key_id: admin.key_id, role: ApiRole::Admin }
    }
}

/// The tenant of an entry, from the tenant an admin path named.
pub(crate) fn tenant_of(tenant: &TenantContext) -> Option<(TenantId, &str)> {
    Some((tenant.id, tenant.slug.as_str()))
}

/// Appends one entry. An audit write that fails is logged loudly but does not undo or fail
/// the action it describes (which has already happened).
pub(crate) async fn record(
    state: &AppState,
    actor: Actor,
    request: &RequestId,
    tenant: Option<(TenantId, &str)>,
    action: &str,
    target: impl Into<String>,
    details: Value,
) {
    let entry = NewAuditEntry {
        tenant: tenant.map(|(id, slug)| (id, slug.to_owned())),
        actor_key_id: Some(actor.key_id),
        actor_role: actor.role.as_str().to_owned(),
        action: action.to_owned(),
        target: target.into(),
        request_id: request.0.clone(),
        details,
    };
    if let Err(err) = state.store().audit().append(entry).await {
        tracing::error!(error = %err, action, request_id = %request.0, "could not write the audit log");
    }
}

/// Entries per page when `limit` is absent, and at most.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    tenant: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::bad_request(format!("`{field}` must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z")))
        })
        .transpose()
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("bearer" = [])),
    params(("tenant" = Option<String>, Query, description = "Only this tenant's entries (slug)"),
        ("actor" = Option<String>, Query, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "Only this API key's actions (key id)"),
        ("from" = Option<String>, Query, format = DateTime, description = "Entries at or after this time (RFC 3339)"),
        ("to" = Option<String>, Query, format = DateTime, description = "Entries before this time (RFC 3339)"),
        ("cursor" = Option<String>, Query, pattern = "^[0-9]{1,18}$", description = "`next_cursor` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Entries per page, 1-500 (100)")),
    responses((status = 200, description = "`{entries: [{seq, id, tenant_id, tenant, actor_key_id, actor_role, action, target, request_id, details, created_at}], next_cursor}`, oldest first; `next_cursor` is null on the last page. Entries cannot be changed or deleted through the API."),
        (status = 400), (status = 401), (status = 403), (status = 404)))]
/// The audit log of admin and operator actions, oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))?;
    let tenant = match &q.tenant {
        Some(slug) => Some(crate::admin::tenant_by_slug(&state, slug).await?.id),
        None => None,
    };
    let actor = q
        .actor
        .as_deref()
        .map(|a| a.parse::<Uuid>().map_err(|_| ApiError::bad_request("`actor` must be an API key id (a UUID)")))
        .transpose()?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| ApiError::bad_request("`cursor` must be a `next_cursor` value")))
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("`limit` must be 1 to {MAX_PAGE}")))?,
    };
    let filter =
        AuditFilter { tenant, actor, from: time("from", q.from.as_deref())?, to: time("to", q.to.as_deref())?, after, limit: limit + 1 };
    let mut entries = state.store().audit().list(&filter).await?;
    let more = entries.len() as u64 > limit;
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more.then(|| entries.last().map(|e| e.seq.to_string())).flatten();
    Ok(Json(json!({ "entries": entries, "next_cursor": next_cursor })).into_response())
}
