//! `GET /api/v1/console/dashboard?tenant=SLUG&days=N`: one tenant's figures for the console's
//! charts (`tria_console::Dashboard`).

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::{console, json_of, query_param};
use crate::ApiError;
use crate::auth::ConsoleAuth;
use crate::state::AppState;

pub(crate) async fn dashboard(State(state): State<AppState>, caller: ConsoleAuth, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let slug = query_param(query.as_deref(), "tenant").ok_or_else(|| ApiError::bad_request("`tenant` (a slug) is required"))?;
    let days = tria_console::dashboard_days(query_param(query.as_deref(), "days"))?;
    Ok(json_of(&console(&state).dashboard(&caller.tenants, slug, days).await?))
}
