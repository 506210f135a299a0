//! `/admin/*`: tenants, keys, cache, database pool and integrations. Every handler takes
//! [`AdminAuth`], so a tenant key gets 403 before anything is read.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tria_cache::CacheLevelName;
use tria_core::{ApiRole, TenantContext, ToneProfile};
use tria_store::StoreError;
use tria_store::repo::{KeyInfo, NewTenant, TenantPatch};
use uuid::Uuid;

use crate::ApiError;
use crate::admin_fields::{
    self as fields, CACHE_PATTERN_MAX_CHARS, KEY_LABEL_MAX_CHARS, SLUG_MAX_LEN, check_name_length, valid_currency, valid_slug,
};
use crate::auth::AdminAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::{tenant_settings, text_input};

fn tenant_json(t: &TenantContext) -> Value {
    json!({ "id": t.id.0, "slug": t.slug, "name": t.name, "tone": t.tone, "settings": t.settings })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))
}

/// The tenant an admin path names, or 404 `no tenant `{slug}``; every `/admin/tenants/{slug}/…` handler uses it.
pub(crate) async fn tenant_by_slug(state: &AppState, slug: &str) -> Result<TenantContext, ApiError> {
    state.store().tenants().find_by_slug(slug).await?.ok_or_else(|| ApiError::not_found(format!("no tenant `{slug}`")))
}

fn conflict(err: StoreError, what: &str) -> ApiError {
    match err {
        StoreError::Conflict(_) => {
            ApiError::new(StatusCode::CONFLICT, tria_core::ErrorCode::InvalidField, format!("{what} already exists"))
        }
        StoreError::Invalid(message) => ApiError::bad_request(message),
        other => other.into(),
    }
}

// ----- tenants ------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTenant {
    #[schema(schema_with = fields::tenant_name)]
    name: String,
    #[schema(schema_with = fields::slug)]
    slug: String,
    /// `USD` when absent.
    #[serde(default)]
    #[schema(schema_with = fields::currency)]
    currency: Option<String>,
    #[serde(default)]
    #[schema(schema_with = fields::tone)]
    tone: Option<ToneProfile>,
    #[serde(default)]
    #[schema(schema_with = fields::new_settings)]
    settings: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateTenant {
    #[serde(default)]
    #[schema(schema_with = fields::new_tenant_name)]
    name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = fields::tone)]
    tone: Option<ToneProfile>,
    /// A JSON merge patch (RFC 7386) applied to the tenant's settings: objects merge key by key
    /// (recursively), `null` removes a key, any other value replaces it. Keys not named are kept.
    #[serde(default)]
    #[schema(schema_with = fields::settings_patch)]
    settings: Option<Value>,
}

/// Applies `patch` to `target` as a JSON merge patch (RFC 7386): an object patch merges key by
/// key, recursively, with `null` removing a key; any other patch replaces the target. Settings
/// are patched, not replaced, because a PATCH naming one setting (say `budget`) must not wipe
/// the others (`order_approval_threshold_minor` turning order approval off).
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(target) = target else { unreachable!("made an object above") };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn check_settings(settings: Option<&Value>) -> Result<(), ApiError> {
    match settings {
        Some(v) if !v.is_object() => Err(ApiError::bad_request("`settings` must be a JSON object")),
        Some(v) => text_input::json_strings("settings", v),
        None => Ok(()),
    }
}

/// The tone's texts go into prompts and replies and are stored as JSON.
fn check_tone(tone: Option<&ToneProfile>) -> Result<(), ApiError> {
    let Some(tone) = tone else { return Ok(()) };
    text_input::customer_facing("tone.persona", &tone.persona)?;
    text_input::customer_facing("tone.greeting", &tone.greeting)?;
    text_input::customer_facing("tone.sign_off", &tone.sign_off)
}

#[utoipa::path(get, path = "/admin/tenants", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "All tenants"), (status = 401), (status = 403)))]
pub(crate) async fn list_tenants(State(state): State<AppState>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let tenants = state.store().tenants().list().await?;
    Ok(Json(json!({ "tenants": tenants.iter().map(tenant_json).collect::<Vec<_>>() })).into_response())
}

