//! `GET /api/v1/usage` (a tenant key: its own tenant) and `GET /admin/usage` (an admin key:
//! every tenant, or the one `tenant` names): the LLM cost ledger by day, intent or model, as
//! JSON or — when `Accept` prefers it — `text/csv`. What the report holds and how it is read is
//! `tria_console`'s ([`tria_console::UsageReport`]); this module is the HTTP around it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE, VARY};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tria_console::{UsageQuery, UsageReport};

use crate::ApiError;
use crate::auth::{AdminAuth, TenantAuth};
use crate::console::console;
use crate::state::AppState;

/// `/api/v1/usage`'s query: the caller's own tenant only, so no `tenant`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantUsageParams {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

/// `/admin/usage`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminUsageParams {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    tenant: Option<String>,
}

fn params<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(v)| v).map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))
}

fn usage_query(from: Option<&str>, to: Option<&str>, group_by: Option<&str>) -> Result<UsageQuery, ApiError> {
    Ok(UsageQuery::parse(from, to, group_by, chrono::Utc::now().date_naive())?)
}

/// Whether `Accept` prefers `text/csv` to JSON (`q` values honoured; anything else: JSON).
fn wants_csv(headers: &HeaderMap) -> bool {
    let (mut csv, mut json) = (0.0f32, 0.0f32);
    for value in headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()) {
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts.filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).next().unwrap_or(1.0);
            match media.as_str() {
                "text/csv" => csv = csv.max(q),
                "application/json" => json = json.max(q),
                _ => {}
            }
        }
    }
    csv > 0.0 && csv > json
}

