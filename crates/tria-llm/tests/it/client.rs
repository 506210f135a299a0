//! Every failure path of the OpenAI-compatible client against a real HTTP server.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tria_llm::prompt::{GROUNDING_CLOSE, GROUNDING_OPEN};
use tria_llm::{ChatMessage, CompletionRequest, LlmClient, LlmError, OpenAiClient, OpenAiConfig, RetryPolicy, StreamEvent, UsageSource};
use tria_mock_llm::{Fault, MockConfig, MockServer};

pub(crate) const GROUNDING: &str = "Returns are accepted within 30 days of delivery. Refunds are issued within 5 business days.";

pub(crate) fn request() -> CompletionRequest {
    CompletionRequest::new(vec![
        ChatMessage::system("You answer from the grounding only."),
        ChatMessage::user(format!("{GROUNDING_OPEN}\n{GROUNDING}\n{GROUNDING_CLOSE}\nHow long do refunds take?")),
    ])
}

/// Fast retries so the tests do not wait on backoff (Retry-After is still honoured).
pub(crate) fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
    }
}

async fn setup(config: MockConfig, retries: u32) -> (MockServer, OpenAiClient) {
    let mock = MockServer::start(config).await.expect("mock binds");
    let client = OpenAiClient::new(
        OpenAiConfig::new(mock.base_url(), "tria-mock")
            .with_api_key("sk-test")
            .with_timeout(Duration::from_secs(5))
            .with_retry(fast_retry(retries)),
    )
    .expect("client builds");
    (mock, client)
}

/// Collects a stream into its text and its terminal item (Done or the error).
pub(crate) async fn drain(client: &dyn LlmClient) -> (String, Result<StreamEvent, LlmError>) {
    let mut stream = client.stream(&request()).await.expect("stream opens");
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamEvent::Delta(delta)) => text.push_str(&delta),
            terminal => {
                assert!(stream.next().await.is_none(), "nothing follows the terminal event");
                return (text, terminal);
            }
        }
    }
    panic!("stream ended without Done or an error");
}

#[tokio::test]
async fn complete_returns_the_grounded_answer_and_reported_usage() {
    let (mock, client) = setup(MockConfig::default(), 0).await;
    let completion = client.complete(&request()).await.expect("answers");
    assert_eq!(completion.text, GROUNDING);
    assert_eq!(completion.model, "tria-mock");
    assert_eq!(completion.attempts, 1);
    assert_eq!(completion.usage.source, UsageSource::Reported);
    assert!(completion.usage.prompt_tokens > 0 && completion.usage.completion_tokens > 0);
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert_eq!(mock.stats().requests, 1);
}

#[tokio::test]
async fn missing_usage_is_counted_with_the_tokenizer() {
    let (mock, client) = setup(MockConfig::default(), 0).await;
    mock.push_faults([Fault::NoUsage, Fault::NoUsage]);
    let completion = client.complete(&request()).await.expect("answers");
    assert_eq!(completion.usage.source, UsageSource::Estimated);
    assert_eq!(completion.usage.completion_tokens, tria_llm::tokens::count_text(GROUNDING));
    let (_, done) = drain(&client).await;
    match done {
        Ok(StreamEvent::Done { usage, .. }) => assert_eq!(usage.source, UsageSource::Estimated),
        other => panic!("expected Done, got {other:?}"),
    }
}

#[tokio::test]
async fn stream_yields_deltas_that_add_up_then_done_with_usage() {
    let config = MockConfig { token_delay: Duration::from_millis(1), ..MockConfig::default() };
    let (_mock, client) = setup(config, 0).await;
    let mut stream = client.stream(&request()).await.expect("opens");
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(item) = stream.next().await {
        match item.expect("no error") {
            StreamEvent::Delta(d) => deltas.push(d),
            StreamEvent::Done { usage, finish_reason } => done = Some((usage, finish_reason)),
        }
    }
    assert!(deltas.len() > 5, "streamed token by token: {deltas:?}");
    assert_eq!(deltas.concat(), GROUNDING);
    let (usage, finish) = done.expect("Done arrives");
    assert_eq!(usage.source, UsageSource::Reported);
    assert_eq!(finish.as_deref(), Some("stop"));
}