#[utoipa::path(post, path = "/admin/tenants", tag = "admin", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 201, description = "Created"), (status = 400), (status = 409), (status = 422)))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<Response, ApiError> {
    let name = body.name.trim().to_owned();
    check_name_length(&name)?;
    text_input::single_line("name", &name)?;
    if !valid_slug(&body.slug) {
        return Err(ApiError::bad_request(format!("`slug` must be 1 to {SLUG_MAX_LEN} lowercase letters, digits or dashes")));
    }
    let currency = body.currency.unwrap_or_else(|| "USD".to_owned());
    if !valid_currency(&currency) {
        return Err(ApiError::bad_request("`currency` must be a three-letter ISO code such as USD"));
    }
    check_settings(body.settings.as_ref())?;
    check_tone(body.tone.as_ref())?;
    let mut settings = body.settings.unwrap_or_else(|| json!({}));
    tenant_settings::check(&mut settings, &state.agent().prompt_sets())?;
    let new = NewTenant { name, slug: body.slug.clone(), currency, tone: body.tone.unwrap_or_default(), settings };
    let tenant = state.store().tenants().create(new).await.map_err(|e| conflict(e, &format!("tenant `{}`", body.slug)))?;
    tracing::info!(admin_key = %admin.key_id, tenant = %tenant.slug, "tenant created");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "tenant.created",
        format!("tenant:{}", tenant.slug),
        json!({}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(tenant_json(&tenant))).into_response())
}

#[utoipa::path(get, path = "/admin/tenants/{slug}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path)), responses((status = 200), (status = 404)))]
pub(crate) async fn get_tenant(
    State(state): State<AppState>,
    _admin: AdminAuth,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    Ok(Json(tenant_json(&tenant)).into_response())
}

#[utoipa::path(patch, path = "/admin/tenants/{slug}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path)), request_body = UpdateTenant,
    responses((status = 200), (status = 400), (status = 404), (status = 422)))]
/// Changes a tenant's `name`, `tone` or `settings`; fields left out are kept. `settings` is a
/// JSON merge patch (RFC 7386) on the stored settings: `{"settings": {"budget": {...}}}` sets the
/// budget and keeps every other setting; `{"settings": {"budget": null}}` removes it.
pub(crate) async fn update_tenant(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
    JsonBody(body): JsonBody<UpdateTenant>,
) -> Result<Response, ApiError> {
    if let Some(name) = &body.name {
        check_name_length(name)?;
        text_input::single_line("name", name)?;
    }
    check_settings(body.settings.as_ref())?;
    check_tone(body.tone.as_ref())?;
    let tenant = tenant_by_slug(&state, &slug).await?;
    let fields: Vec<&str> = [("name", body.name.is_some()), ("tone", body.tone.is_some()), ("settings", body.settings.is_some())]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
    // The merged result is checked, so what is stored is always a valid combination.
    let settings = match body.settings {
        Some(patch) => {
            let mut settings = tenant.settings.clone();
            merge_patch(&mut settings, &patch);
            tenant_settings::check(&mut settings, &state.agent().prompt_sets())?;
            Some(settings)
        }
        None => None,
    };
    let patch = TenantPatch { name: body.name.map(|n| n.trim().to_owned()), tone: body.tone, settings };
    let updated = state.store().tenants().update(tenant.id, patch).await?;
    state.auth_cache().forget_all();
    // Tone and settings shape answers: cached ones were made with the old values.
    if let Err(err) = state.agent().answer_cache().invalidate_tenant(tenant.id).await {
        tracing::warn!(error = %err, tenant = %slug, "could not retire cached answers after a tenant update");
    }
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, "tenant updated");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&updated),
        "tenant.updated",
        format!("tenant:{slug}"),
        json!({ "fields": fields }),
    )
    .await;
    Ok(Json(tenant_json(&updated)).into_response())
}

