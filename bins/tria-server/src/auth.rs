//! `Authorization: Bearer <key>` → the tenant the request acts for.

use axum::extract::FromRequestParts;
use http::request::Parts;
use tria_core::{ApiRole, TenantContext};

use crate::ApiError;
use crate::state::AppState;

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

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let key = state
            .store()
            .keys()
            .authenticate(token)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))?;
        let tenant_id = match (key.role, key.tenant_id) {
            (ApiRole::Tenant, Some(tenant)) => tenant,
            _ => return Err(ApiError::forbidden("this endpoint needs a tenant key")),
        };
        let tenant = state
            .store()
            .tenants()
            .get(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
        tracing::Span::current().record("tenant", tenant.slug.as_str());
        Ok(TenantAuth(tenant))
    }
}
