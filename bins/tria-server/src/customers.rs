//! `GET /api/v1/customers/{id}/profile` and `/churn`: what the tenant knows about one of its
//! customers (by the tenant's own customer id), and an explainable churn-risk score — computed
//! and cached by `tria_console::CustomerInsights`; this module is the HTTP around it.

use axum::extract::State;
use axum::response::Response;

use crate::ApiError;
use crate::auth::TenantAuth;
use crate::console::json_of;
use crate::path_param::PathParam;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/customers/{id}/profile", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "The tenant's own customer id, e.g. CUST-1001")),
    responses((status = 200, description = "Orders (count, by status), lifetime value in minor units, last order, open tickets, complaints, recent sentiment; `cached` says whether it came from the 1 h cache (recomputed when the customer's orders or tickets change)"),
        (status = 401), (status = 404, description = "No such customer for this tenant")))]
pub(crate) async fn profile(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    Ok(json_of(&state.insights().profile(state.store(), &tenant, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/churn", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "The tenant's own customer id, e.g. CUST-1001")),
    responses((status = 200, description = "`score` 0..1, `level` low|medium|high, and `factors` (recency, frequency, monetary, complaints, sentiment: value, risk, weight, contribution, explanation); cached 30 min, recomputed when the customer's orders or tickets change"),
        (status = 401), (status = 404, description = "No such customer for this tenant")))]
pub(crate) async fn churn(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    Ok(json_of(&state.insights().churn(state.store(), &tenant, &id).await?))
}
