//! A customer's data rights over HTTP (issue 29): the export, and the erasure by customer
//! number or by email. What is exported and erased is `tria_store::customer_data`'s (and the
//! agent's cache purge, `tria_agent::customer_data`); this module extracts, encodes and audits.
//! Audit entries name the customer by internal id, never by number or email, so an erasure
//! leaves nothing of the person in the append-only log.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tria_agent::customer_data::CustomerErasure;
use tria_core::TenantContext;
use tria_store::customer_data::Erasure;

use crate::ApiError;
use crate::admin::tenant_by_slug;
use crate::audit::{self, Actor, RequestId};
use crate::auth::AdminAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

/// What an erasure leaves in place on purpose, and why (part of every erasure response).
fn kept_by_design() -> Value {
    json!([
        { "what": "orders with an issued invoice: number, status, lines, amounts, currency, dates, invoice id and number",
          "why": "tax and accounting law require the business to keep issued invoices; the order now points at a customer row with no number, name, email, company or phone" },
        { "what": "llm_ledger rows of the customer's conversations (tokens, price, cost), unlinked from the conversation and message",
          "why": "the tenant's spend records; they hold no text and no link to the person" },
        { "what": "tenant_usage_daily totals", "why": "per-tenant day totals, no per-customer data" },
        { "what": "audit log entries about the customer", "why": "append-only; they name the customer by internal id only" },
        { "what": "a customer_erasures row: SHA-256 digests of the tenant-scoped number and email, the time and the request id",
          "why": "so a repeated request is answered 200 with nothing to erase instead of 404; a digest only confirms a value someone already has" },
    ])
}

/// What this erasure cannot reach (part of every erasure response).
fn outside_the_store() -> Value {
    json!([
        "the helpdesk's tickets (ticket_ref) and Slack messages of hand-offs: erase them in those systems",
        "the accounting system's contact and invoices (Xero): kept there under the same law",
        "database backups and PostgreSQL's dead row versions until VACUUM reuses their space",
        "log lines and traces that included message text (redaction is not implemented yet)",
        "messages in other conversations that mention the customer without being linked to them",
    ])
}

fn not_found(slug: &str, number: &str) -> ApiError {
    ApiError::not_found(format!("no customer `{number}` in tenant `{slug}`"))
}

#[utoipa::path(get, path = "/admin/tenants/{slug}/customers/{customer_number}/export", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path), ("customer_number" = String, Path, description = "The tenant's own customer id")),
    responses((status = 200, description = "Everything Tria stores about the customer, one JSON document (`format` tria.customer-export.v1): customer, flags, conversations with messages, escalations and feedback, order drafts, orders with lines, escalations and integration jobs (invoice id and number), tickets"),
        (status = 400), (status = 401), (status = 403), (status = 404, description = "No such tenant or customer (an erased customer is not found)")))]
/// A customer's data, exported. The export is recorded in the audit log.
pub(crate) async fn export(
    State(state): State<AppState>,
    admin: AdminAuth,
    request: RequestId,
    PathParam((slug, number)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let customer = state.store().customers().find_by_external_id(tenant.id, &number).await?.ok_or_else(|| not_found(&slug, &number))?;
    let document = state.store().customer_data().export(tenant.id, &number).await?.ok_or_else(|| not_found(&slug, &number))?;
    audit::record(
        &state,
        Actor::from(&admin),
        &request,
        audit::tenant_of(&tenant),
        "customer.exported",
        format!("customer:{}", customer.id),
        json!({}),
    )
    .await;
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, customer = %customer.id, "customer data exported");
    Ok(Json(document).into_response())
}

/// One customer's erasure as the response shows it.
fn erasure_json(number: &str, erasure: &CustomerErasure) -> Value {
    match &erasure.store {
        Erasure::Erased(report) => json!({
            "customer_number": number,
            "status": "erased",
            "erased_at": report.erased_at,
            "erased": report.erased,
            "kept_invoices": report.kept_invoices,
            "cache": erasure.cache,
            "wal_checkpoint": report.wal_checkpoint,
        }),
        Erasure::AlreadyErased { erased_at } => json!({
            "customer_number": number,
            "status": "already_erased",
            "erased_at": erased_at,
            "erased": tria_store::customer_data::ErasedCounts::default(),
            "kept_invoices": [],
            "cache": null,
            "wal_checkpoint": null,
        }),
        Erasure::NotFound => json!({ "customer_number": number, "status": "not_found" }),
    }
}

