//! The Anthropic Messages client against the mock speaking that protocol, which refuses what
//! the real API refuses: the headers, the body shape and every error shape are exercised.

use std::time::Duration;

use serde_json::{Value, json};
use tria_llm::prompt::{GROUNDING_CLOSE, GROUNDING_OPEN};
use tria_llm::{
    AnthropicClient, AnthropicConfig, ChatMessage, CompletionRequest, LlmClient, LlmError, RetryPolicy, StreamEvent, UsageSource,
};
use tria_mock_llm::{Fault, MockConfig, MockServer, Provider};

use crate::client::{GROUNDING, drain, fast_retry, request};

async fn setup(retries: u32) -> (MockServer, AnthropicClient) {
    let config = MockConfig { protocol: Provider::Anthropic, ..MockConfig::default() };
    let mock = MockServer::start(config).await.expect("mock binds");
    let client = AnthropicClient::new(
        AnthropicConfig::new(mock.base_url(), "tria-mock")
            .with_api_key("sk-ant-test")
            .with_timeout(Duration::from_secs(5))
            .with_retry(fast_retry(retries)),
    )
    .expect("client builds");
    (mock, client)
}

/// A conversation the API would refuse as-is: a leading assistant greeting, two user turns
/// in a row and two system messages.
fn multi_turn() -> CompletionRequest {
    CompletionRequest::new(vec![
        ChatMessage::system("You answer from the grounding only."),
        ChatMessage::assistant("Hi! How can I help?"),
        ChatMessage::user("(summary) The customer asked about returns."),
        ChatMessage::user("And refunds?"),
        ChatMessage::assistant("Let me check."),
        ChatMessage::system(format!("{GROUNDING_OPEN}\n{GROUNDING}\n{GROUNDING_CLOSE}")),
        ChatMessage::user("How long do refunds take?"),
    ])
    .with_temperature(1.4)
}

#[tokio::test]
async fn complete_speaks_the_messages_api_and_reports_usage() {
    let (mock, client) = setup(0).await;
    let completion = client.complete(&request().with_max_tokens(200)).await.expect("answers");
    assert_eq!(completion.text, GROUNDING);
    assert_eq!(completion.model, "tria-mock");
    assert_eq!(completion.finish_reason.as_deref(), Some("end_turn"));
    assert_eq!(completion.usage.source, UsageSource::Reported);
    assert!(completion.usage.prompt_tokens > 0 && completion.usage.completion_tokens > 0);
    // The double refuses non-alternating roles, a system role, temperature > 1, no max_tokens.
    let completion = client.complete(&multi_turn()).await.expect("the converted conversation is accepted");
    assert_eq!(completion.text, GROUNDING);
    assert_eq!(mock.stats().requests, 2);
}

#[tokio::test]
async fn stream_yields_text_deltas_then_done_with_the_reported_usage() {
    let (_mock, client) = setup(0).await;
    let whole = client.complete(&request()).await.expect("answers");
    let mut stream = client.stream(&request()).await.expect("opens");
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(item) = futures::StreamExt::next(&mut stream).await {
        match item.expect("no error") {
            StreamEvent::Delta(d) => deltas.push(d),
            StreamEvent::Done { usage, finish_reason } => done = Some((usage, finish_reason)),
        }
    }
    assert!(deltas.len() > 5, "streamed piece by piece: {deltas:?}");
    assert_eq!(deltas.concat(), GROUNDING);
    let (usage, finish) = done.expect("Done arrives at message_stop");
    assert_eq!(usage, whole.usage, "input tokens from message_start, output tokens from message_delta");
    assert_eq!(finish.as_deref(), Some("end_turn"));
}

#[tokio::test]
async fn the_double_refuses_what_the_api_refuses() {
    let (mock, _client) = setup(0).await;
    let url = format!("{}/v1/messages", mock.base_url());
    let good = json!({ "model": "m", "max_tokens": 10, "messages": [{ "role": "user", "content": "hi" }] });
    let http = reqwest::Client::new();
    let send = |headers: &[(&str, &str)], body: Value| {
        let mut request = http.post(&url).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let both = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")];
    assert_eq!(send(&both, good.clone()).await.expect("sent").status(), 200, "the control request is fine");
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: Vec<(Headers, Value, u16, &str)> = vec![
        (&both[1..], good.clone(), 401, "authentication_error"),
        (&[("authorization", "Bearer k"), ("anthropic-version", "2023-06-01")], good.clone(), 401, "authentication_error"),
        (&both[..1], good.clone(), 400, "invalid_request_error"),
        (&both, json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }] }), 400, "max_tokens"),
        (
            &both,
            json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "user", "content": "a" }, { "role": "user", "content": "b" }] }),
            400,
            "alternate",
        ),
        (&both, json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "assistant", "content": "a" }] }), 400, "first message"),
        (&both, json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "system", "content": "a" }] }), 400, "role"),
        (
            &both,
            json!({ "model": "m", "max_tokens": 5, "stream_options": {}, "messages": [{ "role": "user", "content": "a" }] }),
            400,
            "Extra inputs",
        ),
    ];
    for (headers, body, status, needle) in cases {
        let response = send(headers, body.clone()).await.expect("sent");
        assert_eq!(response.status(), status, "{headers:?} {body}");
        let error: Value = response.json().await.expect("json error body");
        assert_eq!(error["type"], "error");
        assert!(error.to_string().contains(needle), "{error}");
    }
}

