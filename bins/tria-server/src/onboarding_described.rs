//! OpenAPI for the client-onboarding admin routes (issue 25): documents, knowledge versions,
//! jobs, catalogue and customer uploads, tenant secrets. Stand-ins here, so `knowledge.rs`,
//! `catalogue_upload.rs` and `secrets.rs` stay free of OpenAPI detail; `openapi.rs` lists them
//! and `api_schemas::complete` adds the schemas and the parameter refinements below.
#![allow(dead_code)]

use serde_json::{Map, Value, json};

#[utoipa::path(put, path = "/admin/tenants/{slug}/documents/{doc_id}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"),
        ("doc_id" = String, Path, description = "The document's id, chosen by the uploader (a new upload under the same id is its next version)"),
        ("title" = Option<String>, Query, description = "The title citations show; the document's own (first heading, `<title>`, PDF metadata) when absent")),
    request_body(description = "The document itself; its type from `Content-Type`. Over `knowledge.max_document_bytes` (default 20 MB) is 413",
        content((ref("#/components/schemas/TextDocument") = "text/markdown"), (ref("#/components/schemas/TextDocument") = "text/plain"),
            (ref("#/components/schemas/TextDocument") = "text/html"), (ref("#/components/schemas/BinaryDocument") = "application/pdf"))),
    responses((status = 202, description = "Checked and queued: the index job (poll `GET /admin/jobs/{id}`); the old knowledge serves until it succeeds", body = ref("#/components/schemas/JobAccepted")),
        (status = 400, description = "The document id is not 1-128 characters of A-Z, a-z, 0-9, `-`, `_`, `.`"), (status = 404, description = "No such tenant"),
        (status = 413, description = "`document_too_large: …`"), (status = 415, description = "No `Content-Type`, or not one of the four"),
        (status = 422, description = "The document yields no text, is not the type it claims or is malformed; the message starts with its code (`no_text: …`)")))]
fn put_document() {}

#[utoipa::path(get, path = "/admin/tenants/{slug}/documents", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant")),
    responses((status = 200, description = "The documents serving now, with their version, size, chunk count and when they were indexed", body = ref("#/components/schemas/DocumentList")),
        (status = 404, description = "No such tenant")))]
fn list_documents() {}

#[utoipa::path(delete, path = "/admin/tenants/{slug}/documents/{doc_id}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"), ("doc_id" = String, Path, description = "The document's id")),
    responses((status = 200, description = "A new knowledge version without the document", body = ref("#/components/schemas/DocumentDeleted")),
        (status = 400, description = "Not a valid document id"), (status = 404, description = "No such tenant or document")))]
fn delete_document() {}

#[utoipa::path(get, path = "/admin/tenants/{slug}/knowledge/versions", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant")),
    responses((status = 200, description = "The tenant's knowledge versions, newest first", body = ref("#/components/schemas/KnowledgeVersions")),
        (status = 404, description = "No such tenant")))]
fn list_versions() {}

#[utoipa::path(post, path = "/admin/tenants/{slug}/knowledge/rollback", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant")),
    request_body(content = ref("#/components/schemas/Rollback"), description = "`{\"version\": n}`: serve version n again (a bad upload undone in one call)"),
    responses((status = 200, description = "The version now serving", body = ref("#/components/schemas/KnowledgeServing")),
        (status = 404, description = "No such tenant or version")))]
fn rollback() {}

#[utoipa::path(get, path = "/admin/jobs/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The job id from a 202 answer")),
    responses((status = 200, description = "The job", body = ref("#/components/schemas/Job")), (status = 404, description = "No such job")))]
fn get_job() {}