#[utoipa::path(post, path = "/admin/tenants/{slug}/reindex", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses((status = 200, description = "The tenant's policy index and catalogue reloaded from the store; its cached answers retired"), (status = 404)))]
/// After `cargo xtask seed` / `cargo xtask index` changed a tenant's policies or catalogue:
/// reloads them into this instance and retires the tenant's cached answers and retrievals.
pub(crate) async fn reindex_tenant(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(slug): PathParam<String>,
) -> Result<Response, ApiError> {
    let tenant = tenant_by_slug(&state, &slug).await?;
    let chunks = state.agent().reindexed(tenant.id).await?;
    tracing::info!(admin_key = %admin.key_id, tenant = %slug, chunks, "tenant re-indexed");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        crate::audit::tenant_of(&tenant),
        "tenant.reindexed",
        format!("tenant:{slug}"),
        json!({ "chunks": chunks }),
    )
    .await;
    Ok(Json(serde_json::json!({ "tenant": slug, "chunks": chunks })).into_response())
}

// ----- keys ---------------------------------------------------------------------------------

/// Which fields a key needs depends on its role, which a derived schema cannot say: the
/// document describes this body by hand (`api_schemas::key_and_cache_schemas`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    /// `tenant`, `widget` (publishable, chat only), `operator` (console) or `admin`.
    role: String,
    /// The tenant's slug; required for tenant and widget keys, refused for the others.
    #[serde(default)]
    tenant: Option<String>,
    /// The tenants' slugs an operator key works on (operator keys only, at least one).
    #[serde(default)]
    tenants: Option<Vec<String>>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct KeyFilter {
    tenant: Option<String>,
}

async fn key_json(state: &AppState, key: &KeyInfo) -> Result<Value, ApiError> {
    let slug = match key.tenant_id {
        Some(id) => state.store().tenants().get(tria_core::TenantId(id)).await?.map(|t| t.slug),
        None => None,
    };
    Ok(json!({
        "id": key.id, "role": key.role, "tenant": slug, "label": key.label, "prefix": key.prefix,
        "created_at": key.created_at, "revoked_at": key.revoked_at, "active": key.revoked_at.is_none(),
    }))
}

#[utoipa::path(get, path = "/admin/keys", tag = "admin", security(("bearer" = [])),
    params(("tenant" = Option<String>, Query, description = "Only this tenant's keys")),
    responses((status = 200, description = "Keys without their secrets"), (status = 404)))]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    _admin: AdminAuth,
    filter: Result<Query<KeyFilter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let filter = query(filter)?;
    let tenant = match &filter.tenant {
        Some(slug) => Some(tenant_by_slug(&state, slug).await?.id),
        None => None,
    };
    let mut keys = Vec::new();
    for row in state.store().keys().list(tenant).await? {
        keys.push(key_json(&state, &KeyInfo::from(row)).await?);
    }
    Ok(Json(json!({ "keys": keys })).into_response())
}

#[utoipa::path(post, path = "/admin/keys", tag = "admin", security(("bearer" = [])), request_body(content = ref("#/components/schemas/CreateKey")),
    responses((status = 201, description = "The key, shown this once"), (status = 400), (status = 404)))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<Response, ApiError> {
    let role =
        ApiRole::parse(&body.role).ok_or_else(|| ApiError::bad_request("`role` must be `tenant`, `widget`, `operator` or `admin`"))?;
    if body.tenants.is_some() != (role == ApiRole::Operator) {
        return Err(ApiError::bad_request("`tenants` (a list of slugs) is for operator keys, and operator keys need it"));
    }
    let tenant = match (role.has_tenant(), &body.tenant) {
        (true, Some(slug)) => Some(tenant_by_slug(&state, slug).await?.id),
        (true, None) => return Err(ApiError::bad_request("tenant and widget keys need `tenant` (a slug)")),
        (false, Some(_)) => return Err(ApiError::bad_request("admin and operator keys belong to no single tenant; leave out `tenant`")),
        (false, None) => None,
    };
    let label = body.label.unwrap_or_default();
    if label.chars().count() > KEY_LABEL_MAX_CHARS {
        return Err(ApiError::bad_request(format!("`label` must be at most {KEY_LABEL_MAX_CHARS} characters")));
    }
    text_input::single_line("label", &label)?;
    let (info, plaintext) = match &body.tenants {
        Some(slugs) => {
            let mut ids = Vec::with_capacity(slugs.len());
            for slug in slugs {
                ids.push(tenant_by_slug(&state, slug).await?.id);
            }
            state.store().keys().create_operator(&label, &ids).await.map_err(|e| conflict(e, "key"))?
        }
        None => state.store().keys().create(tenant, role, &label).await.map_err(|e| conflict(e, "key"))?,
    };
    tracing::info!(admin_key = %admin.key_id, key = %info.id, role = role.as_str(), "API key created");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        None,
        "key.created",
        format!("key:{}", info.id),
        json!({ "role": role.as_str(), "tenant": body.tenant, "tenants": body.tenants }),
    )
    .await;
    let mut body = key_json(&state, &info).await?;
    body["key"] = Value::String(plaintext);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(delete, path = "/admin/keys/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "Revoked"), (status = 400), (status = 404)))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::bad_request("key ids are UUIDs"))?;
    if id == admin.key_id {
        return Err(ApiError::bad_request("an admin key cannot revoke itself; use another admin key"));
    }
    state.store().keys().revoke(id).await?;
    state.auth_cache().forget_all();
    let info = state.store().keys().get(id).await?.ok_or_else(|| ApiError::not_found("no such key"))?;
    tracing::info!(admin_key = %admin.key_id, key = %id, "API key revoked");
    crate::audit::record(&state, crate::audit::Actor::from(&admin), &rid, None, "key.revoked", format!("key:{id}"), json!({})).await;
    Ok(Json(key_json(&state, &info).await?).into_response())
}

