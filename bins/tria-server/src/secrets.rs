//! `/admin/tenants/{slug}/secrets`: a tenant's integration secrets, write-only. PUT seals and
//! stores a value; GET lists names, masked hints and times; DELETE removes one. No response,
//! log line or error ever carries a value (`tria_secrets::SecretValue` prints `[redacted]`).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tria_core::ErrorCode;
use tria_secrets::{SecretHint, SecretName, SecretStore, SecretValue};

use crate::ApiError;
use crate::admin::tenant_by_slug;
use crate::auth::AdminAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The longest value accepted, in bytes: far above any token or webhook URL.
const VALUE_MAX_BYTES: usize = 8 * 1024;

/// `PUT …/secrets/{name}`. No `Debug`: the value must not be printable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutSecret {
    value: String,
}

fn hint_json(h: &SecretHint) -> Value {
    json!({ "name": h.name, "hint": h.hint, "updated_at": h.updated_at })
}

fn secret_store(state: &AppState) -> Result<&SecretStore, ApiError> {
    state.secrets().ok_or_else(|| {
        ApiError::unavailable("secrets are not configured: set secrets.master_key_file (or TRIA_SECRETS__MASTER_KEY) and restart")
    })
}

fn secret_name(name: &str) -> Result<SecretName, ApiError> {
    name.parse().map_err(|e: tria_secrets::UnknownSecretName| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, format!("`name`: {e}"))
    })
}

pub(crate) async fn put_secret(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam((slug, name)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<PutSecret>,
) -> Result<Response, ApiError> {
    let secrets = secret_store(&state)?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let name = secret_name(&name)?;
    let value = SecretValue::new(body.value);
    if value.expose().trim().is_empty() {
        return Err(ApiError::bad_request("`value` must not be empty (DELETE removes a secret)"));
    }
    if value.expose().len() > VALUE_MAX_BYTES {
        return Err(ApiError::bad_request(format!("`value` must be at most {VALUE_MAX_BYTES} bytes")));
    }
    if value.expose().chars().any(char::is_control) {
        return Err(ApiError::bad_request("`value` must not contain control characters"));
    }
    let hint = secrets.put(tenant.id, name, &value).await?;
    if let Some(own) = state.tenant_integrations() {
        own.forget(tenant.id);
    }
    tracing::info!(admin_key = %admin.key_id, tenant = %tenant.slug, secret = %name, "tenant secret set");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "secret.set",
        format!("secret:{name}"),
        json!({}),
    )
    .await;
    Ok(Json(hint_json(&hint)).into_response())
}

pub(crate) async fn list_secrets(
    State(state): State<AppState>,
    _admin: AdminAuth,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    let secrets = secret_store(&state)?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let list = secrets.list(tenant.id).await?;
    Ok(Json(json!({ "secrets": list.iter().map(hint_json).collect::<Vec<_>>() })).into_response())
}

pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam((slug, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let secrets = secret_store(&state)?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let name = secret_name(&name)?;
    if !secrets.delete(tenant.id, name).await? {
        return Err(ApiError::not_found(format!("tenant `{slug}` has no secret `{name}`")));
    }
    if let Some(own) = state.tenant_integrations() {
        own.forget(tenant.id);
    }
    tracing::info!(admin_key = %admin.key_id, tenant = %tenant.slug, secret = %name, "tenant secret deleted");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "secret.deleted",
        format!("secret:{name}"),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