#[tokio::test]
async fn a_hanging_upstream_times_out() {
    let mock = MockServer::start(MockConfig::default()).await.expect("binds");
    mock.push_faults([Fault::Hang(Duration::from_secs(30))]);
    let client = OpenAiClient::new(
        OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_millis(200)).with_retry(RetryPolicy::none()),
    )
    .expect("builds");
    assert_eq!(client.complete(&request()).await, Err(LlmError::Timeout));
}

#[tokio::test]
async fn a_slow_stream_times_out_between_chunks() {
    let config = MockConfig { token_delay: Duration::from_secs(30), ..MockConfig::default() };
    let mock = MockServer::start(config).await.expect("binds");
    let client = OpenAiClient::new(
        OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_millis(200)).with_retry(RetryPolicy::none()),
    )
    .expect("builds");
    let (text, end) = drain(&client).await;
    assert_eq!(text, "");
    assert_eq!(end, Err(LlmError::Timeout));
}

#[tokio::test]
async fn timeouts_and_server_errors_are_retried_until_success() {
    let mock = MockServer::start(MockConfig::default()).await.expect("binds");
    mock.push_faults([Fault::Hang(Duration::from_secs(30)), Fault::Status(503), Fault::Status(500)]);
    let client = OpenAiClient::new(
        OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_millis(300)).with_retry(fast_retry(3)),
    )
    .expect("builds");
    let completion = client.complete(&request()).await.expect("fourth attempt succeeds");
    assert_eq!(completion.attempts, 4);
    assert_eq!(mock.stats().requests, 4);
    // streams retry until the response head arrives too
    mock.push_faults([Fault::Status(502)]);
    let (text, end) = drain(&client).await;
    assert_eq!(text, GROUNDING);
    assert!(matches!(end, Ok(StreamEvent::Done { .. })));
    assert_eq!(mock.stats().requests, 6);
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after() {
    let (mock, client) = setup(MockConfig::default(), 2).await;
    mock.push_faults([Fault::RateLimited { retry_after_secs: 1 }]);
    let completion = client.complete(&request()).await.expect("succeeds after waiting");
    assert_eq!(completion.attempts, 2);
    let arrivals = mock.stats().arrivals;
    assert_eq!(arrivals.len(), 2);
    // The backoff alone would retry after ≤ 20 ms; the second request must wait the full second.
    assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(1), "{:?}", arrivals[1] - arrivals[0]);
}

#[tokio::test]
async fn a_deadline_cuts_the_attempt_and_skips_retries_that_would_end_past_it() {
    let (mock, client) = setup(MockConfig::default(), 3).await;
    // A hung upstream: the one attempt ends at the deadline, not at the 5 s call timeout, and
    // no retry starts after it.
    mock.set_fault(Some(Fault::Hang(Duration::from_secs(30))));
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    assert_eq!(client.complete(&request().with_deadline(deadline)).await, Err(LlmError::Timeout));
    assert!(std::time::Instant::now() < deadline + Duration::from_secs(4), "ended near the deadline, not the call timeout");
    assert_eq!(mock.stats().requests, 1);
    // A 429 whose Retry-After ends past the deadline comes back at once as the rate limit.
    mock.set_fault(Some(Fault::RateLimited { retry_after_secs: 1 }));
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    let err = client.complete(&request().with_deadline(deadline)).await.expect_err("not worth waiting past the deadline");
    assert_eq!(err, LlmError::RateLimited { retry_after: Some(Duration::from_secs(1)) });
    assert_eq!(mock.stats().requests, 2, "no retry");
    mock.set_fault(None);
    assert!(client.complete(&request().with_deadline(std::time::Instant::now() + Duration::from_secs(5))).await.is_ok());
}

#[tokio::test]
async fn rate_limit_longer_than_allowed_fails_fast_with_the_hint() {
    let (mock, client) = setup(MockConfig::default(), 3).await;
    mock.push_faults([Fault::RateLimited { retry_after_secs: 60 }]);
    let err = client.complete(&request()).await.expect_err("not worth waiting a minute");
    assert_eq!(err, LlmError::RateLimited { retry_after: Some(Duration::from_secs(60)) });
    assert_eq!(mock.stats().requests, 1);
}