// ----- cache, database, integrations --------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct TenantFilter {
    tenant: Option<String>,
}

#[utoipa::path(get, path = "/admin/cache/stats", tag = "admin", security(("bearer" = [])),
    params(("tenant" = Option<String>, Query, description = "One tenant's figures; all tenants when absent")),
    responses((status = 200), (status = 404)))]
pub(crate) async fn cache_stats(
    State(state): State<AppState>,
    _admin: AdminAuth,
    filter: Result<Query<TenantFilter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let cache = state.agent().answer_cache();
    if let Some(slug) = query(filter)?.tenant {
        let tenant = tenant_by_slug(&state, &slug).await?;
        return Ok(Json(cache.stats(tenant.id).await).into_response());
    }
    let mut all = Vec::new();
    for tenant in state.store().tenants().list().await? {
        all.push(cache.stats(tenant.id).await);
    }
    Ok(Json(json!({ "tenants": all })).into_response())
}

/// A tenant or a pattern, never both, which a derived schema cannot say: the document describes
/// this body by hand (`api_schemas::key_and_cache_schemas`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invalidate {
    /// The tenant's slug (required unless `pattern` is given).
    #[serde(default)]
    tenant: Option<String>,
    /// `l1`, `l2`, `l3` or `l4`; every level when absent.
    #[serde(default)]
    level: Option<String>,
    /// A Redis glob over cache keys (`tria:{tenant}:{level}:{version}:{hash}`), e.g. `tria:*:l2:*`;
    /// for operators who know the key layout. Only cache entries are candidates: even `*` leaves
    /// rate-limit and budget keys and other applications' keys in the database alone.
    #[serde(default)]
    pattern: Option<String>,
}

#[utoipa::path(post, path = "/admin/cache/invalidate", tag = "admin", security(("bearer" = [])), request_body(content = ref("#/components/schemas/Invalidate")),
    responses((status = 200), (status = 400), (status = 404), (status = 503)))]