fn respond(report: &UsageReport, headers: &HeaderMap) -> Result<Response, ApiError> {
    if wants_csv(headers) {
        let scope = report.tenant.as_deref().unwrap_or("all");
        let filename = format!("attachment; filename=\"tria-usage-{scope}-{}-{}-by-{}.csv\"", report.from, report.to, report.group_by);
        let headers = [(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, filename), (VARY, "Accept".to_owned())];
        return Ok((headers, report.to_csv()).into_response());
    }
    let body = serde_json::to_value(report).map_err(ApiError::internal)?;
    Ok(([(VARY, "Accept")], Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/v1/usage", tag = "chat", security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = "First UTC day, YYYY-MM-DD (default: 29 days before `to`)"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive, YYYY-MM-DD (default: today); at most 366 days after `from`"),
        ("group_by" = Option<String>, Query, description = "`day` (default), `intent` or `model`")),
    responses((status = 200, description = "The caller tenant's LLM calls, cache hits, tokens and dollars from the cost ledger, one row per group and the totals. Dollars are decimal strings with six places (`cost_usd`, `saved_usd`) beside the same amounts in micro-dollars (`cost_micro_usd`, `saved_micro_usd`). `Accept: text/csv` answers CSV: a header row, one line per row, a last `total` line",
            content((ref("#/components/schemas/UsageReport") = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A date that is not YYYY-MM-DD, `from` after `to`, a range over 366 days, an unknown `group_by` or query parameter"),
        (status = 401), (status = 403, description = "Not a tenant key")))]
pub(crate) async fn tenant_usage(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    headers: HeaderMap,
    query: Result<Query<TenantUsageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(query)?;
    let query = usage_query(p.from.as_deref(), p.to.as_deref(), p.group_by.as_deref())?;
    respond(&console(&state).tenant_usage(&tenant, &query).await?, &headers)
}

#[utoipa::path(get, path = "/admin/usage", tag = "admin", security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = "First UTC day, YYYY-MM-DD (default: 29 days before `to`)"),
        ("to" = Option<String>, Query, description = "Last UTC day, inclusive, YYYY-MM-DD (default: today); at most 366 days after `from`"),
        ("group_by" = Option<String>, Query, description = "`day` (default), `intent` or `model`"),
        ("tenant" = Option<String>, Query, description = "One tenant's slug; absent: every tenant (and calls made for none)")),
    responses((status = 200, description = "LLM calls, cache hits, tokens and dollars from the cost ledger across tenants (or the one named), as `GET /api/v1/usage` reports them; `Accept: text/csv` answers CSV",
            content((ref("#/components/schemas/UsageReport") = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A date that is not YYYY-MM-DD, `from` after `to`, a range over 366 days, an unknown `group_by` or query parameter"),
        (status = 401), (status = 403, description = "Not an admin key"), (status = 404, description = "No tenant with that slug")))]
pub(crate) async fn admin_usage(
    State(state): State<AppState>,
    _admin: AdminAuth,
    headers: HeaderMap,
    query: Result<Query<AdminUsageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(query)?;
    let query = usage_query(p.from.as_deref(), p.to.as_deref(), p.group_by.as_deref())?;
    respond(&console(&state).usage_across(p.tenant.as_deref(), &query).await?, &headers)
}

/// The query parameters' schemas (utoipa's tuple parameters take neither a format nor an enum).
pub(crate) fn refine_parameter(path: &str, param: &mut Value) {
    if !matches!(path, "/api/v1/usage" | "/admin/usage") || param["in"] != "query" {
        return;
    }
    match param["name"].as_str().unwrap_or_default() {
        "from" | "to" => param["schema"] = json!({ "type": "string", "format": "date" }),
        "group_by" => param["schema"] = json!({ "type": "string", "enum": ["day", "intent", "model"] }),
        _ => {}
    }
}

/// `UsageReport`: `tria_console::UsageReport` as serialised (the console crate has no OpenAPI
/// derive).
pub(crate) fn schemas() -> Map<String, Value> {
    let count = json!({ "type": "integer", "minimum": 0 });
    let usd = json!({ "type": "string", "pattern": "^[0-9]+\\.[0-9]{6}$", "description": "US dollars, six decimals" });
    let row = json!({
        "type": "object",
        "required": ["key", "calls", "wasted_calls", "estimated_calls", "cache_hits", "input_tokens", "output_tokens",
            "cached_input_tokens", "cost_usd", "saved_usd", "cost_micro_usd", "saved_micro_usd"],
        "properties": {
            "key": { "type": "string", "description": "The day (YYYY-MM-DD), intent (`none`: unclassified) or model; `total` in `totals`" },
            "calls": count, "wasted_calls": count, "estimated_calls": count, "cache_hits": count,
            "input_tokens": count, "output_tokens": count, "cached_input_tokens": count,
            "cost_usd": usd, "saved_usd": usd, "cost_micro_usd": count, "saved_micro_usd": count,
        },
    });
    let report = json!({
        "type": "object",
        "required": ["tenant", "from", "to", "group_by", "currency", "rows", "totals"],
        "properties": {
            "tenant": { "type": ["string", "null"], "description": "The tenant's slug; null across every tenant" },
            "from": { "type": "string", "format": "date" },
            "to": { "type": "string", "format": "date" },
            "group_by": { "type": "string", "enum": ["day", "intent", "model"] },
            "currency": { "const": "USD" },
            "rows": { "type": "array", "items": { "$ref": "#/components/schemas/UsageRow" } },
            "totals": { "$ref": "#/components/schemas/UsageRow" },
        },
    });
    [("UsageRow".to_owned(), row), ("UsageReport".to_owned(), report)].into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, value.parse().expect("header"));
        h
    }

    #[test]
    fn csv_only_when_accept_prefers_it() {
        assert!(!wants_csv(&HeaderMap::new()));
        assert!(wants_csv(&accept("text/csv")));
        assert!(wants_csv(&accept("text/csv, */*;q=0.1")));
        assert!(wants_csv(&accept("application/json;q=0.5, TEXT/CSV")));
        assert!(!wants_csv(&accept("application/json, text/csv")));
        assert!(!wants_csv(&accept("text/csv;q=0")));
        assert!(!wants_csv(&accept("*/*")));
        assert!(!wants_csv(&accept("text/html")));
    }
}
