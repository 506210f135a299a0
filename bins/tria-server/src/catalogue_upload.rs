//! `PUT /admin/tenants/{slug}/catalogue` and `…/customers`: the body is a CSV or a JSON array,
//! checked whole before anything is written (`tria_store::uploads`); a bad row anywhere is a 422
//! listing every bad row, and the tenant's catalogue or customers stay as they were.
//!
//! An upload over `import.job_threshold_bytes` is streamed into the store as it arrives
//! (`tria_store::import_jobs::Spool`) and imported by a job any replica may run: 202 `{job}`,
//! the same checks, the bad-row report in the job's `errors`. Over `import.max_bytes` is 413 as
//! soon as the limit is crossed.

use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use http_body_util::BodyExt;
use serde_json::json;
use tria_core::ErrorCode;
use tria_core::TenantId;
use tria_import::{Format, ImportError, ImportMode, Limits};
use tria_store::import_jobs::{ImportFinished, ImportJobs, ImportKind, Spool, SpooledUpload};
use tria_store::uploads::{Upload, UploadError, UploadOutcome};

use crate::ApiError;
use crate::admin::tenant_by_slug;
use crate::auth::AdminAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The bytes an upload may have (`import.max_bytes`, 64 MB by default), read only by these routes.
fn limits(state: &AppState) -> Limits {
    Limits { max_bytes: state.settings().import.max_bytes, ..Limits::default() }
}

/// The import jobs of this deployment, as configured (`[import]`).
pub(crate) fn import_jobs(state: &AppState) -> ImportJobs {
    let import = &state.settings().import;
    // An upload request lasts at most the request timeout, so a spool idle for longer than it
    // (and than a lease) is a cut-off upload's, never a live one's.
    let spool_expiry = import.job_lease.max(state.settings().request_timeout);
    ImportJobs::new(state.store().clone(), import.max_bytes, import.job_lease).with_spool_expiry(spool_expiry)
}

/// After an import job's swap: the same reload the synchronous uploads do below.
pub(crate) struct ImportReload(pub(crate) AppState);

#[async_trait::async_trait]
impl ImportFinished for ImportReload {
    async fn imported(&self, kind: ImportKind, tenant: TenantId) {
        let result = match kind {
            ImportKind::Catalogue => self.0.agent().reindexed(tenant).await.map(drop).map_err(|e| e.to_string()),
            ImportKind::Customers => self.0.agent().answer_cache().invalidate_tenant(tenant).await.map(drop).map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(%tenant, error = %e, "reloading after an import job failed");
        }
    }
}

/// A body as received: small enough to import now, or spooled for a job.
enum Received {
    Now(Upload),
    Spooled { upload: SpooledUpload, format: Format, mode: ImportMode },
}

/// Enqueues the job for a spooled upload, starts it on this replica (the runner's poll takes it
/// if this task loses the race) and answers 202 with the job.
async fn accept_job(
    state: &AppState,
    kind: ImportKind,
    tenant: TenantId,
    slug: &str,
    (upload, format, mode): (SpooledUpload, Format, ImportMode),
) -> Result<Response, ApiError> {
    let job = state.store().enqueue_import(kind, tenant, upload, format, mode).await?;
    tracing::info!(tenant = %slug, job = %job.id, kind = job.kind, bytes = upload.bytes, "upload queued for import");
    let runner_state = state.clone();
    tokio::spawn(async move {
        let jobs = import_jobs(&runner_state);
        if let Err(e) = jobs.run_next(&ImportReload(runner_state.clone())).await {
            tracing::warn!(error = %e, "running an import job failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": crate::knowledge::job_json(&job, slug) }))).into_response())
}

pub(crate) async fn put_catalogue(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let upload = match receive(&state, query.as_deref(), request).await? {
        Received::Now(upload) => upload,
        Received::Spooled { upload, format, mode } => {
            return accept_job(&state, ImportKind::Catalogue, tenant.id, &slug, (upload, format, mode)).await;
        }
    };
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
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "catalogue.uploaded",
        format!("tenant:{slug}"),
        serde_json::json!({ "rows": outcome.rows, "mode": outcome.mode.as_str() }),
    )
    .await;
    Ok(summary(&outcome))
}

pub(crate) async fn put_customers(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let upload = match receive(&state, query.as_deref(), request).await? {
        Received::Now(upload) => upload,
        Received::Spooled { upload, format, mode } => {
            return accept_job(&state, ImportKind::Customers, tenant.id, &slug, (upload, format, mode)).await;
        }
    };
    let outcome = match state.store().import_customers(tenant.id, upload, |_| {}).await {
        Ok(outcome) => outcome,
        Err(err) => return upload_error(err),
    };
    // Cached answers may depend on who a customer is (their orders, their verification).
    if let Err(e) = state.agent().answer_cache().invalidate_tenant(tenant.id).await {
        tracing::warn!(tenant = %slug, error = %e, "cache invalidation after a customer upload failed");
    }
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, rows = outcome.rows, mode = outcome.mode.as_str(), "customers uploaded");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "customers.uploaded",
        format!("tenant:{slug}"),
        serde_json::json!({ "rows": outcome.rows, "mode": outcome.mode.as_str() }),
    )
    .await;
    Ok(summary(&outcome))
}

/// The mode, the format from `Content-Type`, and the body within the upload limit: kept in
/// memory up to `import.job_threshold_bytes`, past that streamed into a spool in the store.
async fn receive(state: &AppState, query: Option<&str>, request: Request) -> Result<Received, ApiError> {
    let mode = ImportMode::from_query(query_param(query, "mode")).map_err(import_error)?;
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = Format::from_content_type(content_type).map_err(import_error)?;
    let limits = limits(state);
    let threshold = state.settings().import.job_threshold_bytes;
    let declared = request.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(import_error(ImportError::TooBig { limit: limits.max_bytes }));
    }
    let mut body = request.into_body();
    let mut head = BytesMut::new();
    let mut spool: Option<Spool> = None;
    let mut received: u64 = 0;
    let outcome = loop {
        let data = match body.frame().await {
            None => break Ok(()),
            Some(Err(_)) => break Err(ApiError::bad_request("the request body could not be read")),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        received += data.len() as u64;
        if received > limits.max_bytes {
            break Err(import_error(ImportError::TooBig { limit: limits.max_bytes }));
        }
        let written = match spool.as_mut() {
            Some(spool) => spool.write(&data).await,
            None => {
                head.extend_from_slice(&data);
                if (head.len() as u64) <= threshold {
                    continue;
                }
                let mut started = Spool::new(state.store());
                let written = started.write(&head).await;
                head = BytesMut::new();
                spool = Some(started);
                written
            }
        };
        if let Err(e) = written {
            break Err(e.into());
        }
    };
    let finished = match (outcome, spool) {
        (Ok(()), None) => return Ok(Received::Now(Upload { body: head.freeze(), format, mode, limits })),
        (Ok(()), Some(spool)) => spool.finish().await.map_err(ApiError::from),
        (Err(e), None) => return Err(e),
        (Err(e), Some(spool)) => {
            if let Err(discard) = spool.discard().await {
                tracing::warn!(error = %discard, "dropping a refused upload's spool failed");
            }
            return Err(e);
        }
    };
    Ok(Received::Spooled { upload: finished?, format, mode })
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
