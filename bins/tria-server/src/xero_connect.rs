//! Connecting a tenant's own Xero organisation (OAuth 2.0 authorization code; issue 25):
//! `GET /admin/tenants/{slug}/integrations/xero/connect` → the authorize URL with a state bound
//! to the tenant; the public `GET /integrations/xero/callback?code=&state=` completes it;
//! `GET`/`DELETE /admin/tenants/{slug}/integrations/xero` show and end the connection. The flow
//! itself is `tria_integrations::xero::tenant`; no response ever carries a token.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};
use tria_core::ErrorCode;
use tria_integrations::xero::tenant::{ConnectError, OrganisationChoice, XeroConnector, XeroDirectory, reconnect_hint};
use tria_store::records::XeroConnection;

use crate::ApiError;
use crate::admin::tenant_by_slug;
use crate::auth::AdminAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The authorization-code flow and the directory the invoice worker reads connections through.
#[derive(Clone, Debug)]
pub struct XeroTenants {
    pub connector: XeroConnector,
    pub directory: XeroDirectory,
}

fn xero_tenants(state: &AppState) -> Result<&XeroTenants, ApiError> {
    state.xero_tenants().ok_or_else(|| {
        ApiError::unavailable(
            "tenants' own Xero is not configured: set [integrations.xero_app] (TRIA_INTEGRATIONS__XERO_APP__*) and secrets.master_key_file",
        )
    })
}

/// One parameter of a query string, percent-decoded.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://q/?{}", query.unwrap_or_default())).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn organisations_json(list: &[OrganisationChoice]) -> Value {
    Value::Array(list.iter().map(|o| json!({ "tenant_id": o.tenant_id, "tenant_name": o.tenant_name })).collect())
}

fn connection_json(slug: &str, connection: Option<&XeroConnection>) -> Value {
    match connection {
        None => json!({ "tenant": slug, "status": "not_connected", "organisation": null, "connect": reconnect_hint(slug) }),
        Some(c) => json!({
            "tenant": slug,
            "status": c.status,
            "organisation": { "id": c.xero_tenant_id, "name": c.org_name },
            "connected_at": c.connected_at,
            "revoked_at": c.revoked_at,
            "connect": reconnect_hint(slug),
        }),
    }
}

