//! Azure OpenAI (the OpenAI client at a deployment URL with `api-key`) against the mock
//! speaking Azure's protocol: URL, key header, api-version, error bodies and retry headers.

use std::time::Duration;

use tria_llm::{LlmClient, LlmError, OpenAiClient, OpenAiConfig, Provider, ProviderConfig, StreamEvent, UsageSource};
use tria_mock_llm::{Fault, MockConfig, MockServer};

use crate::client::{GROUNDING, drain, fast_retry, request};

async fn mock() -> MockServer {
    // The double's one deployment is named after its model.
    MockServer::start(MockConfig { protocol: Provider::Azure, model: "chat-prod".into(), ..MockConfig::default() }).await.expect("binds")
}

fn client(mock: &MockServer, deployment: &str, retries: u32) -> OpenAiClient {
    let config = OpenAiConfig::azure(mock.base_url(), deployment, "2024-10-21", "gpt-4o-mini")
        .with_api_key("azure-key")
        .with_timeout(Duration::from_secs(5))
        .with_retry(fast_retry(retries));
    OpenAiClient::new(config).expect("builds")
}

#[tokio::test]
async fn complete_and_stream_through_the_deployment_url() {
    let mock = mock().await;
    let client = client(&mock, "chat-prod", 0);
    assert_eq!(client.model(), "gpt-4o-mini", "priced as the configured model");
    let completion = client.complete(&request()).await.expect("answers");
    assert_eq!(completion.text, GROUNDING);
    assert_eq!(completion.model, "chat-prod", "the upstream's name as reported");
    assert_eq!(completion.usage.source, UsageSource::Reported);
    // Azure's stream opens with a chunk without choices (the prompt filter's results).
    let (text, end) = drain(&client).await;
    assert_eq!(text, GROUNDING);
    match end {
        Ok(StreamEvent::Done { usage, finish_reason }) => {
            assert_eq!(usage, completion.usage);
            assert_eq!(finish_reason.as_deref(), Some("stop"));
        }
        other => panic!("expected Done, got {other:?}"),
    }
}

#[tokio::test]
async fn the_factory_builds_the_azure_client_with_the_model_as_default_deployment() {
    let mock = mock().await;
    let mut config = ProviderConfig::new(Provider::Azure, mock.base_url(), "chat-prod");
    config.api_key = Some("azure-key".into());
    let client = tria_llm::build(config).expect("builds");
    assert_eq!(client.complete(&request()).await.expect("answers").text, GROUNDING);
}

#[tokio::test]
async fn wrong_deployment_missing_key_and_missing_version_are_refused_as_azure_does() {
    let mock = mock().await;
    let err = client(&mock, "nope", 3).complete(&request()).await.expect_err("no such deployment");
    assert!(
        matches!(&err, LlmError::Upstream { status: 404, message } if message.contains("deployment for this resource does not exist")),
        "{err:?}"
    );
    let keyless =
        OpenAiClient::new(OpenAiConfig::azure(mock.base_url(), "chat-prod", "2024-10-21", "m").with_retry(fast_retry(3))).expect("builds");
    let err = keyless.complete(&request()).await.expect_err("no key");
    assert!(matches!(&err, LlmError::Upstream { status: 401, message } if message.starts_with("Access denied")), "{err:?}");
    assert_eq!(mock.stats().requests, 2, "client errors are not retried");
    let http = reqwest::Client::new();
    let body = serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }] });
    let url = format!("{}/openai/deployments/chat-prod/chat/completions", mock.base_url());
    let no_version = http.post(&url).header("api-key", "k").json(&body).send().await.expect("sent");
    assert_eq!(no_version.status(), 404);
    let bearer = http.post(format!("{url}?api-version=2024-10-21")).bearer_auth("k").json(&body).send().await.expect("sent");
    assert_eq!(bearer.status(), 401, "an API key goes in api-key, not Authorization");
    let error: serde_json::Value = bearer.json().await.expect("json");
    assert_eq!(error["error"]["code"], "401");
}

#[tokio::test]
async fn server_errors_are_retried_and_429_waits_for_retry_after() {
    let mock = mock().await;
    let client = client(&mock, "chat-prod", 2);
    mock.push_faults([Fault::Status(503), Fault::Status(500)]);
    assert_eq!(client.complete(&request()).await.expect("third attempt answers").attempts, 3);
    mock.push_faults([Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    let err = client.complete(&request()).await.expect_err("retries run out");
    assert_eq!(err, LlmError::Upstream { status: 500, message: "mock upstream failure".into() });
    mock.push_faults([Fault::RateLimited { retry_after_secs: 1 }]);
    let before = mock.stats().arrivals.len();
    assert_eq!(client.complete(&request()).await.expect("answers after waiting").attempts, 2);
    let arrivals = mock.stats().arrivals;
    assert!(arrivals[before + 1] - arrivals[before] >= Duration::from_secs(1), "{:?}", arrivals[before + 1] - arrivals[before]);
}

#[tokio::test]
async fn an_in_band_stream_error_with_a_string_code_keeps_its_status() {
    let mock = mock().await;
    let client = client(&mock, "chat-prod", 0);
    mock.push_faults([Fault::StreamError]);
    let (text, end) = drain(&client).await;
    assert_eq!(text, "Returns are ");
    assert_eq!(end, Err(LlmError::Upstream { status: 500, message: "mock stream failure".into() }));
}
