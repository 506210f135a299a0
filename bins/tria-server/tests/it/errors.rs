use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::json;

use crate::{NORTHWIND_KEY, TestApp, chat_request, error_code};

#[tokio::test]
async fn every_bad_request_gets_its_status_and_a_json_error() {
    let app = TestApp::new().await;
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        ("malformed json", chat_request(NORTHWIND_KEY, "{\"message\": "), StatusCode::BAD_REQUEST, "invalid_json"),
        ("not an object", chat_request(NORTHWIND_KEY, "\"hello\""), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ("wrong type", chat_request(NORTHWIND_KEY, r#"{"message": 42}"#), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ("missing message", chat_request(NORTHWIND_KEY, r#"{"session_id": null}"#), StatusCode::BAD_REQUEST, "missing_field"),
        ("empty message", chat_request(NORTHWIND_KEY, r#"{"message": "   "}"#), StatusCode::BAD_REQUEST, "invalid_field"),
        ("empty body", chat_request(NORTHWIND_KEY, ""), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "too long message",
            chat_request(NORTHWIND_KEY, &json!({ "message": "a".repeat(5000) }).to_string()),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "body over the limit",
            chat_request(NORTHWIND_KEY, &json!({ "message": "a".repeat(70 * 1024) }).to_string()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "wrong content type",
            Request::post("/api/chat")
                .header("authorization", format!("Bearer {NORTHWIND_KEY}"))
                .header("content-type", "text/plain")
                .body(Body::from(r#"{"message":"hi"}"#))
                .expect("request"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "no key",
            Request::post("/api/chat").header("content-type", "application/json").body(Body::from(r#"{"message":"hi"}"#)).expect("request"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "invalid key",
            chat_request("tria_not_a_real_key_00000000000000", r#"{"message":"hi"}"#),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "basic auth",
            Request::post("/api/chat")
                .header("authorization", "Basic dXNlcjpwYXNz")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"message":"hi"}"#))
                .expect("request"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        ("unknown path", Request::get("/api/nope").body(Body::empty()).expect("request"), StatusCode::NOT_FOUND, "not_found"),
        (
            "wrong method",
            Request::get("/api/chat").body(Body::empty()).expect("request"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "wrong method on health",
            Request::delete("/health").body(Body::empty()).expect("request"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (name, request, expected_status, expected_code) in cases {
        let (status, headers, body) = app.send(request).await;
        assert_eq!(status, expected_status, "{name}: {body}");
        assert_eq!(error_code(&body), expected_code, "{name}");
        assert!(headers.contains_key("x-request-id"), "{name}: every response carries a request id");
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"), "{name}");
    }
    // None of the refused requests created a conversation.
    let tenant = app.db.store.tenants().find_by_slug("northwind").await.expect("find").expect("tenant");
    let count: usize = app.db.store.customers().list(tenant.id).await.expect("customers").len();
    assert!(count >= 20);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = TestApp::new().await;
    let tenant = app.db.store.tenants().find_by_slug("northwind").await.expect("find").expect("tenant");
    let keys = app.db.store.keys().list(Some(tenant.id)).await.expect("keys");
    app.db.store.keys().revoke(keys[0].id).await.expect("revoke");
    let (status, body) = app.chat(NORTHWIND_KEY, json!({ "message": "hi" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn an_admin_key_cannot_chat_as_a_tenant() {
    let app = TestApp::new().await;
    let admin_key = "tria_test_admin_key_000000000000000";
    app.db.store.keys().insert(None, tria_core::ApiRole::Admin, "admin", admin_key).await.expect("admin key");
    let (status, body) = app.chat(admin_key, json!({ "message": "hi" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "forbidden");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::new().await;
    let req = Request::get("/health/live").header("x-request-id", "abc-123").body(Body::empty()).expect("request");
    let (_, headers, _) = app.send(req).await;
    assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("abc-123"));
    let req = Request::get("/health/live").header("x-request-id", "bad id with spaces").body(Body::empty()).expect("request");
    let (_, headers, _) = app.send(req).await;
    let generated = headers.get("x-request-id").and_then(|v| v.to_str().ok()).expect("generated id");
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 36);
}

#[tokio::test]
async fn a_storage_failure_is_a_503_without_internals() {
    let app = TestApp::new().await;
    app.db.store.close().await;
    let (status, headers, body) = app.send(chat_request(NORTHWIND_KEY, r#"{"message":"hi"}"#)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "unavailable");
    assert!(headers.contains_key("retry-after"));
    let text = body.to_string().to_lowercase();
    assert!(!text.contains("sqlx") && !text.contains("pool") && !text.contains("sqlite"), "{body}");
}

/// Path parameters that are not UTF-8 get the API's JSON error, not axum's `text/plain`
/// "Invalid URL" (the contract: errors are always `{"error": {...}}`).
#[tokio::test]
async fn path_parameters_that_are_not_utf8_get_a_json_400() {
    let app = TestApp::new().await;
    for (method, path, body) in [
        ("GET", "/api/v1/sessions/%ff%fe/messages", None),
        ("GET", "/api/v1/sessions/%ff/events", None),
        ("POST", "/api/v1/messages/%ff/feedback", Some(json!({ "rating": "up" }))),
        ("GET", "/api/v1/customers/%ff/profile", None),
        ("GET", "/api/v1/customers/%ff/churn", None),
    ] {
        let (status, headers, json) = app.call(method, path, Some(NORTHWIND_KEY), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {json}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        assert_eq!(error_code(&json), "invalid_field", "{path}");
        assert_eq!(json["error"]["message"], "the path parameter `id` is not valid UTF-8", "{path}");
    }
    let admin = app.admin_key().await;
    for (method, path) in [("GET", "/admin/tenants/%ff"), ("DELETE", "/admin/keys/%ff")] {
        let (status, _, json) = app.call(method, path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {json}");
        assert_eq!(error_code(&json), "invalid_field", "{path}");
    }
}

/// PostgreSQL cannot store NUL (0x00) in `text` or `jsonb`: each free-text field that reaches
/// the store answered 500 there. Now each is a 400 naming the field, on every backend (SQLite
/// always; PostgreSQL with `TRIA_TEST_POSTGRES_URL`).
#[tokio::test]
async fn nul_characters_in_stored_free_text_are_a_400_naming_the_field() {
    for db in tria_testkit::all_backends().await {
        let keys = [("northwind".to_owned(), NORTHWIND_KEY.to_owned())].into();
        tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &keys).await.expect("seed");
        let agent = tria_agent::Agent::builder(db.store.clone()).build();
        let state = tria_server::AppState::new(db.store.clone(), agent, Vec::new(), tria_server::ServiceSettings::default());
        let app = TestApp::from_state(state, db);
        let backend = app.db.label;
        let admin = app.admin_key().await;
        let (status, reply) = app.chat(NORTHWIND_KEY, json!({ "message": "I want to talk to a person" })).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {reply}");
        let session = reply["session_id"].as_str().expect("session");
        let message = reply["message_id"].as_str().expect("message");
        let (status, _, _) = app.call("POST", &format!("/api/v1/console/conversations/{session}/take-over"), Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{backend}");

        let nul = "bad\u{0}text";
        let cases = [
            (
                "POST",
                format!("/api/v1/messages/{message}/feedback"),
                Some(NORTHWIND_KEY),
                json!({ "rating": "up", "comment": nul }),
                "comment",
            ),
            (
                "POST",
                format!("/api/v1/console/conversations/{session}/messages"),
                Some(admin.as_str()),
                json!({ "content": nul }),
                "content",
            ),
            ("POST", "/admin/keys".to_owned(), Some(admin.as_str()), json!({ "role": "admin", "label": nul }), "label"),
            ("POST", "/admin/tenants".to_owned(), Some(admin.as_str()), json!({ "name": nul, "slug": "acme" }), "name"),
            ("PATCH", "/admin/tenants/northwind".to_owned(), Some(admin.as_str()), json!({ "name": nul }), "name"),
            (
                "PATCH",
                "/admin/tenants/northwind".to_owned(),
                Some(admin.as_str()),
                json!({ "settings": { "notes": ["fine", { "deep": nul }] } }),
                "settings",
            ),
            ("PATCH", "/admin/tenants/northwind".to_owned(), Some(admin.as_str()), json!({ "tone": { "persona": nul } }), "tone.persona"),
        ];
        for (method, path, key, body, field) in cases {
            let (status, _, json) = app.call(method, &path, key, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{backend} {method} {path}: {json}");
            assert_eq!(error_code(&json), "invalid_field", "{backend} {path}");
            let text = json["error"]["message"].as_str().expect("message");
            assert!(text.contains(&format!("`{field}`")) && text.contains("NUL"), "{backend} {path}: {text}");
        }
        // Line breaks in prose are fine.
        let (status, _, json) = app
            .call(
                "POST",
                &format!("/api/v1/messages/{message}/feedback"),
                Some(NORTHWIND_KEY),
                Some(json!({ "rating": "up", "comment": "two\nlines" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {json}");
        app.db.cleanup().await;
    }
}
