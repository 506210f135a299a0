//! `Agent::chat_stream` with an LLM: tokens arrive before the reply is final, only checked
//! sentences are forwarded, a rejected reply is replaced, and dropping the stream cancels the
//! upstream request and stores nothing.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tria_agent::{Agent, ChatEvent};
use tria_core::ChatRequest;
use tria_llm::{OpenAiClient, OpenAiConfig, PromptLibrary};
use tria_mock_llm::{Fault, MockConfig, MockServer};

use crate::seeded;

async fn agent_with(store: tria_store::Store, config: MockConfig) -> (Agent, MockServer) {
    let mock = MockServer::start(config).await.expect("mock");
    let client =
        Arc::new(OpenAiClient::new(OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_secs(10))).expect("client"));
    (Agent::builder(store).llm(client, Arc::new(PromptLibrary::embedded().expect("prompts"))).build(), mock)
}

/// The text a client shows after these events: tokens, unless a `replace` came.
fn shown(events: &[ChatEvent]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            ChatEvent::Token { delta } => text.push_str(delta),
            ChatEvent::Replace { reply } => text.clone_from(reply),
            _ => {}
        }
    }
    text
}

#[tokio::test]
async fn llm_tokens_are_forwarded_as_they_arrive_and_end_as_the_stored_reply() {
    let (db, tenant) = seeded().await;
    let (agent, mock) = agent_with(db.store.clone(), MockConfig { token_delay: Duration::from_millis(5), ..MockConfig::default() }).await;
    let mut stream = std::pin::pin!(
        agent.chat_stream(&tenant, ChatRequest::new("What is the restocking fee on returns?")).map(|e| e.expect("no failure"))
    );
    let first = stream.next().await.expect("meta");
    let ChatEvent::Meta { session_id, .. } = &first else { panic!("{first:?}") };
    let session_id = session_id.clone();
    // A token arrives while the model is still answering (the mock streams at 5 ms a token).
    let second = stream.next().await.expect("token");
    assert!(matches!(second, ChatEvent::Token { .. }), "{second:?}");
    assert_eq!(mock.stats().in_flight, 1, "the first token came before the model had finished");
    let mut events = vec![first, second];
    events.extend(stream.collect::<Vec<_>>().await);
    assert!(matches!(events.last(), Some(ChatEvent::Done { .. })), "{events:?}");
    let stored = db.store.conversations().messages(tenant.id, session_id.parse().expect("id")).await.expect("messages");
    assert_eq!(shown(&events), stored[1].content, "the client ends with exactly the stored reply");
    assert!(stored[1].content.contains("10%"), "{}", stored[1].content);
}

#[tokio::test]
async fn an_invented_number_is_never_streamed_and_the_reply_is_replaced() {
    let (db, tenant) = seeded().await;
    let (agent, mock) = agent_with(db.store.clone(), MockConfig::default()).await;
    mock.push_faults(vec![
        Fault::Reply("Returns are welcome. The restocking fee is 35% and refunds take 3 days. Anything else?".into());
        2
    ]);
    let events: Vec<ChatEvent> = agent
        .chat_stream(&tenant, ChatRequest::new("Is there a restocking fee when I return something?"))
        .map(|e| e.expect("no failure"))
        .collect()
        .await;
    let tokens: String =
        events.iter().filter_map(|e| if let ChatEvent::Token { delta } = e { Some(delta.as_str()) } else { None }).collect();
    assert!(!tokens.contains("35%"), "an unchecked sentence was streamed: {tokens}");
    assert!(tokens.is_empty() || events.iter().any(|e| matches!(e, ChatEvent::Replace { .. })), "{events:?}");
    let text = shown(&events);
    assert!(text.contains("10%") && !text.contains("35%"), "{text}");
    assert_eq!(mock.stats().requests, 2, "the streamed attempt and one regeneration");
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_upstream_request_and_stores_nothing() {
    let (db, tenant) = seeded().await;
    let (agent, mock) = agent_with(db.store.clone(), MockConfig { token_delay: Duration::from_millis(200), ..MockConfig::default() }).await;
    let session_id = {
        let mut stream = std::pin::pin!(
            agent.chat_stream(&tenant, ChatRequest::new("What is the restocking fee on returns?")).map(|e| e.expect("no failure"))
        );
        let Some(ChatEvent::Meta { session_id, .. }) = stream.next().await else { panic!("meta first") };
        assert_eq!(mock.stats().in_flight, 1);
        session_id
        // The stream (and with it the pipeline and the upstream request) is dropped here.
    };
    let mut waited = Duration::ZERO;
    while mock.stats().in_flight > 0 && waited < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    assert_eq!(mock.stats().in_flight, 0, "the upstream request was cancelled, not streamed to the end");
    let id = session_id.parse().expect("id");
    assert!(db.store.conversations().get(tenant.id, id).await.expect("get").is_none(), "nothing was persisted");
}
