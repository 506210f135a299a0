//! The web widget and the operator console: pages and their headers, what a publishable widget
//! key may and may not do, feedback, operator replies reaching the widget, and the console's
//! tenant scoping (an operator sees exactly its assigned tenants).

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tria_core::{ApiRole, TenantId};
use tria_server::ServiceSettings;

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

pub(crate) const WIDGET_KEY: &str = "tria_pk_test_northwind_0000000001";

/// A test app whose chat page embeds a northwind widget key.
pub(crate) async fn app_with_widget() -> TestApp {
    let settings = ServiceSettings { demo_widget_key: Some(WIDGET_KEY.into()), ..ServiceSettings::default() };
    let app = TestApp::with_settings(settings).await;
    let keys = [("northwind".to_owned(), WIDGET_KEY.to_owned())].into();
    assert_eq!(tria_server::web::seed_widget_keys(&app.db.store, &keys).await.expect("seed widget"), 1);
    assert_eq!(tria_server::web::seed_widget_keys(&app.db.store, &keys).await.expect("reseed"), 0, "seeding is idempotent");
    app
}

async fn tenant_id(app: &TestApp, slug: &str) -> TenantId {
    app.db.store.tenants().find_by_slug(slug).await.expect("db").expect("tenant").id
}

/// An operator key assigned to `slugs`.
pub(crate) async fn operator_key(app: &TestApp, slugs: &[&str]) -> String {
    let mut ids = Vec::new();
    for slug in slugs {
        ids.push(tenant_id(app, slug).await);
    }
    app.db.store.keys().create_operator("test operator", &ids).await.expect("operator key").1
}

/// Sends one streamed chat and returns the parsed `done` event and the session id.
async fn stream_chat(app: &TestApp, key: &str, body: Value) -> (StatusCode, Option<(String, Value)>) {
    let req = Request::post("/api/v1/chat/stream")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let (status, _, json) = app.send(req).await;
    let raw = json["raw"].as_str().unwrap_or_default().to_owned();
    if status != StatusCode::OK {
        return (status, None);
    }
    let mut session = None;
    let mut done = None;
    for block in raw.split("\n\n") {
        let name = block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim).unwrap_or("");
        let data = block.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).unwrap_or("null");
        let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        match name {
            "meta" => session = data["session_id"].as_str().map(str::to_owned),
            "done" => done = Some(data),
            _ => {}
        }
    }
    (status, session.zip(done))
}

