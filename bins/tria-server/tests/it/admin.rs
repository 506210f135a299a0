use http::StatusCode;
use serde_json::json;

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

const ADMIN_PATHS: &[(&str, &str)] = &[
    ("GET", "/admin/tenants"),
    ("POST", "/admin/tenants"),
    ("GET", "/admin/tenants/northwind"),
    ("PATCH", "/admin/tenants/northwind"),
    ("POST", "/admin/tenants/northwind/reindex"),
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys"),
    ("DELETE", "/admin/keys/00000000-0000-0000-0000-000000000000"),
    ("GET", "/admin/cache/stats"),
    ("POST", "/admin/cache/invalidate"),
    ("GET", "/admin/db/pool"),
    ("GET", "/admin/integrations"),
];

#[tokio::test]
async fn every_admin_endpoint_refuses_tenant_keys_403_and_missing_or_bad_keys_401() {
    let app = TestApp::new().await;
    for (method, path) in ADMIN_PATHS {
        let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
        let (status, headers, json) = app.call(method, path, Some(NORTHWIND_KEY), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {json}");
        assert_eq!(error_code(&json), "forbidden");
        assert!(headers.contains_key("x-request-id"));
        let (status, _, json) = app.call(method, path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {json}");
        assert_eq!(error_code(&json), "unauthorized");
        let (status, _, json) = app.call(method, path, Some("tria_not_a_real_key_0000000000000000"), body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {json}");
    }
}

#[tokio::test]
async fn admin_keys_do_not_reach_tenant_apis() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, json) = app.chat(&admin, json!({ "message": "hello" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    assert_eq!(error_code(&json), "forbidden");
    let (status, _, json) = app.call("GET", "/api/v1/metrics/cache", Some(&admin), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
}

#[tokio::test]
async fn tenants_are_created_listed_read_and_updated() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, created) = app
        .call(
            "POST",
            "/admin/tenants",
            Some(&admin),
            Some(json!({ "name": "Acme Supplies", "slug": "acme", "currency": "EUR", "settings": { "hours": "9-5" } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["slug"], "acme");
    assert_eq!(created["settings"]["hours"], "9-5");

    let (status, _, list) = app.call("GET", "/admin/tenants", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let slugs: Vec<&str> = list["tenants"].as_array().expect("tenants").iter().filter_map(|t| t["slug"].as_str()).collect();
    assert_eq!(slugs, ["acme", "northwind", "velo"]);

    let (status, _, updated) =
        app.call("PATCH", "/admin/tenants/acme", Some(&admin), Some(json!({ "tone": { "style": "friendly", "persona": "Ada" } }))).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["tone"]["persona"], "Ada");
    assert_eq!(updated["name"], "Acme Supplies", "fields not in the patch are kept");
    let (_, _, read) = app.call("GET", "/admin/tenants/acme", Some(&admin), None).await;
    assert_eq!(read["tone"]["persona"], "Ada");
    assert_eq!(read["settings"]["hours"], "9-5");
}

/// docs/OPERATIONS.md's own example sets a budget with `PATCH {"settings": {"budget": ...}}`;
/// it used to replace all settings, wiping the order-approval threshold and the line limit
/// (turning order approval off). Settings are a JSON merge patch: named keys change, `null`
/// removes one, everything else is kept.
#[tokio::test]
async fn patching_settings_merges_them_and_null_removes_a_key() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (_, _, before) = app.call("GET", "/admin/tenants/northwind", Some(&admin), None).await;
    assert_eq!(before["settings"]["order_approval_threshold_minor"], 500000, "{before}");

    let budget = json!({ "settings": { "budget": { "usd_per_hour": 10, "usd_per_month": 500 } } });
    let (status, _, updated) = app.call("PATCH", "/admin/tenants/northwind", Some(&admin), Some(budget)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (_, _, read) = app.call("GET", "/admin/tenants/northwind", Some(&admin), None).await;
    for tenant in [&updated, &read] {
        let settings = &tenant["settings"];
        assert_eq!(settings["budget"], json!({ "usd_per_hour": 10, "usd_per_month": 500 }), "{settings}");
        assert_eq!(settings["order_approval_threshold_minor"], 500000, "the approval threshold is kept: {settings}");
        assert_eq!(settings["max_quantity_per_line"], before["settings"]["max_quantity_per_line"], "{settings}");
    }
    let others: Vec<&String> = before["settings"].as_object().expect("settings object").keys().collect();
    assert!(others.iter().all(|k| read["settings"].get(k.as_str()).is_some()), "every earlier setting kept: {read}");

    let patch = json!({ "settings": { "budget": { "usd_per_hour": null }, "max_quantity_per_line": null } });
    let (status, _, updated) = app.call("PATCH", "/admin/tenants/northwind", Some(&admin), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["settings"]["budget"], json!({ "usd_per_month": 500 }), "{updated}");
    assert!(updated["settings"].get("max_quantity_per_line").is_none(), "null removes a key: {updated}");
    assert_eq!(updated["settings"]["order_approval_threshold_minor"], 500000);
}

#[tokio::test]
async fn bad_admin_input_is_a_json_400_or_422_and_unknown_tenants_404() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let cases = [
        ("POST", "/admin/tenants", json!({ "slug": "x" }), StatusCode::BAD_REQUEST, "missing_field"),
        ("POST", "/admin/tenants", json!({ "name": 5, "slug": "x" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ("POST", "/admin/tenants", json!({ "name": "X", "slug": "Bad Slug!" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/tenants", json!({ "name": "X", "slug": "x", "currency": "dollars" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/tenants", json!({ "name": "X", "slug": "x", "settings": [1] }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/tenants", json!({ "name": "X", "slug": "x", "extra": true }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ("POST", "/admin/tenants", json!({ "name": "Dup", "slug": "velo" }), StatusCode::CONFLICT, "invalid_field"),
        ("PATCH", "/admin/tenants/nobody", json!({ "name": "X" }), StatusCode::NOT_FOUND, "not_found"),
        ("PATCH", "/admin/tenants/velo", json!({ "name": "" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("PATCH", "/admin/tenants/velo", json!({ "tone": [] }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (
            "POST",
            "/admin/tenants",
            json!({ "name": "X", "slug": "x", "tone": ["formal"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        ("POST", "/admin/keys", json!({ "role": "root" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/keys", json!({ "role": "tenant" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/keys", json!({ "role": "admin", "tenant": "velo" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/keys", json!({ "role": "tenant", "tenant": "nobody" }), StatusCode::NOT_FOUND, "not_found"),
        ("POST", "/admin/cache/invalidate", json!({ "tenant": "velo", "level": "l9" }), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/cache/invalidate", json!({}), StatusCode::BAD_REQUEST, "invalid_field"),
        ("POST", "/admin/cache/invalidate", json!({ "tenant": "nobody" }), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (method, path, body, want_status, want_code) in cases {
        let (status, _, json) = app.call(method, path, Some(&admin), Some(body.clone())).await;
        assert_eq!(status, want_status, "{method} {path} {body}: {json}");
        assert_eq!(error_code(&json), want_code, "{method} {path} {body}");
    }
    for (path, want) in
        [("/admin/keys/not-a-uuid", StatusCode::BAD_REQUEST), ("/admin/keys/00000000-0000-0000-0000-000000000000", StatusCode::NOT_FOUND)]
    {
        let (status, _, json) = app.call("DELETE", path, Some(&admin), None).await;
        assert_eq!(status, want, "{path}: {json}");
        error_code(&json);
    }
    let (status, _, json) = app.call("GET", "/admin/tenants/nobody", Some(&admin), None).await;
    assert_eq!((status, error_code(&json).as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _, json) = app.call("GET", "/admin/cache/stats?tenant=nobody", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
}

#[tokio::test]
async fn keys_are_shown_once_rotate_with_two_active_and_stop_working_when_revoked() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let (status, _, created) =
        app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "tenant", "tenant": "velo", "label": "rotation" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let new_key = created["key"].as_str().expect("plaintext shown once").to_owned();
    assert!(new_key.starts_with("tria_") && new_key.len() == 48, "{new_key}");
    assert!(new_key[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(created["tenant"], "velo");
    let id = created["id"].as_str().expect("id").to_owned();

    // Rotation: the old and the new key both work until the old one is revoked.
    for key in [VELO_KEY, new_key.as_str()] {
        let (status, _, json) = app.call("GET", "/api/v1/metrics/cache", Some(key), None).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }

    let (status, _, list) = app.call("GET", "/admin/keys?tenant=velo", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let keys = list["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.get("key").is_none() && k["tenant"] == "velo"), "listing never shows secrets: {list}");
    assert!(!list.to_string().contains(&new_key));

    let (status, _, revoked) = app.call("DELETE", &format!("/admin/keys/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["active"], false);
    let (status, _, json) = app.call("GET", "/api/v1/metrics/cache", Some(&new_key), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key is refused: {json}");
    assert_eq!(error_code(&json), "unauthorized");
    let (status, _, _) = app.call("GET", "/api/v1/metrics/cache", Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "the other key is untouched");

    // An admin key can mint another admin key, and cannot revoke itself.
    let (status, _, second) = app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "admin" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = second["key"].as_str().expect("key").to_owned();
    let (status, _, own) = app.call("GET", "/admin/keys", Some(&second), None).await;
    assert_eq!(status, StatusCode::OK);
    let own_id = own["keys"].as_array().expect("keys").iter().rev().find(|k| k["role"] == "admin").expect("admin key")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _, json) = app.call("DELETE", &format!("/admin/keys/{own_id}"), Some(&second), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
}

#[tokio::test]
async fn cache_pool_and_integrations_are_reported_and_the_cache_can_be_invalidated() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let question = json!({ "message": "What is the restocking fee on returns?" });
    let (_, first) = app.chat(NORTHWIND_KEY, question.clone()).await;
    assert_eq!(first["cache"], "none");
    let (_, second) = app.chat(NORTHWIND_KEY, question.clone()).await;
    assert_ne!(second["cache"], "none", "{second}");

    let (status, _, all) = app.call("GET", "/admin/cache/stats", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let tenants: Vec<&str> = all["tenants"].as_array().expect("tenants").iter().filter_map(|t| t["tenant"].as_str()).collect();
    assert_eq!(tenants.len(), 2, "{all}");
    let (status, _, one) = app.call("GET", "/admin/cache/stats?tenant=northwind", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(one["hits"].as_u64().expect("hits") >= 1, "{one}");

    let (status, _, json) = app.call("POST", "/admin/cache/invalidate", Some(&admin), Some(json!({ "tenant": "northwind" }))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["level"], "all");
    let (_, third) = app.chat(NORTHWIND_KEY, question).await;
    assert_eq!(third["cache"], "none", "after invalidation the answer is computed again: {third}");
    let (status, _, json) =
        app.call("POST", "/admin/cache/invalidate", Some(&admin), Some(json!({ "tenant": "northwind", "level": "l2" }))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    // The pattern's limit is 256 characters, as the OpenAPI document says, not 256 bytes.
    let accented = "é".repeat(256);
    let (status, _, json) = app.call("POST", "/admin/cache/invalidate", Some(&admin), Some(json!({ "pattern": accented }))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, _, json) = app.call("POST", "/admin/cache/invalidate", Some(&admin), Some(json!({ "pattern": "é".repeat(257) }))).await;
    assert_eq!((status, error_code(&json).as_str()), (StatusCode::BAD_REQUEST, "invalid_field"), "{json}");

    let (status, _, pool) = app.call("GET", "/admin/db/pool", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pool["pool"]["backend"], "sqlite");
    assert!(pool["pool"]["max_connections"].as_u64().expect("max") >= 1);
    let (status, _, integrations) = app.call("GET", "/admin/integrations", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(integrations["integrations"].is_array());
}

#[tokio::test]
async fn reindexing_a_tenant_reloads_it_and_retires_only_its_cached_answers() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let question = json!({ "message": "What is the restocking fee on returns?" });
    for key in [NORTHWIND_KEY, VELO_KEY] {
        app.chat(key, question.clone()).await;
        let (_, cached) = app.chat(key, question.clone()).await;
        assert_eq!(cached["cache"], "l1", "{cached}");
    }
    let (status, _, body) = app.call("POST", "/admin/tenants/northwind/reindex", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["chunks"].as_u64().expect("chunks") > 10, "{body}");
    let (_, fresh) = app.chat(NORTHWIND_KEY, question.clone()).await;
    assert_eq!(fresh["cache"], "none", "northwind's answers were retired: {fresh}");
    assert!(fresh["reply"].as_str().expect("reply").contains("10%"));
    let (_, other) = app.chat(VELO_KEY, question).await;
    assert_eq!(other["cache"], "l1", "velo's answers are untouched: {other}");

    let (status, _, body) = app.call("POST", "/admin/tenants/nope/reindex", Some(&admin), None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "not_found"));
}
