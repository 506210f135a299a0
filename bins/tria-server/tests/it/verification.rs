//! Customer verification through the public widget key, over a real socket (so the server
//! knows the client's address): failures are limited per session and per client across
//! sessions and numbers, on both chat routes, a caller without a client address (a tenant's
//! server) is not locked by a widget client's failures, and `/metrics` counts them.

use serde_json::{Value, json};
use tria_server::ServeOptions;

use crate::NORTHWIND_KEY;
use crate::web::{WIDGET_KEY, app_with_widget};

const LOCKED: &str = "can't check any more customer numbers";
const MAYA: &str = "maya@bluekettlecafe.example";

async fn chat(http: &reqwest::Client, base: &str, session: Option<&str>, message: &str) -> Value {
    let mut body = json!({ "message": message });
    if let Some(session) = session {
        body["session_id"] = json!(session);
    }
    let response = http.post(format!("{base}/api/chat")).bearer_auth(WIDGET_KEY).json(&body).send().await.expect("send");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn asked(http: &reqwest::Client, base: &str) -> String {
    let ask = chat(http, base, None, "Where is my order ORD-10001?").await;
    assert!(ask["reply"].as_str().expect("reply").contains("customer number"), "{ask}");
    ask["session_id"].as_str().expect("session").to_owned()
}

fn reply(json: &Value) -> &str {
    json["reply"].as_str().expect("reply")
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse::<u64>().ok()))
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

#[tokio::test]
async fn widget_guesses_are_locked_per_session_and_per_client_and_counted() {
    let app = app_with_widget().await;
    let server = crate::serve_on_loopback(app.router.clone(), ServeOptions::default()).await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();

    // One session: two failures, the third locks it, the right pair is then refused.
    let session = asked(&http, &base).await;
    for n in 1..=2 {
        let wrong = chat(&http, &base, Some(&session), &format!("CUST-1001 guess{n}@example.com")).await;
        assert!(reply(&wrong).contains("couldn't verify"), "{wrong}");
    }
    let third = chat(&http, &base, Some(&session), "CUST-1001 guess3@example.com").await;
    assert!(reply(&third).contains(LOCKED) && reply(&third).contains("care@northwind-cafe.example"), "{third}");
    let right = chat(&http, &base, Some(&session), &format!("CUST-1001 {MAYA}")).await;
    assert!(reply(&right).contains(LOCKED) && right["order"].is_null(), "{right}");

    // New sessions, new (unknown) numbers, the same client: the client's tenth failure locks it.
    let mut last = Value::Null;
    for n in 0..7 {
        let session = asked(&http, &base).await;
        last = chat(&http, &base, Some(&session), &format!("CUST-{} guess@example.com", 7000 + n)).await;
    }
    assert!(reply(&last).contains(LOCKED), "{last}");
    let fresh = asked(&http, &base).await;
    let refused = chat(&http, &base, Some(&fresh), "CUST-1002 d.okafor@harborlightroasters.example").await;
    assert!(reply(&refused).contains(LOCKED) && refused["order"].is_null(), "{refused}");
    // The streaming route knows the client too.
    let streamed = http
        .post(format!("{base}/api/v1/chat/stream"))
        .bearer_auth(WIDGET_KEY)
        .json(&json!({ "message": "CUST-1002 d.okafor@harborlightroasters.example", "session_id": asked(&http, &base).await }))
        .send()
        .await
        .expect("stream")
        .text()
        .await
        .expect("events");
    let text: String = streamed
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|d| d["delta"].as_str().map(str::to_owned))
        .collect();
    assert!(text.contains(LOCKED), "{streamed}");

    // The tenant's own server (no client address) is not locked by the widget client.
    let (_, ask) = app.chat(NORTHWIND_KEY, json!({ "message": "Where is my order ORD-10001?" })).await;
    let session = ask["session_id"].as_str().expect("session");
    let (_, verified) =
        app.chat(NORTHWIND_KEY, json!({ "message": "CUST-1002 d.okafor@harborlightroasters.example", "session_id": session })).await;
    assert!(reply(&verified).starts_with("Thank you, that's you."), "{verified}");

    let metrics = http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert_eq!(counter(&metrics, "tria_customer_verification_failures_total"), 10);
    assert_eq!(counter(&metrics, "tria_customer_verification_lockouts_total"), 2);
    assert_eq!(counter(&metrics, "tria_customer_verification_refused_total"), 3);
    server.stop(std::time::Duration::from_secs(5)).await.expect("stopped").expect("server task");
    app.db.cleanup().await;
}
