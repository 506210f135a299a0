//! `Authorization: Bearer <key>` → the tenant the request acts for ([`TenantAuth`], which also
//! applies the tenant's rate limit), a chat caller that may also be a publishable widget key
//! ([`ChatAuth`]), an admin ([`AdminAuth`]) or a console user ([`ConsoleAuth`]: admin, or an
//! operator scoped to its assigned tenants). A valid key of the wrong role is 403; a missing,
//! unknown or revoked key is 401.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use tria_core::{ApiRole, TenantContext, TenantId};
use tria_store::repo::AuthenticatedKey;
use uuid::Uuid;

use crate::ApiError;
use crate::state::AppState;

/// An admin key's id (for the audit log).
#[derive(Clone, Debug)]
pub(crate) struct AdminAuth {
    pub key_id: Uuid,
}

/// The authenticated tenant of a tenant-role key.
#[derive(Clone, Debug)]
pub(crate) struct TenantAuth(pub Arc<TenantContext>);

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
    state.auth_cache().key(state.store(), token).await?.ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))
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

/// A caller that may chat: a tenant key, or a publishable widget key (which may only use
/// sessions the widget opened — the agent checks it, see `tria_agent::Caller`).
#[derive(Clone, Debug)]
pub(crate) struct ChatAuth {
    pub tenant: Arc<TenantContext>,
    pub widget: bool,
    /// The key's id (per-key limits).
    pub key_id: Uuid,
    /// For a widget key, the client it connects from (its address; failed customer
    /// verifications are limited per client). `None` for tenant keys — a tenant's server
    /// speaks for all its customers from one address — and in-process without a socket.
    pub client: Option<tria_agent::ChatClient>,
}

/// A console user: an admin (every tenant) or an operator (the tenants assigned to its key).
#[derive(Clone, Debug)]
pub(crate) struct ConsoleAuth {
    pub key_id: Uuid,
    pub role: ApiRole,
    pub tenants: Vec<TenantId>,
}

impl FromRequestParts<AppState> for ConsoleAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = authenticate(parts, state).await?;
        let tenants = match key.role {
            ApiRole::Admin => state.store().tenants().list().await?.into_iter().map(|t| t.id).collect(),
            ApiRole::Operator => state.store().keys().operator_tenants(key.key_id).await?,
            _ => return Err(ApiError::forbidden("the console needs an operator or admin key")),
        };
        tracing::Span::current().record("tenant", key.role.as_str());
        Ok(ConsoleAuth { key_id: key.key_id, role: key.role, tenants })
    }
}

impl FromRequestParts<AppState> for ChatAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // The chat gate authenticates before it reads the body and leaves the caller here;
        // checking again would count the request against the tenant's rate twice.
        if let Some(caller) = parts.extensions.get::<ChatAuth>() {
            return Ok(caller.clone());
        }
        let key = authenticate(parts, state).await?;
        let (widget, key_id) = (key.role == ApiRole::Widget, key.key_id);
        let tenant = tenant_of(key, state, &[ApiRole::Tenant, ApiRole::Widget]).await?;
        let client = parts
            .extensions
            .get::<crate::serve::ConnectionHandle>()
            .filter(|_| widget)
            .map(|connection| tria_agent::ChatClient::from_ip(connection.0.peer.ip()));
        Ok(ChatAuth { tenant, widget, key_id, client })
    }
}

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Behind the chat gate the caller is known already (and its rate counted).
        if let Some(caller) = parts.extensions.get::<ChatAuth>() {
            return match caller.widget {
                true => Err(ApiError::forbidden("this endpoint needs a tenant key")),
                false => Ok(TenantAuth(caller.tenant.clone())),
            };
        }
        let key = authenticate(parts, state).await?;
        Ok(TenantAuth(tenant_of(key, state, &[ApiRole::Tenant]).await?))
    }
}

/// The tenant of a key whose role is one of `roles`, after the tenant's rate limit.
async fn tenant_of(key: AuthenticatedKey, state: &AppState, roles: &[ApiRole]) -> Result<Arc<TenantContext>, ApiError> {
    let tenant_id = match (key.role, key.tenant_id) {
        (role, Some(tenant)) if roles.contains(&role) => tenant,
        _ => return Err(ApiError::forbidden("this endpoint needs a tenant key")),
    };
    let tenant = state
        .auth_cache()
        .tenant(state.store(), tenant_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the key's tenant no longer exists"))?;
    tracing::Span::current().record("tenant", tenant.slug.as_str());
    tria_admission::admission::check_tenant_rate(state.rate_limiter(), &tenant, key.role == ApiRole::Widget).await?;
    Ok(tenant)
}
