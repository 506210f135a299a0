use std::time::Duration;

use axum::routing::get;
use tria_server::ServeOptions;

use crate::{NORTHWIND_KEY, TestApp};

async fn start(app: &TestApp, extra: axum::Router) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let opts =
        ServeOptions { header_read_timeout: Duration::from_millis(500), drain_timeout: Duration::from_secs(5), ..Default::default() };
    let server = crate::serve_on_loopback(app.router.clone().merge(extra), opts).await;
    (format!("http://{}", server.addr), server.stop, server.handle)
}

#[tokio::test]
async fn chat_works_over_a_real_socket() {
    let app = TestApp::new().await;
    let (base, stop, handle) = start(&app, axum::Router::new()).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/api/chat"))
        .bearer_auth(NORTHWIND_KEY)
        .json(&serde_json::json!({ "message": "What are your support hours?" }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["sources"][0]["title"], "Contact and Hours", "{body}");

    let response = client.get(format!("{base}/nope")).send().await.expect("send");
    assert_eq!(response.status(), 404);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), handle).await.expect("stops").expect("no panic");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let app = TestApp::new().await;
    let slow = axum::Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "finished"
        }),
    );
    let (base, stop, handle) = start(&app, slow).await;
    let client = reqwest::Client::new();
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/slow");
        async move { client.get(url).send().await.expect("in-flight request").text().await.expect("text") }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = reqwest::Client::new().get(format!("{base}/health/live")).send().await;
    assert!(refused.is_err(), "new connections are refused once shutdown starts");
    assert_eq!(in_flight.await.expect("join"), "finished");
    tokio::time::timeout(Duration::from_secs(5), handle).await.expect("serve returns after draining").expect("no panic");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new().await;
    let (base, stop, _handle) = start(&app, axum::Router::new()).await;
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n").await.expect("partial headers");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closes a connection whose headers stall past the timeout");
    let _ = stop.send(());
}

/// Slow-loris on the body: headers arrive, the body trickles and stops. The whole-request
/// deadline answers 503 `timeout` and frees the connection's slot.
#[tokio::test]
async fn a_client_that_stalls_its_body_gets_a_timeout_and_the_slot_is_freed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let settings = tria_server::ServiceSettings { request_timeout: Duration::from_millis(400), ..Default::default() };
    let app = TestApp::with_settings(settings).await;
    let (base, stop, _handle) = start(&app, axum::Router::new()).await;
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {NORTHWIND_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"message\":"
    );
    stream.write_all(head.as_bytes()).await.expect("head and part of the body");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server answers and closes well before 3 s");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("\"timeout\"") && text.to_ascii_lowercase().contains("retry-after"), "{text}");
    assert_eq!(app.state.shed_gate().in_flight(), 0, "the stalled request no longer holds a chat slot");
    let _ = stop.send(());
}

/// HTTP/2 (prior knowledge, as gRPC-style clients and proxies use it) is served on the same port,
/// with the configured stream limit, the same body limit and the same error shape.
#[tokio::test]
async fn http2_is_served_with_stream_and_body_limits() {
    let app = TestApp::new().await;
    let (base, stop, _handle) = start(&app, axum::Router::new()).await;
    let tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let (response, _) =
        client.send_request(http::Request::get(format!("{base}/health/live")).body(()).expect("request"), true).expect("send");
    let response = response.await.expect("response");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(client.current_max_send_streams(), 100, "the server advertises its stream limit (server.max_streams_per_connection)");

    let request = http::Request::post(format!("{base}/api/chat"))
        .header("authorization", format!("Bearer {NORTHWIND_KEY}"))
        .header("content-type", "application/json")
        .body(())
        .expect("request");
    let mut client = client.ready().await.expect("ready");
    let (response, mut body) = client.send_request(request, false).expect("send");
    body.send_data(bytes::Bytes::from(format!("{{\"message\":\"{}\"}}", "x".repeat(100 * 1024))), true).expect("data");
    let response = response.await.expect("response");
    assert_eq!(response.status(), 413);
    let mut data = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = data.data().await {
        let chunk = chunk.expect("chunk");
        let _ = data.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let _ = stop.send(());
}