#[tokio::test]
async fn a_missing_key_is_an_authentication_error_and_not_retried() {
    let mock = MockServer::start(MockConfig { protocol: Provider::Anthropic, ..MockConfig::default() }).await.expect("binds");
    let client = AnthropicClient::new(AnthropicConfig::new(mock.base_url(), "m").with_retry(fast_retry(3))).expect("builds");
    let err = client.complete(&request()).await.expect_err("no key");
    assert_eq!(err, LlmError::Upstream { status: 401, message: "authentication_error: x-api-key header is required".into() });
    assert_eq!(mock.stats().requests, 1);
}

#[tokio::test]
async fn each_error_status_maps_to_its_llm_error_and_retry_decision() {
    // (status, error type, retried?)
    let cases = [
        (400, "invalid_request_error", false),
        (403, "permission_error", false),
        (404, "not_found_error", false),
        (413, "request_too_large", false),
        (500, "api_error", true),
        (529, "overloaded_error", true),
    ];
    for (status, kind, retried) in cases {
        let (mock, client) = setup(1).await;
        mock.push_faults([Fault::Status(status), Fault::Status(status)]);
        let err = client.complete(&request()).await.expect_err("fails");
        assert_eq!(err, LlmError::Upstream { status, message: format!("{kind}: mock upstream failure") });
        assert_eq!(mock.stats().requests, if retried { 2 } else { 1 }, "{status}");
    }
    let (mock, client) = setup(2).await;
    mock.push_faults([Fault::Status(529), Fault::Status(500)]);
    assert_eq!(client.complete(&request()).await.expect("third attempt answers").attempts, 3);
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_or_fails_fast_with_the_hint() {
    let (mock, client) = setup(2).await;
    mock.push_faults([Fault::RateLimited { retry_after_secs: 1 }]);
    let completion = client.complete(&request()).await.expect("succeeds after waiting");
    assert_eq!(completion.attempts, 2);
    let arrivals = mock.stats().arrivals;
    // The backoff alone would retry after ≤ 20 ms; the second request must wait the full second.
    assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(1), "{:?}", arrivals[1] - arrivals[0]);
    mock.push_faults([Fault::RateLimited { retry_after_secs: 60 }]);
    let err = client.complete(&request()).await.expect_err("not worth waiting a minute");
    assert_eq!(err, LlmError::RateLimited { retry_after: Some(Duration::from_secs(60)) });
    assert_eq!(mock.stats().requests, 3);
}

#[tokio::test]
async fn stream_faults_end_with_a_clean_typed_error() {
    let (mock, client) = setup(3).await;
    mock.push_faults([Fault::StreamError]);
    let (text, end) = drain(&client).await;
    assert_eq!(text, "Returns are ", "the deltas before the error event arrive");
    assert_eq!(end, Err(LlmError::Upstream { status: 529, message: "overloaded_error: Overloaded".into() }));
    mock.push_faults([Fault::MalformedSse]);
    let (_, end) = drain(&client).await;
    assert!(matches!(end, Err(LlmError::Malformed(_))), "{end:?}");
    mock.push_faults([Fault::TruncatedStream]);
    let (_, end) = drain(&client).await;
    assert_eq!(end, Err(LlmError::Connection("the stream ended before message_stop".into())));
    mock.push_faults([Fault::ResetMidStream]);
    let (_, end) = drain(&client).await;
    assert!(matches!(end, Err(LlmError::Connection(_))), "{end:?}");
    assert_eq!(mock.stats().requests, 4, "a broken stream is not retried (deltas were already sent)");
    // The stream is retried until its head arrives, like OpenAI's.
    mock.push_faults([Fault::Status(529)]);
    let (text, end) = drain(&client).await;
    assert_eq!(text, GROUNDING);
    assert!(matches!(end, Ok(StreamEvent::Done { .. })), "{end:?}");
}

#[tokio::test]
async fn missing_usage_is_counted_and_a_hung_upstream_times_out() {
    let (mock, client) = setup(0).await;
    mock.push_faults([Fault::NoUsage, Fault::NoUsage]);
    assert_eq!(client.complete(&request()).await.expect("answers").usage.source, UsageSource::Estimated);
    match drain(&client).await.1 {
        Ok(StreamEvent::Done { usage, .. }) => assert_eq!(usage.source, UsageSource::Estimated),
        other => panic!("expected Done, got {other:?}"),
    }
    mock.push_faults([Fault::Hang(Duration::from_secs(30))]);
    let client = AnthropicClient::new(
        AnthropicConfig::new(mock.base_url(), "m")
            .with_api_key("k")
            .with_timeout(Duration::from_millis(200))
            .with_retry(RetryPolicy::none()),
    )
    .expect("builds");
    assert_eq!(client.complete(&request()).await, Err(LlmError::Timeout));
}
