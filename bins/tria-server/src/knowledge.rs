//! `/admin/tenants/{slug}/documents`, `…/knowledge/*` and `/admin/jobs/{id}`: thin handlers over
//! `tria_knowledge`. An upload is read and checked here (size, type, text) before anything is
//! written, then indexed by a job this replica starts at once (any replica's runner would take
//! it otherwise); the agent reloads the tenant's index when the new knowledge version is
//! published, and retires the cached answers that cited changed documents.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Json, http::HeaderMap};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tria_core::TenantId;
use tria_knowledge::{Knowledge, KnowledgeChanged};
use tria_store::records::{Job, KnowledgeDocument};
use uuid::Uuid;

use crate::ApiError;
use crate::admin::tenant_by_slug;
use crate::auth::AdminAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The agent as the knowledge runner's seam: a published version is picked up on this replica
/// at once (the index reloaded; cached answers citing changed documents, or nothing, retired
/// as they are read). Other replicas pick it up on their next version check.
pub(crate) struct AgentReload(pub(crate) AppState);

#[async_trait::async_trait]
impl KnowledgeChanged for AgentReload {
    async fn knowledge_changed(&self, tenant: TenantId) {
        if let Err(e) = self.0.agent().knowledge_changed(tenant).await {
            tracing::warn!(%tenant, error = %e, "reloading the index after a knowledge change failed");
        }
    }
}

pub(crate) fn knowledge(state: &AppState) -> Knowledge {
    let options = tria_ingest::IngestOptions { max_bytes: state.settings().max_document_bytes, ..Default::default() };
    Knowledge::new(state.store().clone(), options).with_job_lease(state.settings().knowledge_job_lease)
}

pub(crate) fn job_json(job: &Job, tenant_slug: &str) -> Value {
    json!({
        "id": job.id,
        "kind": job.kind,
        "tenant": tenant_slug,
        "status": job.status.as_str(),
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "errors": job.errors,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    })
}

fn document_json(doc: &KnowledgeDocument) -> Value {
    json!({
        "doc_id": doc.doc_id,
        "version": doc.version,
        "title": doc.title,
        "content_type": doc.content_type,
        "size_bytes": doc.size_bytes,
        "sha256": doc.sha256,
        "chunks": doc.chunk_count,
        "indexed_at": doc.indexed_at,
        "knowledge_version": doc.knowledge_version,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct UploadQuery {
    title: Option<String>,
}

/// `PUT /admin/tenants/{slug}/documents/{doc_id}`: the body is the document.
pub(crate) async fn put_document(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam((slug, doc_id)): PathParam<(String, String)>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, tria_core::ErrorCode::UnsupportedMediaType, "a document needs a Content-Type")
        })?
        .to_owned();
    let limit = state.settings().max_document_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            tria_core::ErrorCode::PayloadTooLarge,
            format!("document_too_large: the document is over the limit of {limit} bytes (knowledge.max_document_bytes)"),
        )
    })?;
    let knowledge = knowledge(&state);
    let upload = tria_ingest::Upload { body: &body, content_type: &content_type, title: query.title.as_deref() };
    let job = knowledge.upload_document(tenant.id, &doc_id, upload).await?;
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, %doc_id, job = %job.id, bytes = body.len(), "document upload queued");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "document.uploaded",
        format!("document:{doc_id}"),
        json!({ "job": job.id, "bytes": body.len(), "content_type": content_type }),
    )
    .await;
    // Start it now on this replica; the runner's poll takes it if this task loses the race.
    let runner_state = state.clone();
    tokio::spawn(async move {
        let hook = AgentReload(runner_state.clone());
        if let Err(e) = tria_knowledge::run_next(&knowledge, &hook).await {
            tracing::warn!(error = %e, "running a knowledge job failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": job_json(&job, &slug) }))).into_response())
}

/// `GET /admin/tenants/{slug}/documents`: the documents serving now.
pub(crate) async fn list_documents(
    State(state): State<AppState>,
    _admin: AdminAuth,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let knowledge = knowledge(&state);
    let documents: Vec<Value> = knowledge.documents(tenant.id).await?.iter().map(document_json).collect();
    let version = state.store().knowledge().current_version(tenant.id).await?;
    Ok(Json(json!({ "tenant": slug, "knowledge_version": version, "documents": documents })).into_response())
}

/// `DELETE /admin/tenants/{slug}/documents/{doc_id}`: a new knowledge version without it.
pub(crate) async fn delete_document(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam((slug, doc_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let version = knowledge(&state).delete_document(tenant.id, &doc_id).await?;
    AgentReload(state.clone()).knowledge_changed(tenant.id).await;
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, %doc_id, version, "document deleted");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "document.deleted",
        format!("document:{doc_id}"),
        json!({ "knowledge_version": version }),
    )
    .await;
    Ok(Json(json!({ "tenant": slug, "deleted": doc_id, "knowledge_version": version })).into_response())
}

/// `GET /admin/tenants/{slug}/knowledge/versions`, newest first.
pub(crate) async fn list_versions(
    State(state): State<AppState>,
    _admin: AdminAuth,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let versions: Vec<Value> = knowledge(&state)
        .versions(tenant.id)
        .await?
        .into_iter()
        .map(|v| json!({"version": v.version, "summary": v.summary, "documents": v.documents, "current": v.current, "created_at": v.created_at}))
        .collect();
    Ok(Json(json!({ "tenant": slug, "versions": versions })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    #[serde(deserialize_with = "whole_number")]
    version: i32,
}

/// JSON Schema's `integer`, which the document promises, includes `3.0`: a whole number written
/// as a float is that version (as `tenant_settings` reads whole numbers).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_i64().or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15).map(|f| f as i64));
    whole.and_then(|v| i32::try_from(v).ok()).ok_or_else(|| serde::de::Error::custom("`version` must be a whole number"))
}

/// `POST /admin/tenants/{slug}/knowledge/rollback {"version": n}`.
pub(crate) async fn rollback(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
    crate::json_body::JsonBody(body): crate::json_body::JsonBody<Rollback>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    knowledge(&state).rollback(tenant.id, body.version).await?;
    AgentReload(state.clone()).knowledge_changed(tenant.id).await;
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, version = body.version, "knowledge rolled back");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "knowledge.rolled_back",
        format!("knowledge_version:{}", body.version),
        json!({}),
    )
    .await;
    Ok(Json(json!({ "tenant": slug, "knowledge_version": body.version })).into_response())
}

/// `GET /admin/jobs/{id}`.
pub(crate) async fn get_job(
    State(state): State<AppState>,
    _admin: AdminAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found(format!("no job `{id}`")))?;
    let job = knowledge(&state).job(id).await?.ok_or_else(|| ApiError::not_found(format!("no job `{id}`")))?;
    let slug = state.store().tenants().get(TenantId(job.tenant_id)).await?.map(|t| t.slug).unwrap_or_default();
    Ok(Json(json!(job_json(&job, &slug))).into_response())
}
