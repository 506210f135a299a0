//! What a hostile client (the widget key is public) or a careless one can do to the server over
//! a real socket, each bounded: HTTP/2 streams that never open their window, sockets that send
//! nothing, bodies without a key, clients still sending when they are refused, bare parse
//! errors, and connections caught by shutdown before their first request.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tria_server::{LimitSettings, ServeOptions, ServiceSettings};

use crate::web::WIDGET_KEY;
use crate::{LiveServer, NORTHWIND_KEY, TestApp, VELO_KEY};

async fn app_with_widget(settings: ServiceSettings) -> TestApp {
    let app = TestApp::with_settings(settings).await;
    let keys = [("northwind".to_owned(), WIDGET_KEY.to_owned())].into();
    tria_server::web::seed_widget_keys(&app.db.store, &keys).await.expect("seed widget key");
    app
}

async fn serve(app: &TestApp, opts: ServeOptions) -> LiveServer {
    crate::serve_on_loopback(app.router.clone(), ServeOptions { stats: app.state.connection_stats(), ..opts }).await
}

/// Everything the server sends on `stream` until it closes it or `within` passes, and whether it
/// closed it (EOF or reset) in that time.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Result<bool, std::io::Error>) {
    let mut buf = Vec::new();
    let outcome = tokio::time::timeout(within, async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return Ok(true),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(err) => return Err(err),
            }
        }
    })
    .await
    .unwrap_or(Ok(false));
    (String::from_utf8_lossy(&buf).into_owned(), outcome)
}

