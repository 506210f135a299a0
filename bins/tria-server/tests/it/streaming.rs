//! `POST /api/v1/chat/stream` (SSE) and `POST /v1/chat/completions` (OpenAI-compatible).

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

fn post(path: &str, key: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// Sends a request and splits an SSE body into `(event name, data)` pairs.
async fn sse(app: &TestApp, req: Request<Body>) -> (StatusCode, String, Vec<(String, String)>) {
    let response = app.router.clone().oneshot(req).await.expect("infallible");
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = String::from_utf8(response.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8");
    let mut events = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut name = String::from("message");
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
        }
        if !data.is_empty() {
            events.push((name, data.join("\n")));
        }
    }
    (status, content_type, events)
}

#[tokio::test]
async fn the_stream_sends_meta_tokens_and_done_that_add_up_to_the_stored_reply() {
    let app = TestApp::new().await;
    let (status, content_type, events) =
        sse(&app, post("/api/v1/chat/stream", NORTHWIND_KEY, &json!({ "message": "What is the restocking fee on returns?" }))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"meta"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(names.iter().filter(|n| **n == "token").count() > 3, "{names:?}");
    let meta: Value = serde_json::from_str(&events[0].1).expect("meta json");
    assert_eq!(meta["intent"]["label"], "policy_question");
    let session = meta["session_id"].as_str().expect("session").to_owned();
    let streamed: String = events
        .iter()
        .filter(|(n, _)| n == "token")
        .map(|(_, d)| serde_json::from_str::<Value>(d).expect("token json")["delta"].as_str().expect("delta").to_owned())
        .collect();
    assert!(streamed.contains("10%"), "{streamed}");
    let done: Value = serde_json::from_str(&events.last().expect("done").1).expect("done json");
    assert!(!done["sources"].as_array().expect("sources").is_empty(), "{done}");
    assert!(done["usage"]["completion_tokens"].as_u64().expect("tokens") > 0, "{done}");

    // What was streamed is what was stored.
    let (_, _, history) = app
        .send(
            Request::get(format!("/api/v1/sessions/{session}/messages"))
                .header("authorization", format!("Bearer {NORTHWIND_KEY}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(history["messages"][1]["content"], streamed.as_str());
}

#[tokio::test]
async fn stream_input_errors_are_plain_json_errors_before_any_event() {
    let app = TestApp::new().await;
    // Bad input is refused with the usual JSON error, not an event stream.
    let (status, _, body) = app.send(post("/api/v1/chat/stream", NORTHWIND_KEY, &json!({ "message": "" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    error_code(&body);
    let (status, _, body) = app.send(post("/api/v1/chat/stream", "tria_wrong", &json!({ "message": "hi" }))).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    // Another tenant's session is not found, before any event is sent.
    let (_, first) = app.chat(VELO_KEY, json!({ "message": "hello" })).await;
    let velo_session = first["session_id"].as_str().expect("session");
    let requests = [
        ("/api/v1/chat/stream", json!({ "message": "hi", "session_id": velo_session })),
        (
            "/v1/chat/completions",
            json!({ "stream": true, "messages": [{ "role": "user", "content": "hi" }], "metadata": { "session_id": velo_session } }),
        ),
    ];
    for (path, body) in requests {
        let (status, _, json) = app.send(post(path, NORTHWIND_KEY, &body)).await;
        assert_eq!((status, error_code(&json).as_str()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
}

#[tokio::test]
async fn openai_completions_answer_from_the_last_user_message_and_continue_a_session() {
    let app = TestApp::new().await;
    let request = json!({
        "model": "northwind-assistant",
        "messages": [
            { "role": "system", "content": "You are ignored: Tria keeps its own prompts." },
            { "role": "user", "content": "hello" },
            { "role": "assistant", "content": "Hi!" },
            { "role": "user", "content": [{ "type": "text", "text": "What is the restocking fee on returns?" }] }
        ],
        "user": "cust-42",
        "temperature": 0.2
    });
    let (status, headers, body) = app.send(post("/v1/chat/completions", NORTHWIND_KEY, &request)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "northwind-assistant");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["choices"][0]["message"]["content"].as_str().expect("content").contains("10%"), "{body}");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["prompt_tokens"].as_u64().expect("p") + usage["completion_tokens"].as_u64().expect("c"))
    );
    let session = body["tria"]["session_id"].as_str().expect("session").to_owned();
    assert_eq!(headers.get("x-tria-session-id").and_then(|v| v.to_str().ok()), Some(session.as_str()));

    let follow_up = json!({ "messages": [{ "role": "user", "content": "thanks!" }], "metadata": { "session_id": session } });
    let (status, _, body) = app.send(post("/v1/chat/completions", NORTHWIND_KEY, &follow_up)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tria"]["session_id"], session.as_str());
    assert_eq!(body["model"], "tria-northwind");
}

#[tokio::test]
async fn openai_streaming_sends_chunks_then_done() {
    let app = TestApp::new().await;
    let request = json!({
        "model": "x", "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "What is the restocking fee on returns?" }]
    });
    let (status, _, events) = sse(&app, post("/v1/chat/completions", NORTHWIND_KEY, &request)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.last().map(|(_, d)| d.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).expect("chunk json")).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"), "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(text.contains("10%"), "{text}");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    let usage = chunks.last().expect("usage chunk");
    assert_eq!(usage["choices"].as_array().map(Vec::len), Some(0));
    assert!(usage["usage"]["completion_tokens"].as_u64().expect("tokens") > 0);
}

#[tokio::test]
async fn openai_requests_without_a_user_message_or_with_bad_types_are_refused() {
    let app = TestApp::new().await;
    for (body, status) in [
        (json!({ "messages": [] }), StatusCode::BAD_REQUEST),
        (json!({ "messages": [{ "role": "system", "content": "hi" }] }), StatusCode::BAD_REQUEST),
        (json!({ "model": "x" }), StatusCode::BAD_REQUEST),
        (json!({ "messages": "hello" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "messages": [{ "role": "user", "content": "" }] }), StatusCode::BAD_REQUEST),
        // A message is an object: serde's derived impl read an array by field order.
        (json!({ "messages": [["user", "What is your returns policy?"]] }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "messages": [null] }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "messages": [{ "role": "user", "content": "hi" }], "stream_options": [true] }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "messages": [{ "role": "user", "content": "hi" }], "metadata": ["s", "c"] }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (got, _, json) = app.send(post("/v1/chat/completions", NORTHWIND_KEY, &body)).await;
        assert_eq!(got, status, "{body} → {json}");
        error_code(&json);
    }
    let (status, _, json) =
        app.send(post("/v1/chat/completions", "nope", &json!({ "messages": [{ "role": "user", "content": "hi" }] }))).await;
    assert_eq!((status, error_code(&json).as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
}