/// Erases one customer, forgets this instance's insights on them and audits it.
async fn erase_one(
    state: &AppState,
    admin: &AdminAuth,
    request: &RequestId,
    tenant: &TenantContext,
    number: &str,
) -> Result<CustomerErasure, ApiError> {
    let erasure = state.agent().erase_customer(tenant, number, &request.0).await?;
    if let Erasure::Erased(report) = &erasure.store {
        state.insights().forget(tenant.id, number);
        let details = json!({ "erased": report.erased, "kept_invoices": report.kept_invoices.len() });
        audit::record(
            state,
            Actor::from(admin),
            request,
            audit::tenant_of(tenant),
            "customer.erased",
            format!("customer:{}", report.customer_id),
            details,
        )
        .await;
        tracing::info!(admin_key = %admin.key_id, tenant = %tenant.slug, customer = %report.customer_id, "customer erased");
    }
    Ok(erasure)
}

#[utoipa::path(delete, path = "/admin/tenants/{slug}/customers/{customer_number}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path), ("customer_number" = String, Path, description = "The tenant's own customer id")),
    responses((status = 200, description = "`status` erased (with `erased` counts per kind, `kept_invoices`, `kept` and why, the `cache` purge, the SQLite `wal_checkpoint`, and `not_covered`) or already_erased (a repeated request: nothing erased)"),
        (status = 400), (status = 401), (status = 403), (status = 404, description = "No such tenant, and no such customer now or erased before"),
        (status = 503)))]
/// Erases a customer's data (see docs/DATA.md). Idempotent: a repeated call answers 200 with
/// `status: already_erased` and nothing erased.
pub(crate) async fn erase(
    State(state): State<AppState>,
    admin: AdminAuth,
    request: RequestId,
    PathParam((slug, number)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let erasure = erase_one(&state, &admin, &request, &tenant, &number).await?;
    if erasure.store == Erasure::NotFound {
        return Err(not_found(&slug, &number));
    }
    let mut body = erasure_json(&number, &erasure);
    body["tenant"] = json!(slug);
    body["kept"] = kept_by_design();
    body["not_covered"] = outside_the_store();
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ByEmail {
    email: Option<String>,
}

#[utoipa::path(delete, path = "/admin/tenants/{slug}/customers", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path), ("email" = String, Query, min_length = 1, pattern = "\\S", description = "Erase every customer of the tenant with this email (compared case-insensitively)")),
    responses((status = 200, description = "`customers`: one erasure per customer with that email (each as the by-number erasure); `status` erased or already_erased"),
        (status = 400, description = "`email` missing or empty"), (status = 401), (status = 403),
        (status = 404, description = "No such tenant, and no customer with that email now or erased before"), (status = 503)))]
/// Erases a customer's data by email: the sibling of the by-number erasure.
pub(crate) async fn erase_by_email(
    State(state): State<AppState>,
    admin: AdminAuth,
    request: RequestId,
    PathParam(slug): PathParam<String>,
    query: Result<Query<ByEmail>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))?;
    let email = q.email.filter(|e| !e.trim().is_empty()).ok_or_else(|| ApiError::bad_request("give the customer's `email` (?email=…)"))?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let numbers = state.store().customer_data().numbers_with_email(tenant.id, &email).await?;
    let mut customers = Vec::with_capacity(numbers.len());
    for number in &numbers {
        let erasure = erase_one(&state, &admin, &request, &tenant, number).await?;
        customers.push(erasure_json(number, &erasure));
    }
    let status = if customers.is_empty() {
        match state.store().customer_data().erased_email(tenant.id, &email).await? {
            Some(erased_at) => json!({ "status": "already_erased", "erased_at": erased_at }),
            None => return Err(ApiError::not_found(format!("no customer with that email in tenant `{slug}`"))),
        }
    } else {
        json!({ "status": "erased" })
    };
    let mut body = status;
    body["tenant"] = json!(slug);
    body["customers"] = json!(customers);
    body["kept"] = kept_by_design();
    body["not_covered"] = outside_the_store();
    Ok(Json(body).into_response())
}