#[utoipa::path(put, path = "/admin/tenants/{slug}/catalogue", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"),
        ("mode" = Option<String>, Query, description = "`merge` (default: by sku; products not in the upload stay) or `replace` (products not in the upload are no longer sold)")),
    request_body(description = "The catalogue: CSV with a header row (`sku,name,price` required; `description,unit,currency,stock,active,category` optional; a UTF-8 BOM is fine) or a JSON array of the same objects. All or nothing: one bad row and nothing is written",
        content((ref("#/components/schemas/CsvUpload") = "text/csv"), (ref("#/components/schemas/CatalogueRows") = "application/json"))),
    responses((status = 200, description = "Imported; the counts", body = ref("#/components/schemas/ImportSummary")),
        (status = 202, description = "Over `import.job_threshold_bytes` (1 MB): stored and queued as an `import_catalogue` job (poll `GET /admin/jobs/{id}`); it checks every row first and fails with the 422's `invalid_rows` report in `errors` writing nothing, else swaps the whole catalogue in at once", body = ref("#/components/schemas/JobAccepted")),
        (status = 400, description = "`mode` is neither merge nor replace"), (status = 404, description = "No such tenant"),
        (status = 413, description = "Over the upload limit (`import.max_bytes`, 64 MB) or the row limit"), (status = 415, description = "Not text/csv or application/json, or not UTF-8"),
        (status = 422, description = "Bad rows (`invalid_rows`: every bad row with its line or index and reasons), or a bad file (no header, missing columns, malformed JSON); nothing written",
            body = ref("#/components/schemas/UploadRejected"))))]
fn put_catalogue() {}

#[utoipa::path(put, path = "/admin/tenants/{slug}/customers", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"),
        ("mode" = Option<String>, Query, description = "`merge` (default: by customer_number) or `replace`")),
    request_body(description = "The customers: CSV with a header row (`customer_number,email` required; `name,company,phone` optional) or a JSON array of the same objects. All or nothing",
        content((ref("#/components/schemas/CsvUpload") = "text/csv"), (ref("#/components/schemas/CustomerRows") = "application/json"))),
    responses((status = 200, description = "Imported; the counts", body = ref("#/components/schemas/ImportSummary")),
        (status = 202, description = "Over `import.job_threshold_bytes` (1 MB): stored and queued as an `import_customers` job (poll `GET /admin/jobs/{id}`); all or nothing as the 422", body = ref("#/components/schemas/JobAccepted")),
        (status = 400, description = "`mode` is neither merge nor replace"), (status = 404, description = "No such tenant"),
        (status = 413, description = "Over the upload limit (`import.max_bytes`, 64 MB) or the row limit"), (status = 415, description = "Not text/csv or application/json, or not UTF-8"),
        (status = 422, description = "Bad rows (`invalid_rows`) or a bad file; nothing written", body = ref("#/components/schemas/UploadRejected"))))]
fn put_customers() {}

#[utoipa::path(get, path = "/admin/tenants/{slug}/secrets", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant")),
    responses((status = 200, description = "The secrets set, by name with a masked hint; never a value", body = ref("#/components/schemas/SecretList")),
        (status = 404, description = "No such tenant"), (status = 503, description = "No master key configured (`secrets.master_key_file`)")))]
fn list_secrets() {}

#[utoipa::path(put, path = "/admin/tenants/{slug}/secrets/{name}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"), ("name" = String, Path, description = "Which secret")),
    request_body(content = ref("#/components/schemas/PutSecret"), description = "`{\"value\"}`: stored encrypted; write-only"),
    responses((status = 200, description = "The name and a masked hint", body = ref("#/components/schemas/SecretHint")),
        (status = 400, description = "An empty, too long or control-character value"), (status = 404, description = "No such tenant"),
        (status = 422, description = "Not a known secret name"), (status = 503, description = "No master key configured")))]
fn put_secret() {}

#[utoipa::path(delete, path = "/admin/tenants/{slug}/secrets/{name}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The tenant"), ("name" = String, Path, description = "Which secret")),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such tenant, or that secret is not set"),
        (status = 422, description = "Not a known secret name"), (status = 503, description = "No master key configured")))]
fn delete_secret() {}

/// The path and query parameters' schemas, from the rules the handlers check with (utoipa's
/// tuple parameters cannot take a pattern or an enum).
pub(crate) fn refine_parameter(path: &str, param: &mut Value) {
    let name = param["name"].as_str().unwrap_or_default();
    let schema = match (param["in"].as_str().unwrap_or_default(), name) {
        ("path", "doc_id") if path.starts_with("/admin/tenants/") => json!({
            "type": "string",
            "minLength": 1,
            "maxLength": tria_knowledge::DOC_ID_MAX_CHARS,
            "pattern": "^[A-Za-z0-9._-]+$",
        }),
        ("path", "name") if path.contains("/secrets/") => {
            json!({ "type": "string", "enum": tria_secrets::SecretName::ALL.iter().map(|n| n.as_str()).collect::<Vec<_>>() })
        }
        ("path", "id") if path.starts_with("/admin/jobs/") => json!({ "type": "string", "format": "uuid" }),
        ("query", "mode") => json!({ "type": "string", "enum": ["merge", "replace"] }),
        _ => return,
    };
    param["schema"] = schema;
}

