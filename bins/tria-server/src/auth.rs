//! `Authorization: Bearer <key>` → the tenant the request acts for ([`TenantAuth`], which also
//! applies the tenant's rate limit) or an admin ([`AdminAuth`]). A valid key of the wrong role
//! is 403; a missing, unknown or revoked key is 401.

use axum::extract::FromRequestParts;
use http::request::Parts;
use tria_core::{ApiRole, TenantContext};
use tria_store::repo::AuthenticatedKey;
use uuid::Uuid;

use crate::ApiError;
use crate::ratelimit::Decision;
use crate::state::AppState;

/// An admin key's id (for the audit log).
#[derive(Clone, Debug)]
pub(crate) struct AdminAuth {
    pub key_id: Uuid,
}

/// The authenticated tenant of a tenant-role key.
#[derive(Clone, Debug)]
pub(crate) struct TenantAuth(pub TenantContext);

/// The bearer token of a request, if it has a well-formed one.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <key>` header"))?;
    let value = header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <key>`"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 256 {
        return Err(ApiError::unauthorized("expected `Authorization: Bearer <key>`"));
    }
    Ok(token)
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<AuthenticatedKey, ApiError> {
    let token = bearer(parts)?;
    state.store().keys().authenticate(token).await?.ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = authenticate(parts, state).await?;
        if key.role != ApiRole::Admin {
            return Err(ApiError::forbidden("this endpoint needs an admin key"));
        }
        tracing::Span::current().record("tenant", "admin");
        Ok(AdminAuth { key_id: key.key_id })
    }
}

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = authenticate(parts, state).await?;
        let tenant_id = match (key.role, key.tenant_id) {
            (ApiRole::Tenant, Some(tenant)) => tenant,
            _ => return Err(ApiError::forbidden("this endpoint needs a tenant key")),
        };
        let tenant =
            state.store().tenants().get(tenant_id).await?.ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        tracing::Span::current().record("tenant", tenant.slug.as_str());
        if let Decision::Limited { limit, retry_after } = state.rate_limiter().check(&tenant).await {
            return Err(crate::admission::rate_limited(
                "too many requests for this tenant; retry after the indicated time",
                limit,
                retry_after,
                None,
            ));
        }
        Ok(TenantAuth(tenant))
    }
}