pub(crate) async fn cache_invalidate(
    State(state): State<AppState>,
    admin: AdminAuth,
    rid: crate::audit::RequestId,
    JsonBody(body): JsonBody<Invalidate>,
) -> Result<Response, ApiError> {
    let cache = state.agent().answer_cache();
    let failed = |e: tria_cache::CacheError| {
        tracing::warn!(error = %e, "cache invalidation failed");
        ApiError::unavailable("the cache could not be invalidated right now; retry shortly")
    };
    let result = match (&body.tenant, &body.level, &body.pattern) {
        (None, None, Some(pattern)) => {
            if pattern.is_empty() || pattern.chars().count() > CACHE_PATTERN_MAX_CHARS {
                return Err(ApiError::bad_request(format!("`pattern` must be 1 to {CACHE_PATTERN_MAX_CHARS} characters")));
            }
            let removed = cache.invalidate_pattern(pattern).await.map_err(failed)?;
            json!({ "pattern": pattern, "removed": removed })
        }
        (Some(slug), level, None) => {
            let level: Option<CacheLevelName> =
                level.as_deref().map(str::parse).transpose().map_err(|e: tria_cache::CacheError| ApiError::bad_request(e.to_string()))?;
            let tenant = tenant_by_slug(&state, slug).await?;
            match level {
                Some(level) => {
                    let removed = cache.invalidate_level(tenant.id, level).await.map_err(failed)?;
                    json!({ "tenant": slug, "level": body.level, "removed": removed })
                }
                None => {
                    let generation = cache.invalidate_tenant(tenant.id).await.map_err(failed)?;
                    json!({ "tenant": slug, "level": "all", "generation": generation })
                }
            }
        }
        _ => return Err(ApiError::bad_request("give `tenant` (and optionally `level`), or `pattern` alone")),
    };
    tracing::info!(admin_key = %admin.key_id, request = ?body, "cache invalidated");
    crate::audit::record(
        &state,
        crate::audit::Actor::from(&admin),
        &rid,
        None,
        "cache.invalidated",
        body.tenant.clone().or(body.pattern.clone()).unwrap_or_default(),
        json!({ "tenant": body.tenant, "level": body.level, "pattern": body.pattern }),
    )
    .await;
    Ok(Json(result).into_response())
}

#[utoipa::path(get, path = "/admin/db/pool", tag = "admin", security(("bearer" = [])), responses((status = 200)))]
pub(crate) async fn db_pool(State(state): State<AppState>, _admin: AdminAuth) -> Response {
    let stats = state.store().pool_stats();
    let ping_ms = state.store().ping().await.ok().map(|d| d.as_secs_f64() * 1000.0);
    Json(json!({ "pool": stats, "ping_ms": ping_ms })).into_response()
}

#[utoipa::path(get, path = "/admin/integrations", tag = "admin", security(("bearer" = [])), responses((status = 200)))]
pub(crate) async fn integrations(State(state): State<AppState>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let list: Vec<_> = state.integrations().iter().flat_map(|p| p.statuses()).collect();
    let mut body = json!({ "integrations": list });
    body["llm"] = llm_providers(&state);
    // Each tenant's own helpdesk, Slack and LLM: where each comes from, never a secret.
    if let Some(own) = state.tenant_integrations() {
        let tenants = own.describe(state.store()).await?;
        body["tenants"] = tenants["tenants"].clone();
        body["slack_events_unrouted"] = tenants["slack_events_unrouted"].clone();
    }
    Ok(Json(body).into_response())
}

/// The LLM providers' breakers and 429 hold-offs (`llm:{model}`, degraded with why while turns
/// fall back) and the fallbacks counted by reason since start.
fn llm_providers(state: &AppState) -> Value {
    use tria_integrations::IntegrationProbe;
    let guard = state.agent().llm_guard();
    let providers: Vec<Value> = guard
        .providers()
        .iter()
        .map(|p| json!({ "status": p.integration_status(), "breaker": p.breaker, "held_back_ms": p.held_back_ms, "last_failure": p.last_failure }))
        .collect();
    let fallbacks: serde_json::Map<String, Value> =
        guard.fallbacks().into_iter().map(|(reason, n)| (reason.as_str().to_owned(), json!(n))).collect();
    json!({ "status": guard.status(), "providers": providers, "fallbacks": fallbacks })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn settings_patches_follow_rfc_7386() {
        // RFC 7386, appendix A (a selection), plus the nested merge the budget example relies on.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
            (
                json!({"order_approval_threshold_minor": 500000, "budget": {"usd_per_hour": 5, "tokens_per_hour": 9}}),
                json!({"budget": {"usd_per_hour": 10, "usd_per_month": 500}}),
                json!({"order_approval_threshold_minor": 500000, "budget": {"usd_per_hour": 10, "tokens_per_hour": 9, "usd_per_month": 500}}),
            ),
        ];
        for (target, patch, expected) in cases {
            let mut merged = target.clone();
            merge_patch(&mut merged, &patch);
            assert_eq!(merged, expected, "{target} + {patch}");
        }
    }
}