fn chat_http1(key: &str, body: &str) -> String {
    format!(
        "POST /api/chat HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn status_of(addr: std::net::SocketAddr, request: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Opens `streams` chat streams with the widget key on one HTTP/2 connection whose client
/// announced a window of zero and never opens it. Returns the connection's driver task, which
/// ends when the server closes the connection.
async fn zero_window_attack(addr: std::net::SocketAddr, streams: usize) -> tokio::task::JoinHandle<()> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (client, connection) =
        h2::client::Builder::new().initial_window_size(0).handshake::<_, bytes::Bytes>(tcp).await.expect("h2 handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let body = bytes::Bytes::from_static(br#"{"message":"What is the restocking fee on returns?"}"#);
    let mut held = Vec::new();
    for _ in 0..streams {
        let Ok(mut ready) = client.clone().ready().await else { break };
        let request = http::Request::post("/api/v1/chat/stream")
            .header("authorization", format!("Bearer {WIDGET_KEY}"))
            .header("content-type", "application/json")
            .body(())
            .expect("request");
        let Ok((response, mut send)) = ready.send_request(request, false) else { break };
        let _ = send.send_data(body.clone(), true);
        held.push(response);
    }
    // The responses are kept (never read) for as long as the connection lives.
    tokio::spawn(async move {
        let _held = held;
        let _client = client;
        std::future::pending::<()>().await;
    });
    driver
}

/// Two HTTP/2 connections with the public widget key and a window held at zero, 64 chat streams
/// each, must not stop chat for anyone else: the gate slot is freed when a reply is complete
/// (not when the client has read it), a widget key and a tenant hold only their share of the
/// gate, a connection holds a bounded number of open chats, and the write timeout closes the
/// attacking connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_window_http2_flood_with_the_widget_key_leaves_chat_answering_for_other_tenants() {
    let _heavy = crate::HEAVY.lock().await;
    let settings = ServiceSettings {
        limits: LimitSettings { max_in_flight: 16, max_queue: 32, queue_timeout: Duration::from_millis(500), ..LimitSettings::default() },
        ..ServiceSettings::default()
    };
    let app = app_with_widget(settings).await;
    let server = serve(&app, ServeOptions { write_timeout: Duration::from_secs(2), ..ServeOptions::default() }).await;
    let attackers = [zero_window_attack(server.addr, 64).await, zero_window_attack(server.addr, 64).await];
    // Let the attack's replies be produced (and stuck behind the zero window).
    tokio::time::sleep(Duration::from_millis(700)).await;

    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..12 {
        let (key, message) =
            if i % 2 == 0 { (VELO_KEY, "How long does shipping take?") } else { (NORTHWIND_KEY, "Do you charge a restocking fee?") };
        let status = status_of(server.addr, &chat_http1(key, &format!(r#"{{"message":"{message}"}}"#))).await;
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&200), Some(&12), "every other chat answered 200 during the attack: {statuses:?}");

    // The attacking connections are closed by the write timeout, dropping what they held.
    for attacker in attackers {
        tokio::time::timeout(Duration::from_secs(10), attacker).await.expect("the server closed the stalled connection").expect("join");
    }
    let stats = app.state.connection_stats();
    assert!(stats.write_timeouts.load(Ordering::Relaxed) >= 2, "both closed for not reading: {stats:?}");
    assert!(stats.chat_streams_refused.load(Ordering::Relaxed) > 0, "open chats per connection are bounded: {stats:?}");
    assert_eq!(app.state.shed_gate().in_flight(), 0, "no slot outlives its reply");
    server.stop(Duration::from_secs(10)).await.expect("stops").expect("no panic");
}

/// A stream whose client never reads gives its gate slot back once the reply is complete.
#[tokio::test]
async fn a_stream_frees_its_gate_slot_when_the_reply_is_complete_whether_or_not_it_is_read() {
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let request = http::Request::post("/api/v1/chat/stream")
        .header("authorization", format!("Bearer {NORTHWIND_KEY}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"message":"What are your support hours?"}"#))
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), http::StatusCode::OK);
    // The body is held, never read.
    let freed = tokio::time::timeout(Duration::from_secs(10), async {
        while app.state.shed_gate().in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the slot was still held by an unread stream");
    drop(response);
}

/// Sockets that send nothing are closed after the header-read timeout, idle keep-alive
/// connections after the idle timeout, and at the connection cap the oldest idle connection
/// makes room, so a probe on a fresh connection is still answered.
#[tokio::test]
async fn idle_and_silent_connections_are_closed_and_the_cap_makes_room_for_new_ones() {
    let app = TestApp::new().await;
    let opts = ServeOptions {
        header_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        max_connections: 8,
        ..ServeOptions::default()
    };
    let server = serve(&app, opts).await;
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(TcpStream::connect(server.addr).await.expect("connect"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The cap is reached: a new connection closes the oldest idle one and is served.
    let started = std::time::Instant::now();
    assert_eq!(status_of(server.addr, "GET /health/live HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").await, 200);
    assert!(started.elapsed() < Duration::from_secs(2), "health answered at the cap in {:?}", started.elapsed());
    let (_, closed) = read_until_closed(&mut silent[0], Duration::from_millis(300)).await;
    assert!(closed.unwrap_or(true), "the oldest idle connection made room");
    // The others are closed once the header-read timeout has passed since accept.
    for stream in &mut silent[1..] {
        let (sent, closed) = read_until_closed(stream, Duration::from_secs(3)).await;
        assert!(closed.unwrap_or(true), "a silent connection was left open (got {sent:?})");
    }
    // A keep-alive connection that goes quiet after a request is closed after the idle timeout.
    let mut keep_alive = TcpStream::connect(server.addr).await.expect("connect");
    keep_alive.write_all(b"GET /health/live HTTP/1.1\r\nhost: t\r\n\r\n").await.expect("write");
    let (sent, closed) = read_until_closed(&mut keep_alive, Duration::from_secs(3)).await;
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(closed.unwrap_or(true), "an idle keep-alive connection was left open");
    let stats = app.state.connection_stats();
    assert!(stats.evicted.load(Ordering::Relaxed) >= 1 && stats.header_timeouts.load(Ordering::Relaxed) >= 1, "{stats:?}");
    server.stop(Duration::from_secs(10)).await.expect("stops").expect("no panic");
}

/// A chat request without a valid key is refused from its headers, before its body is read:
/// a keyless client promising 64 KiB and sending a little gets its 401 at once (not a 408 after
/// the body timeout, with the body buffered meanwhile).
#[tokio::test]
async fn chat_requests_without_a_valid_key_are_refused_before_the_body_is_read() {
    let app = TestApp::new().await;
    let server = serve(&app, ServeOptions::default()).await;
    for auth in ["", "authorization: Bearer tria_not_a_key_000000000000000000\r\n"] {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let head = format!("POST /api/chat HTTP/1.1\r\nhost: t\r\n{auth}content-type: application/json\r\ncontent-length: 65536\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(&[b' '; 1000]).await.expect("write");
        let started = std::time::Instant::now();
        let (response, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
        assert!(response.starts_with("HTTP/1.1 401"), "{auth:?}: {response}");
        assert!(started.elapsed() < Duration::from_secs(2), "refused before the body arrived: {:?}", started.elapsed());
    }
    server.stop(Duration::from_secs(10)).await.expect("stops").expect("no panic");
}

/// A client still sending when it is refused (a body over the limit, headers over the limit)
/// gets the refusal, not a reset: the server reads and discards before it closes. Over many
/// tries, since a reset depends on timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_clients_that_are_still_sending_get_their_answer_not_a_reset() {
    let app = TestApp::new().await;
    let server = serve(&app, ServeOptions::default()).await;
    let big_body = format!(
        "POST /api/chat HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {NORTHWIND_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        1 << 20
    );
    let big_header = format!("GET /health/live HTTP/1.1\r\nhost: t\r\nx-filler: {}\r\n\r\n", "a".repeat(100 * 1024));
    for (what, head, body, expect) in
        [("1 MiB body", big_body, vec![b' '; 1 << 20], "413"), ("100 KB header", big_header, Vec::new(), "431")]
    {
        let mut answered = 0;
        let tries = 12;
        for _ in 0..tries {
            let stream = TcpStream::connect(server.addr).await.expect("connect");
            let (mut reader, mut writer) = stream.into_split();
            let (head, body) = (head.clone(), body.clone());
            let sender = tokio::spawn(async move {
                let _ = writer.write_all(head.as_bytes()).await;
                let _ = writer.write_all(&body).await;
                writer
            });
            let mut buf = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut buf)).await;
            let _ = sender.await;
            let response = String::from_utf8_lossy(&buf);
            if matches!(read, Ok(Ok(_))) && response.starts_with(&format!("HTTP/1.1 {expect}")) {
                answered += 1;
            }
            // Hyper's own refusal goes out as the API's JSON error, with a request id.
            if expect == "431" && !response.is_empty() {
                let lower = response.to_ascii_lowercase();
                assert!(lower.contains("\r\nx-request-id: ") && lower.contains("content-type: application/json"), "{response}");
                assert!(response.contains(r#"{"error":{"code":"payload_too_large""#), "{response}");
            }
        }
        assert_eq!(answered, tries, "{what}: every client read its {expect} without a reset");
    }
    server.stop(Duration::from_secs(10)).await.expect("stops").expect("no panic");
}

/// A request hyper cannot parse is answered with the API's JSON error and `x-request-id`.
#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_json_error_with_a_request_id() {
    let app = TestApp::new().await;
    let server = serve(&app, ServeOptions::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(b"GET /health/live HTTP/1.1\r\nhost: t\r\nthis is not a header\r\n\r\n").await.expect("write");
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.to_ascii_lowercase().contains("\r\nx-request-id: "), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(crate::error_code(&json), "malformed_request");
    server.stop(Duration::from_secs(10)).await.expect("stops").expect("no panic");
}

/// Shutdown stops accepting, then lets every accepted connection send and finish its request:
/// a connection accepted just before the signal, whose request is still on its way, is
/// answered rather than reset.
#[tokio::test]
async fn shutdown_answers_connections_accepted_before_their_request_arrived() {
    let app = TestApp::new().await;
    let server = serve(&app, ServeOptions { drain_timeout: Duration::from_secs(5), ..ServeOptions::default() }).await;
    let mut accepted = Vec::new();
    for _ in 0..10 {
        accepted.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Let the server accept them before the signal.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let LiveServer { stop, handle, .. } = server;
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answers: Vec<_> = accepted
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let _ = stream.write_all(b"GET /health/live HTTP/1.1\r\nhost: t\r\n\r\n").await;
                read_until_closed(&mut stream, Duration::from_secs(5)).await.0
            })
        })
        .collect();
    for answer in answers {
        let response = answer.await.expect("join");
        assert!(response.starts_with("HTTP/1.1 200"), "an accepted connection was dropped at shutdown: {response:?}");
    }
    tokio::time::timeout(Duration::from_secs(10), handle).await.expect("the server stopped").expect("no panic");
}

/// The tenant and widget-key shares of the gate: one tenant cannot hold every slot, one widget
/// key holds a smaller part, and other tenants still get theirs.
#[tokio::test]
async fn one_tenant_or_widget_key_holds_only_its_share_of_the_gate() {
    use tria_admission::{ShedGate, ShedReason};
    let limits = LimitSettings {
        max_in_flight: 8,
        max_queue: 0,
        queue_timeout: Duration::from_millis(20),
        tenant_share: 0.5,
        widget_key_share: 0.25,
        ..LimitSettings::default()
    };
    let gate = Arc::new(ShedGate::from_limits(&limits));
    let (a, b) = (tria_core::TenantId::new_random(), tria_core::TenantId::new_random());
    let widget = uuid::Uuid::new_v4();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(gate.acquire_for(a, Some(widget)).await.expect("within the widget key's share"));
    }
    assert_eq!(gate.acquire_for(a, Some(widget)).await.err(), Some(ShedReason::ShareFull), "the widget key's share is 2 of 8");
    for _ in 0..2 {
        held.push(gate.acquire_for(a, None).await.expect("within the tenant's share"));
    }
    assert_eq!(gate.acquire_for(a, None).await.err(), Some(ShedReason::ShareFull), "the tenant's share is 4 of 8");
    for _ in 0..4 {
        held.push(gate.acquire_for(b, None).await.expect("another tenant's share is untouched"));
    }
    assert_eq!(gate.in_flight(), 8);
    held.truncate(1);
    assert!(gate.acquire_for(a, Some(widget)).await.is_ok(), "freed slots come back to the share");
    assert_eq!(gate.shed_share_total(), 2);
}

/// The listener queues a burst of connects while the accept loop is busy: with the usual
/// backlog of 128, a client's SYN beyond it is dropped and costs a one-second retransmission
/// (20,000 idle connects took 42 s; `cargo xtask hostile`).
#[tokio::test]
async fn the_listener_queues_a_burst_of_connects_beyond_the_usual_backlog() {
    let listener = tria_server::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(4096);
    let burst = somaxconn.min(1000);
    // Nothing accepts: every connect that completes was queued by the kernel.
    let connects = (0..burst).map(|_| tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)));
    let mut queued = Vec::new();
    for connect in connects {
        if let Ok(Ok(stream)) = connect.await {
            queued.push(stream);
        }
    }
    assert!(queued.len() >= burst, "{} of {burst} connects queued (backlog too small)", queued.len());
    drop(listener);
}