/// A connect error as HTTP; ambiguity also lists the organisations to choose from.
fn connect_error(err: ConnectError) -> Response {
    match err {
        ConnectError::InvalidState | ConnectError::MissingCode | ConnectError::Denied(_) | ConnectError::CodeRefused => {
            ApiError::bad_request(err.to_string()).into_response()
        }
        ConnectError::Ambiguous { ref organisations } | ConnectError::NoOrganisation { ref organisations, .. } => {
            let body = json!({ "error": {
                "code": ErrorCode::InvalidField.as_str(),
                "message": err.to_string(),
                "organisations": organisations_json(organisations),
            }});
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        ConnectError::Xero(e) => {
            tracing::warn!(error = %e, "Xero refused or failed during a connection");
            ApiError::unavailable(format!("Xero could not complete the connection: {e}")).into_response()
        }
        ConnectError::Store(e) => ApiError::from(e).into_response(),
        ConnectError::Secrets(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /admin/tenants/{slug}/integrations/xero/connect[?organisation=]`.
#[utoipa::path(get, path = "/admin/tenants/{slug}/integrations/xero/connect", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"),
        ("organisation" = Option<String>, Query, description = "The Xero organisation (tenantId or name) to keep if the user connects several")),
    responses((status = 200, description = "`{authorize_url, state, expires_at}`: send the client's Xero user to `authorize_url`; the state is bound to this tenant, single use, valid 10 minutes", body = Object),
        (status = 404, description = "No such tenant"),
        (status = 503, description = "`[integrations.xero_app]` or the secrets store is not configured")))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let xero = xero_tenants(&state)?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let organisation = query_value(query.as_deref(), "organisation");
    if organisation.as_ref().is_some_and(|o| o.chars().count() > 255) {
        return Err(ApiError::bad_request("`organisation` must be at most 255 characters"));
    }
    match xero.connector.start(tenant.id, organisation.as_deref()).await {
        Ok(start) => {
            tracing::info!(admin_key = %admin.key_id, tenant = %tenant.slug, "Xero connection started");
            crate::audit::record(
                &state,
                crate::audit::Actor::from(&admin),
                &rid,
                crate::audit::tenant_of(&tenant),
                "integration.xero.connect_started",
                format!("tenant:{}", tenant.slug),
                json!({}),
            )
            .await;
            Ok(Json(json!({ "authorize_url": start.authorize_url, "state": start.state, "expires_at": start.expires_at })).into_response())
        }
        Err(err) => Ok(connect_error(err)),
    }
}

/// `GET /integrations/xero/callback?code=&state=` (or `?error=&state=`): where Xero sends the
/// browser back. No key: the state is the credential, single use and bound to one tenant.
#[utoipa::path(get, path = "/integrations/xero/callback", tag = "operations",
    params(("state" = String, Query, description = "The state from `…/integrations/xero/connect`"),
        ("code" = Option<String>, Query, description = "Xero's authorization code"),
        ("error" = Option<String>, Query, description = "Xero's OAuth error (e.g. `access_denied`)")),
    responses((status = 200, description = "Connected: `{tenant, status, organisation: {id, name}, connected_at}`", body = Object),
        (status = 400, description = "Unknown, expired or used state, no code, consent denied, or the code refused; nothing stored"),
        (status = 409, description = "The authorization connected several organisations (listed in `error.organisations`) or not the one named; connect again with `?organisation=`"),
        (status = 503, description = "Not configured, or Xero could not be reached")))]
pub(crate) async fn callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let xero = xero_tenants(&state)?;
    let query = query.as_deref();
    let Some(state_param) = query_value(query, "state").filter(|s| !s.is_empty() && s.len() <= 128) else {
        return Err(ApiError::bad_request("the callback needs the `state` the authorization was started with"));
    };
    let code = query_value(query, "code");
    let error = query_value(query, "error");
    let connected = match xero.connector.callback(&state_param, code.as_deref(), error.as_deref()).await {
        Ok(connected) => connected,
        Err(err) => return Ok(connect_error(err)),
    };
    xero.directory.forget(connected.tenant);
    if let Err(err) = xero.directory.refresh_statuses().await {
        tracing::warn!(error = %err, "refreshing Xero statuses after a connection failed");
    }
    let slug = state.store().tenants().get(connected.tenant).await?.map(|t| t.slug).unwrap_or_default();
    Ok(Json(connection_json(&slug, Some(&connected.connection))).into_response())
}

/// `GET /admin/tenants/{slug}/integrations/xero`: connected, revoked or not connected; the
/// organisation, never a token.
#[utoipa::path(get, path = "/admin/tenants/{slug}/integrations/xero", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant")),
    responses((status = 200, description = "`{tenant, status: connected|revoked|not_connected, organisation, connected_at, revoked_at, connect}`; never a token", body = Object),
        (status = 404, description = "No such tenant"), (status = 503, description = "Not configured")))]
pub(crate) async fn status(
    State(state): State<AppState>,
    _admin: AdminAuth,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    xero_tenants(&state)?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let connection = state.store().xero_connections().get(tenant.id).await?;
    Ok(Json(connection_json(&tenant.slug, connection.as_ref())).into_response())
}

/// `DELETE /admin/tenants/{slug}/integrations/xero`: revokes at Xero (best effort) and removes
/// the tokens; the tenant's invoices then wait (or use the deployment's Xero, if any).
#[utoipa::path(delete, path = "/admin/tenants/{slug}/integrations/xero", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant")),
    responses((status = 204, description = "Revoked at Xero (best effort) and the tokens removed"),
        (status = 404, description = "No such tenant, or it has no Xero connection"), (status = 503, description = "Not configured")))]
pub(crate) async fn disconnect(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    let xero = xero_tenants(&state)?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let removed = match xero.connector.disconnect(tenant.id).await {
        Ok(removed) => removed,
        Err(err) => return Ok(connect_error(err)),
    };
    if !removed {
        return Err(ApiError::not_found(format!("tenant `{slug}` has no Xero connection")));
    }
    xero.directory.forget(tenant.id);
    if let Err(err) = xero.directory.refresh_statuses().await {
        tracing::warn!(error = %err, "refreshing Xero statuses after a disconnection failed");
    }
    tracing::info!(admin_key = %admin.key_id, tenant = %tenant.slug, "Xero disconnected");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "integration.xero.disconnected",
        format!("tenant:{}", tenant.slug),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
