//! `PUT /admin/tenants/{slug}/catalogue` and `…/customers`: the body is a CSV or a JSON array,
//! checked whole before anything is written (`tria_store::uploads`); a bad row anywhere is a 422
//! listing every bad row, and the tenant's catalogue or customers stay as they were.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::json;
use tria_core::ErrorCode;
use tria_import::{Format, ImportError, ImportMode, Limits};
use tria_store::uploads::{Upload, UploadError, UploadOutcome};

use crate::ApiError;
use crate::admin::tenant_by_slug;
use crate::auth::AdminAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The bytes an upload may have: the importer's limit (64 MB), read only by these routes.
fn limits() -> Limits {
    Limits::default()
}

pub(crate) async fn put_catalogue(
    State(state): State<AppState>,
    admin: AdminAuth,
    PathParam(slug): PathParam<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let upload = read_upload(query.as_deref(), request).await?;
    let currency = state.store().tenants().currency(tenant.id).await?;
    let outcome = state.store().import_catalogue(tenant.id, &currency, upload, |_| {}).await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => return upload_error(err),
    };
    // The catalogue answers come from the tenant's in-memory product index and the answer
    // cache: reload the one and retire the other, or chat keeps quoting the old prices.
    state.agent().reindexed(tenant.id).await?;
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, rows = outcome.rows, mode = outcome.mode.as_str(), "catalogue uploaded");
    Ok(summary(&outcome))
}

pub(crate) async fn put_customers(
    State(state): State<AppState>,
    admin: AdminAuth,
    PathParam(slug): PathParam<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let upload = read_upload(query.as_deref(), request).await?;
    let outcome = match state.store().import_customers(tenant.id, upload, |_| {}).await {
        Ok(outcome) => outcome,
        Err(err) => return upload_error(err),
    };
    // Cached answers may depend on who a customer is (their orders, their verification).
    if let Err(e) = state.agent().answer_cache().invalidate_tenant(tenant.id).await {
        tracing::warn!(tenant = %slug, error = %e, "cache invalidation after a customer upload failed");
    }
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, rows = outcome.rows, mode = outcome.mode.as_str(), "customers uploaded");
    Ok(summary(&outcome))
}

/// The mode, the format from `Content-Type`, and the body within the upload limit.
async fn read_upload(query: Option<&str>, request: Request) -> Result<Upload, ApiError> {
    let mode = ImportMode::from_query(query_param(query, "mode")).map_err(import_error)?;
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = Format::from_content_type(content_type).map_err(import_error)?;
    let limits = limits();
    let limit = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
    let declared = request.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(import_error(ImportError::TooBig { limit: limits.max_bytes }));
    }
    let body: Body = request.into_body();
    let body = axum::body::to_bytes(body, limit).await.map_err(|err| {
        if err.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            import_error(ImportError::TooBig { limit: limits.max_bytes })
        } else {
            ApiError::bad_request("the request body could not be read")
        }
    })?;
    Ok(Upload { body, format, mode, limits })
}

fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').filter_map(|pair| pair.split_once('=').or(Some((pair, "")))).find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn summary(outcome: &UploadOutcome) -> Response {
    Json(json!({
        "imported": outcome.rows,
        "created": outcome.counts.created,
        "updated": outcome.counts.updated,
        "unchanged": outcome.counts.unchanged,
        "deactivated": outcome.counts.deactivated,
        "mode": outcome.mode.as_str(),
        "blank_rows_skipped": outcome.blank_rows_skipped,
        "unknown_columns": outcome.unknown_columns,
    }))
    .into_response()
}

/// Bad rows: 422 with the report (`rows`: line or index, key, problems). The rest through the
/// one mapping in `error.rs`.
fn upload_error(err: UploadError) -> Result<Response, ApiError> {
    match err {
        UploadError::Import(ImportError::Rows(report)) => {
            let body = json!({ "error": {
                "code": "invalid_rows",
                "message": format!("nothing was imported: {} of {} rows are bad", report.total_bad_rows, report.rows_checked),
                "rows": report.bad_rows,
                "total": report.total_bad_rows,
                "rows_checked": report.rows_checked,
                "truncated": report.truncated,
            }});
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
        }
        other => Err(other.into()),
    }
}

fn import_error(err: ImportError) -> ApiError {
    UploadError::Import(err).into()
}

/// Used by `error.rs`: what each whole-upload failure is, as a status and a code.
pub(crate) fn import_status(err: &ImportError) -> (StatusCode, ErrorCode) {
    match err {
        ImportError::UnsupportedContentType(_) | ImportError::UnsupportedCharset(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType)
        }
        ImportError::TooBig { .. } | ImportError::TooManyRows { .. } => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
        ImportError::BadMode(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidField),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField),
    }
}