/// The bodies of these routes; `knowledge.rs`, `catalogue_upload.rs` and `secrets.rs` build them
/// with `json!`, so they are written here.
pub(crate) fn schemas() -> Map<String, Value> {
    let job = json!({
        "type": "object",
        "required": ["id", "kind", "tenant", "status", "progress", "errors", "created_at", "finished_at"],
        "properties": {
            "id": { "type": "string", "format": "uuid" },
            "kind": { "type": "string", "description": "`index_document`, …" },
            "tenant": { "type": "string", "description": "The tenant's slug" },
            "status": { "type": "string", "enum": ["queued", "running", "succeeded", "failed"] },
            "progress": {
                "type": "object",
                "required": ["done", "total"],
                "properties": { "done": { "type": "integer" }, "total": { "type": "integer" } },
            },
            "errors": { "description": "`[{code, message}]` when it failed (or a kind's own report rows)" },
            "created_at": { "type": "string", "format": "date-time" },
            "finished_at": { "type": ["string", "null"], "format": "date-time" },
        },
    });
    let document = json!({
        "type": "object",
        "required": ["doc_id", "version", "title", "content_type", "size_bytes", "sha256", "chunks", "indexed_at", "knowledge_version"],
        "properties": {
            "doc_id": { "type": "string" },
            "version": { "type": "integer", "description": "The document's own version: 1, then one more per upload under its id" },
            "title": { "type": "string" },
            "content_type": { "type": "string" },
            "size_bytes": { "type": "integer" },
            "sha256": { "type": "string" },
            "chunks": { "type": "integer" },
            "indexed_at": { "type": ["string", "null"], "format": "date-time" },
            "knowledge_version": { "type": ["integer", "null"], "description": "The knowledge version that first served it" },
        },
    });
    // A row as `tria_import::schema` reads it; the cross-row and value rules (a duplicate sku,
    // a price with more decimals than the currency has, an address that is not one) are the
    // 422 report's to name.
    let text = |max: usize| json!({ "type": "string", "maxLength": max });
    let optional_text = |max: usize| json!({ "type": ["string", "null"], "maxLength": max });
    let number_or_text = json!({ "type": ["number", "string"] });
    let catalogue_row = json!({
        "type": "object",
        "required": ["sku", "name", "price"],
        "properties": {
            "sku": text(64), "name": text(200), "price": number_or_text.clone(),
            "description": optional_text(5000), "unit": optional_text(64), "currency": optional_text(3),
            "stock": { "type": ["integer", "string", "null"] }, "active": { "type": ["boolean", "string", "null"] },
            "category": optional_text(100),
        },
    });
    let customer_row = json!({
        "type": "object",
        "required": ["customer_number", "email"],
        "properties": {
            "customer_number": text(64), "email": text(254), "name": optional_text(200), "company": optional_text(200), "phone": optional_text(32),
        },
    });
    let invalid_rows = json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message", "rows", "total", "rows_checked", "truncated"],
            "properties": {
                "code": { "const": "invalid_rows" },
                "message": { "type": "string" },
                "rows": { "type": "array", "items": {
                    "type": "object",
                    "description": "A bad row: `line` (CSV, the header is line 1) or `index` (JSON, 0-based), its `key` (sku, customer_number) and every problem",
                    "required": ["problems"],
                    "properties": {
                        "line": { "type": "integer" },
                        "index": { "type": "integer" },
                        "key": { "type": "string" },
                        "problems": { "type": "array", "items": {
                            "type": "object",
                            "required": ["reason"],
                            "properties": { "column": { "type": "string" }, "reason": { "type": "string" } },
                        } },
                    },
                } },
                "total": { "type": "integer", "description": "Bad rows in all (`rows` lists up to a cap)" },
                "rows_checked": { "type": "integer" },
                "truncated": { "type": "boolean" },
            },
        } },
    });
    let value = json!({
        // Any text: a body of a text type has no JSON type to get wrong (`[1]` is a text too).
        "TextDocument": { "description": "Text, UTF-8 unless `charset` (or a BOM, or HTML's `<meta charset>`) says otherwise" },
        "BinaryDocument": { "type": "string", "format": "binary" },
        "CsvUpload": { "type": "string", "description": "CSV, UTF-8, header row first" },
        "Job": job,
        "JobAccepted": { "type": "object", "required": ["job"], "properties": { "job": { "$ref": "#/components/schemas/Job" } } },
        "Document": document,
        "DocumentList": {
            "type": "object",
            "required": ["tenant", "knowledge_version", "documents"],
            "properties": {
                "tenant": { "type": "string" },
                "knowledge_version": { "type": ["integer", "null"], "description": "The version serving; null before the first upload is indexed" },
                "documents": { "type": "array", "items": { "$ref": "#/components/schemas/Document" } },
            },
        },
        "DocumentDeleted": {
            "type": "object",
            "required": ["tenant", "deleted", "knowledge_version"],
            "properties": { "tenant": { "type": "string" }, "deleted": { "type": "string" }, "knowledge_version": { "type": "integer" } },
        },
        "KnowledgeVersions": {
            "type": "object",
            "required": ["tenant", "versions"],
            "properties": {
                "tenant": { "type": "string" },
                "versions": { "type": "array", "items": {
                    "type": "object",
                    "required": ["version", "summary", "documents", "current", "created_at"],
                    "properties": {
                        "version": { "type": "integer" },
                        "summary": { "type": "string", "description": "What changed: `put returns (v2)`, `delete faq`, `rollback to 3`" },
                        "documents": { "type": "integer" },
                        "current": { "type": "boolean" },
                        "created_at": { "type": "string", "format": "date-time" },
                    },
                } },
            },
        },
        "Rollback": {
            "type": "object",
            "additionalProperties": false,
            "required": ["version"],
            "properties": { "version": { "type": "integer", "minimum": 1, "maximum": i32::MAX } },
        },
        "KnowledgeServing": {
            "type": "object",
            "required": ["tenant", "knowledge_version"],
            "properties": { "tenant": { "type": "string" }, "knowledge_version": { "type": "integer" } },
        },
        "CatalogueRows": { "type": "array", "items": catalogue_row },
        "CustomerRows": { "type": "array", "items": customer_row },
        "ImportSummary": {
            "type": "object",
            "required": ["imported", "created", "updated", "unchanged", "deactivated", "mode", "blank_rows_skipped", "unknown_columns"],
            "properties": {
                "imported": { "type": "integer" },
                "created": { "type": "integer" },
                "updated": { "type": "integer" },
                "unchanged": { "type": "integer" },
                "deactivated": { "type": "integer", "description": "Rows `replace` retired" },
                "mode": { "type": "string", "enum": ["merge", "replace"] },
                "blank_rows_skipped": { "type": "integer" },
                "unknown_columns": { "type": "array", "items": { "type": "string" } },
            },
        },
        "InvalidRows": invalid_rows,
        "UploadRejected": { "anyOf": [{ "$ref": "#/components/schemas/InvalidRows" }, { "$ref": "#/components/schemas/Error" }] },
        "PutSecret": {
            "type": "object",
            "additionalProperties": false,
            "required": ["value"],
            "properties": { "value": { "type": "string", "minLength": 1, "maxLength": 8192, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$" } },
        },
        "SecretHint": {
            "type": "object",
            "required": ["name", "hint", "updated_at"],
            "properties": {
                "name": { "type": "string" },
                "hint": { "type": "string", "description": "Masked: enough to tell two values apart, never the value" },
                "updated_at": { "type": "string", "format": "date-time" },
            },
        },
        "SecretList": {
            "type": "object",
            "required": ["secrets"],
            "properties": { "secrets": { "type": "array", "items": { "$ref": "#/components/schemas/SecretHint" } } },
        },
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