#[tokio::test]
async fn exhausted_server_errors_give_the_typed_status() {
    let (mock, client) = setup(MockConfig::default(), 2).await;
    mock.push_faults([Fault::Status(500), Fault::Status(503), Fault::Status(500), Fault::None]);
    let err = client.complete(&request()).await.expect_err("three failures, two retries");
    assert!(matches!(err, LlmError::Upstream { status: 500, ref message } if message == "mock upstream failure"), "{err:?}");
    assert_eq!(mock.stats().requests, 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (mock, client) = setup(MockConfig::default(), 3).await;
    mock.push_faults([Fault::Status(401)]);
    let err = client.complete(&request()).await.expect_err("bad key");
    assert!(matches!(err, LlmError::Upstream { status: 401, .. }), "{err:?}");
    assert_eq!(mock.stats().requests, 1);
}

#[tokio::test]
async fn malformed_sse_ends_the_stream_with_a_clean_error() {
    let (mock, client) = setup(MockConfig::default(), 3).await;
    mock.push_faults([Fault::MalformedSse]);
    let (text, end) = drain(&client).await;
    assert_eq!(text, "Returns are ", "the deltas before the bad line arrive");
    assert!(matches!(end, Err(LlmError::Malformed(_))), "{end:?}");
    assert_eq!(mock.stats().requests, 1, "a broken stream is not retried (deltas were already sent)");
}

#[tokio::test]
async fn connection_reset_mid_stream_is_a_connection_error() {
    let (mock, client) = setup(MockConfig::default(), 3).await;
    mock.push_faults([Fault::ResetMidStream]);
    let (text, end) = drain(&client).await;
    assert_eq!(text, "Returns are ");
    assert!(matches!(end, Err(LlmError::Connection(_))), "{end:?}");
}

#[tokio::test]
async fn a_stream_without_done_is_a_connection_error() {
    let (mock, client) = setup(MockConfig::default(), 0).await;
    mock.push_faults([Fault::TruncatedStream]);
    let (_, end) = drain(&client).await;
    assert_eq!(end, Err(LlmError::Connection("the stream ended before [DONE]".to_owned())));
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = OpenAiClient::new(OpenAiConfig::new(format!("http://{addr}/v1"), "m").with_retry(fast_retry(1))).expect("builds");
    let err = client.complete(&request()).await.expect_err("refused");
    assert!(matches!(err, LlmError::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn the_concurrency_cap_bounds_requests_in_flight() {
    let config = MockConfig { latency: Duration::from_millis(30), ..MockConfig::default() };
    let mock = MockServer::start(config).await.expect("binds");
    let client = Arc::new(OpenAiClient::new(OpenAiConfig::new(mock.base_url(), "tria-mock").with_max_concurrency(2)).expect("builds"));
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.complete(&request()).await })
        })
        .collect();
    for call in calls {
        call.await.expect("joins").expect("answers");
    }
    let stats = mock.stats();
    assert_eq!(stats.requests, 10);
    // Not asserting that the cap is reached: on a loaded machine two requests may not overlap.
    assert!((1..=2).contains(&stats.max_in_flight), "never more than the cap: {}", stats.max_in_flight);
}

#[tokio::test]
async fn an_open_stream_holds_its_slot_and_close_cancels_waiters() {
    let (_mock, client) = {
        let mock = MockServer::start(MockConfig::default()).await.expect("binds");
        let client = OpenAiClient::new(OpenAiConfig::new(mock.base_url(), "tria-mock").with_max_concurrency(1)).expect("builds");
        (mock, Arc::new(client))
    };
    let stream = client.stream(&request()).await.expect("opens");
    let waiter = {
        let client = Arc::clone(&client);
        tokio::spawn(async move { client.complete(&request()).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "the open stream holds the only slot");
    client.close();
    assert_eq!(waiter.await.expect("joins"), Err(LlmError::Cancelled));
    drop(stream);
}

#[tokio::test]
async fn the_default_stream_of_a_non_streaming_backend_is_one_delta() {
    struct Fixed;
    #[async_trait::async_trait]
    impl LlmClient for Fixed {
        fn model(&self) -> &str {
            "fixed"
        }
        async fn complete(&self, _: &CompletionRequest) -> Result<tria_llm::Completion, LlmError> {
            Ok(tria_llm::Completion {
                text: "hi".into(),
                model: "fixed".into(),
                usage: tria_llm::Usage::estimated(1, 1),
                finish_reason: None,
                attempts: 1,
            })
        }
    }
    let events: Vec<_> = Fixed.stream(&request()).await.expect("opens").collect().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], Ok(StreamEvent::Delta("hi".into())));
}