#[tokio::test]
async fn the_pages_are_embedded_with_csp_caching_and_the_widget_key() {
    let app = app_with_widget().await;
    let (status, headers, body) = app.call("GET", "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let html = body["raw"].as_str().expect("html");
    assert!(html.contains(&format!("data-key=\"{WIDGET_KEY}\"")), "{html}");
    assert!(html.contains("Northwind"), "the page is titled for the key's tenant");
    assert!(headers["content-type"].to_str().expect("test value").starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str().expect("test value");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["cache-control"], "no-cache");

    let (status, headers, _) = app.call("GET", "/widget.js", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().expect("test value").starts_with("text/javascript"));
    assert!(headers["cache-control"].to_str().expect("test value").contains("max-age"));
    let etag = headers["etag"].to_str().expect("test value").to_owned();
    let req = Request::get("/widget.js").header("if-none-match", &etag).body(Body::empty()).expect("test value");
    let (status, headers, _) = app.send(req).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"].to_str().expect("test value"), etag);

    for path in ["/widget.css", "/console", "/console.js", "/console.css"] {
        let (status, headers, _) = app.call("GET", path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(headers.contains_key("etag") && headers.contains_key("content-security-policy"), "{path}");
    }
}

#[tokio::test]
async fn a_widget_key_chats_and_rates_its_own_session_and_nothing_else() {
    let app = app_with_widget().await;
    let (status, got) = stream_chat(&app, WIDGET_KEY, json!({ "message": "What is the restocking fee on returns?" })).await;
    assert_eq!(status, StatusCode::OK);
    let (session, done) = got.expect("meta and done");
    let message_id = done["message_id"].as_str().expect("done carries the assistant message id").to_owned();
    assert!(!done["sources"].as_array().expect("test value").is_empty());

    // Its own session: polled (with resolved citations) and rated.
    let (status, _, events) = app.call("GET", &format!("/api/v1/sessions/{session}/events"), Some(WIDGET_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let messages = events["messages"].as_array().expect("test value");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["id"], message_id.as_str());
    assert!(!messages[1]["citations"][0]["title"].as_str().expect("test value").is_empty(), "{events}");
    let (status, _, after) =
        app.call("GET", &format!("/api/v1/sessions/{session}/events?after={message_id}"), Some(WIDGET_KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["messages"], json!([]));
    let fb = format!("/api/v1/messages/{message_id}/feedback");
    let (status, _, body) = app.call("POST", &fb, Some(WIDGET_KEY), Some(json!({ "rating": "up" }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = app.call("POST", &fb, Some(WIDGET_KEY), Some(json!({ "rating": "down", "comment": "too long" }))).await;
    assert_eq!(status, StatusCode::OK, "a second verdict replaces the first");
    let counts = app.db.store.console().feedback_counts(tenant_id(&app, "northwind").await).await.expect("test value");
    assert_eq!((counts.up, counts.down), (0, 1));
    let (status, _, body) = app.call("POST", &fb, Some(WIDGET_KEY), Some(json!({ "rating": "meh" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid_field");

    // Continuing its session works; the tenant API's sessions are invisible to it.
    let (status, _) = stream_chat(&app, WIDGET_KEY, json!({ "message": "And for opened items?", "session_id": session })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, api_reply) = app.chat(NORTHWIND_KEY, json!({ "message": "What are your support hours?" })).await;
    let api_session = api_reply["session_id"].as_str().expect("test value");
    let api_message = api_reply["message_id"].as_str().expect("chat replies carry message_id");
    let (status, _, _) = app.call("GET", &format!("/api/v1/sessions/{api_session}/events"), Some(WIDGET_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stream_chat(&app, WIDGET_KEY, json!({ "message": "hi", "session_id": api_session })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) =
        app.call("POST", &format!("/api/v1/messages/{api_message}/feedback"), Some(WIDGET_KEY), Some(json!({ "rating": "up" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another tenant's key cannot see or rate the widget's session either.
    let (status, _, _) = app.call("GET", &format!("/api/v1/sessions/{session}/events"), Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.call("POST", &fb, Some(VELO_KEY), Some(json!({ "rating": "up" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Read endpoints, admin and console are closed to a publishable key.
    for (method, path) in [
        ("GET", format!("/api/v1/sessions/{session}/messages")),
        ("GET", "/api/v1/metrics/cache".to_owned()),
        ("GET", "/admin/tenants".to_owned()),
        ("GET", "/api/v1/console/conversations".to_owned()),
    ] {
        let (status, _, body) = app.call(method, &path, Some(WIDGET_KEY), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
}

/// The widget key is public (it is in the page), so a `customer_id` from it would let anyone
/// act for any customer: read, cancel and place their orders. Only a tenant key names one.
#[tokio::test]
async fn a_widget_key_cannot_name_a_customer_on_either_chat_route() {
    let app = app_with_widget().await;
    let body = json!({ "message": "Where is my order?", "customer_id": "cust-acme" });
    let (status, json) = app.chat(WIDGET_KEY, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    assert_eq!(error_code(&json), "forbidden");
    assert!(json["error"]["message"].as_str().expect("message").contains("customer"), "{json}");
    let req = Request::post("/api/v1/chat/stream")
        .header("authorization", format!("Bearer {WIDGET_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let (status, _, json) = app.send(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    assert_eq!(error_code(&json), "forbidden");

    // Without a customer (or with a blank one, which names no one) the widget chats; a tenant
    // key, on the business's own server, may name the customer.
    let (status, json) = app.chat(WIDGET_KEY, json!({ "message": "Where is my order?", "customer_id": " " })).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, _) = stream_chat(&app, WIDGET_KEY, json!({ "message": "Where is my order?" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, json) = app.chat(NORTHWIND_KEY, body).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn widget_endpoints_answer_cors_preflights() {
    let app = app_with_widget().await;
    let req = Request::options("/api/v1/chat/stream")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .body(Body::empty())
        .expect("test value");
    let (status, headers, _) = app.send(req).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(headers["access-control-allow-headers"].to_str().expect("test value").contains("authorization"));
    // Not on admin paths.
    let req = Request::options("/admin/tenants").header("origin", "https://shop.example").body(Body::empty()).expect("test value");
    let (status, headers, _) = app.send(req).await;
    assert_ne!(status, StatusCode::NO_CONTENT);
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn an_operator_sees_exactly_its_tenants_and_its_replies_reach_the_widget() {
    let app = app_with_widget().await;
    let (_, got) = stream_chat(&app, WIDGET_KEY, json!({ "message": "I want to talk to a person about my order" })).await;
    let (session, done) = got.expect("reply");
    let (_, velo_reply) = app.chat(VELO_KEY, json!({ "message": "Do you sell bike helmets?" })).await;
    let velo_session = velo_reply["session_id"].as_str().expect("test value").to_owned();
    let operator = operator_key(&app, &["northwind"]).await;

    // The queue: northwind only, tagged with its client.
    let (status, _, me) = app.call("GET", "/api/v1/console/me", Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "operator");
    assert_eq!(
        me["tenants"].as_array().expect("test value").iter().map(|t| t["slug"].as_str().expect("test value")).collect::<Vec<_>>(),
        ["northwind"]
    );
    let (status, _, queue) = app.call("GET", "/api/v1/console/conversations", Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK);
    let rows = queue["conversations"].as_array().expect("test value");
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|c| c["tenant"]["slug"] == "northwind"), "{queue}");
    let row = rows.iter().find(|c| c["id"] == session.as_str()).expect("the widget's conversation is queued");
    assert_eq!(row["handoff"], true, "the customer asked for a person: {row}");
    assert_eq!(row["intent"], "human_handoff");
    assert!(!rows.iter().any(|c| c["id"] == velo_session.as_str()));
    for path in [
        format!("/api/v1/console/conversations/{velo_session}"),
        "/api/v1/console/conversations?tenant=velo".to_owned(),
        "/api/v1/console/dashboard?tenant=velo".to_owned(),
    ] {
        let (status, _, body) = app.call("GET", &path, Some(&operator), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _, _) = app.call("POST", &format!("/api/v1/console/conversations/{velo_session}/take-over"), Some(&operator), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The conversation view: summary first, transcript with notes.
    let conv = format!("/api/v1/console/conversations/{session}");
    let (status, _, view) = app.call("GET", &conv, Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["summary"]["customer_wants"][0], "I want to talk to a person about my order");
    assert!(view["summary"]["bot_did"][0].as_str().expect("test value").starts_with("Answered 1 message"), "{view}");
    assert!(!view["messages"][1]["notes"].as_array().expect("test value").is_empty());
    assert_eq!(view["messages"][1]["id"], done["message_id"]);

    // The customer asked for a person, so the bot has already handed the conversation off; the
    // operator takes it over and the reply reaches the widget's poll.
    let reply = json!({ "content": "Hi, this is Sam from support. Which order is it?" });
    let (status, _, taken) = app.call("POST", &format!("{conv}/take-over"), Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(taken["status"], "handed_off");
    assert_eq!(taken["resolution"], "handed_off");
    let (status, _, sent) = app.call("POST", &format!("{conv}/messages"), Some(&operator), Some(reply.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["role"], "operator");
    let after = done["message_id"].as_str().expect("test value");
    let (_, _, events) = app.call("GET", &format!("/api/v1/sessions/{session}/events?after={after}"), Some(WIDGET_KEY), None).await;
    assert_eq!(events["status"], "handed_off");
    assert_eq!(events["messages"][0]["role"], "operator");
    assert_eq!(events["messages"][0]["content"], "Hi, this is Sam from support. Which order is it?");
    let (status, _, back) = app.call("POST", &format!("{conv}/hand-back"), Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(back["status"], "open");
    let (status, _, body) = app.call("POST", &format!("{conv}/messages"), Some(&operator), Some(json!({ "content": " " }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Handed back to the bot: replying needs a take-over again.
    let (status, _, body) = app.call("POST", &format!("{conv}/messages"), Some(&operator), Some(reply.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // An admin sees every tenant; tenant and widget keys are refused.
    let admin = app.admin_key().await;
    let (_, _, all) = app.call("GET", "/api/v1/console/conversations", Some(&admin), None).await;
    let slugs: std::collections::BTreeSet<&str> =
        all["conversations"].as_array().expect("test value").iter().map(|c| c["tenant"]["slug"].as_str().expect("test value")).collect();
    assert_eq!(slugs.into_iter().collect::<Vec<_>>(), ["northwind", "velo"]);
    let (status, _, _) = app.call("GET", "/api/v1/console/conversations", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app.call("GET", "/api/v1/console/conversations?status=maybe", Some(&admin), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_dashboard_counts_messages_feedback_resolutions_and_latency() {
    let app = app_with_widget().await;
    let (_, got) = stream_chat(&app, WIDGET_KEY, json!({ "message": "What is the restocking fee on returns?" })).await;
    let (session, done) = got.expect("reply");
    let fb = format!("/api/v1/messages/{}/feedback", done["message_id"].as_str().expect("test value"));
    app.call("POST", &fb, Some(WIDGET_KEY), Some(json!({ "rating": "up" }))).await;
    let operator = operator_key(&app, &["northwind", "velo"]).await;
    app.call("POST", &format!("/api/v1/console/conversations/{session}/take-over"), Some(&operator), None).await;

    let (status, _, d) = app.call("GET", "/api/v1/console/dashboard?tenant=northwind&days=7", Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let days = d["messages_per_day"].as_array().expect("test value");
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["user"], 1);
    assert_eq!(days[6]["assistant"], 1);
    assert_eq!(d["feedback"], json!({ "up": 1, "down": 0 }));
    assert_eq!(d["resolutions"]["handed_off"], 1);
    assert_eq!(d["latency_ms"]["replies"], 1);
    assert!(d["latency_ms"]["p95"].as_i64().expect("test value") >= 0);
    assert_eq!(
        d["replies_by_cache_level"].as_object().expect("test value").values().map(|v| v.as_u64().expect("test value")).sum::<u64>(),
        1
    );
    // The take-over is a hand-off: its escalation is open until someone resolves it.
    assert!(d["cache"]["levels"].is_array() && d["breakers"].is_array() && d["escalations_open"] == 1, "{d}");
    let (status, _, _) = app.call("GET", "/api/v1/console/dashboard?tenant=northwind&days=0", Some(&operator), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = app.call("GET", "/api/v1/console/dashboard", Some(&operator), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admins_create_widget_and_operator_keys_with_the_right_scope() {
    let app = app_with_widget().await;
    let admin = app.admin_key().await;
    let (status, _, body) =
        app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "operator", "tenants": ["velo"], "label": "bpo" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let operator = body["key"].as_str().expect("test value").to_owned();
    let (_, _, me) = app.call("GET", "/api/v1/console/me", Some(&operator), None).await;
    assert_eq!(me["tenants"][0]["slug"], "velo");
    let (status, _, body) = app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "widget", "tenant": "velo" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let widget = body["key"].as_str().expect("test value").to_owned();
    let (status, reply) = app.chat(&widget, json!({ "message": "What are your support hours?" })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    for bad in [
        json!({ "role": "operator" }),
        json!({ "role": "operator", "tenants": [] }),
        json!({ "role": "widget" }),
        json!({ "role": "tenant", "tenant": "velo", "tenants": ["velo"] }),
        json!({ "role": "operator", "tenants": ["nope"] }),
    ] {
        let (status, _, body) = app.call("POST", "/admin/keys", Some(&admin), Some(bad.clone())).await;
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND, "{bad}: {status} {body}");
    }
    assert!(app.db.store.keys().insert(None, ApiRole::Widget, "x", "tria_pk_no_tenant_000000000001").await.is_err());
}

/// Reads an SSE body until its `meta` event and returns the session it names; the rest of the
/// stream is left unread.
async fn read_until_meta(body: &mut Body) -> String {
    use http_body_util::BodyExt;
    let mut text = String::new();
    loop {
        if let Some(block) = text.split("\n\n").find(|b| b.lines().any(|l| l.trim() == "event: meta")) {
            let data = block.lines().find_map(|l| l.strip_prefix("data:")).expect("meta data");
            let meta: Value = serde_json::from_str(data.trim()).expect("meta json");
            return meta["session_id"].as_str().expect("session_id").to_owned();
        }
        let frame = body.frame().await.expect("the stream ended before `meta`").expect("frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).expect("utf-8"));
        }
    }
}

/// The widget may continue `session`; another tenant's widget key and tenant key may not.
async fn only_the_widget_continues(app: &TestApp, session: &str) {
    let (status, _, events) = app.call("GET", &format!("/api/v1/sessions/{session}/events"), Some(WIDGET_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "the widget polls its session: {events}");
    let (status, got) = stream_chat(app, WIDGET_KEY, json!({ "message": "And for opened items?", "session_id": session })).await;
    assert_eq!(status, StatusCode::OK, "the widget continues its session");
    assert_eq!(got.expect("meta and done").0, session);
    let (status, reply) = app.chat(WIDGET_KEY, json!({ "message": "Thanks", "session_id": session })).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let admin = app.admin_key().await;
    let (status, _, created) = app.call("POST", "/admin/keys", Some(&admin), Some(json!({ "role": "widget", "tenant": "velo" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let velo_widget = created["key"].as_str().expect("key").to_owned();
    for key in [velo_widget.as_str(), VELO_KEY] {
        let (status, _, _) = app.call("GET", &format!("/api/v1/sessions/{session}/events"), Some(key), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = stream_chat(app, key, json!({ "message": "hi", "session_id": session })).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, reply) = app.chat(key, json!({ "message": "hi", "session_id": session })).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
    }
}

/// A widget whose stream is dropped after `meta` (a closed tab, a lost connection) can continue
/// the session `meta` named: the session is the widget's from the write that opens it, not from
/// the `done` event the client never read.
#[tokio::test]
async fn a_widget_stream_dropped_after_meta_leaves_a_session_the_widget_continues() {
    use tower::ServiceExt;
    let app = app_with_widget().await;
    let req = Request::post("/api/v1/chat/stream")
        .header("authorization", format!("Bearer {WIDGET_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "message": "What is the restocking fee on returns?" }).to_string()))
        .expect("request");
    let response = app.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let session = read_until_meta(&mut body).await;
    drop(body);
    only_the_widget_continues(&app, &session).await;
}

/// The same, made deterministic on `POST /api/chat`: the request is given up (the client went
/// away) at the first moment its exchange is stored, before the handler runs another step. The
/// session must already be the widget's then.
#[tokio::test]
async fn a_widget_chat_given_up_once_stored_leaves_a_session_the_widget_continues() {
    use std::task::Poll;
    use tower::ServiceExt;
    let app = app_with_widget().await;
    let northwind = tenant_id(&app, "northwind").await;
    let stored = || async { app.db.store.console().conversations(&[northwind], None, 100).await.expect("conversations") };
    assert!(stored().await.is_empty());
    let request = crate::chat_request(WIDGET_KEY, &json!({ "message": "What is the restocking fee on returns?" }).to_string());
    let mut call = std::pin::pin!(app.router.clone().oneshot(request));
    let session = loop {
        // Looked at before every step of the handler, so it never runs a step past the store.
        if let Some(row) = stored().await.first() {
            break row.id.to_string();
        }
        match futures::poll!(call.as_mut()) {
            Poll::Ready(response) => panic!("answered before the exchange was seen stored: {:?}", response.map(|r| r.status())),
            Poll::Pending => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
        }
    };
    only_the_widget_continues(&app, &session).await;
}
