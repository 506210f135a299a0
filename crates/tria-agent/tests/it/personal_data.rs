//! Personal data in LLM replies, end to end with the OpenAI-compatible mock: a reply naming
//! someone else's email address is never sent — the model is asked once more, and when it
//! leaks again the grounded reply answers — while the tenant's published contact address passes.

use std::sync::Arc;
use std::time::Duration;

use tria_agent::Agent;
use tria_core::ChatRequest;
use tria_llm::{OpenAiClient, OpenAiConfig, PromptLibrary, RetryPolicy};
use tria_mock_llm::{Fault, MockConfig, MockServer};

use crate::seeded;

const QUESTION: &str = "What is the restocking fee on returns?";
const LEAK: &str = "The restocking fee is 10%. Our customer Bob (bob.smith@gmail.example) can tell you more.";

async fn agent_with_mock(store: tria_store::Store) -> (Agent, MockServer) {
    let mock = MockServer::start(MockConfig::default()).await.expect("mock");
    let config = OpenAiConfig::new(mock.base_url(), "tria-mock").with_timeout(Duration::from_secs(5)).with_retry(RetryPolicy::none());
    let client = Arc::new(OpenAiClient::new(config).expect("client"));
    let prompts = Arc::new(PromptLibrary::embedded().expect("prompts"));
    (Agent::builder(store).llm(client, prompts).build(), mock)
}

#[tokio::test]
async fn a_reply_leaking_another_persons_email_is_regenerated_then_replaced_by_the_grounded_reply() {
    let (db, tenant) = seeded().await;
    let (agent, mock) = agent_with_mock(db.store.clone()).await;

    // Leaks twice (the answer and its one regeneration): the grounded reply answers.
    mock.push_faults(vec![Fault::Reply(LEAK.into()); 2]);
    let reply = agent.chat(&tenant, ChatRequest::new(QUESTION)).await.expect("chat");
    assert_eq!(mock.stats().requests, 2, "answer + one regeneration");
    assert!(!reply.reply.contains('@'), "{}", reply.reply);
    assert!(reply.reply.contains("10%"), "the grounded reply: {}", reply.reply);
    assert_eq!(reply.usage.fallback.as_deref(), Some("rejected"));

    // Leaks once: the regeneration (the mock's grounded echo) is what the customer reads.
    mock.push_faults([Fault::Reply(LEAK.into())]);
    let reply = agent.chat(&tenant, ChatRequest::new("How much is the restocking fee when I return a box?")).await.expect("chat");
    assert_eq!(mock.stats().requests, 4);
    assert!(!reply.reply.contains("bob.smith"), "{}", reply.reply);
    assert_eq!(reply.usage.fallback, None, "the model's second reply was used: {}", reply.reply);
}

#[tokio::test]
async fn the_tenants_published_contact_address_may_be_in_a_reply() {
    let (db, tenant) = seeded().await;
    let (agent, mock) = agent_with_mock(db.store.clone()).await;
    let published = tenant.settings["support_email"].as_str().expect("the fixture publishes a support email").to_owned();
    let text = format!("The restocking fee is 10%. Questions? Write to {published}.");
    mock.push_faults([Fault::Reply(text.clone())]);
    let reply = agent.chat(&tenant, ChatRequest::new(QUESTION)).await.expect("chat");
    assert_eq!(mock.stats().requests, 1, "accepted the first time");
    assert!(reply.reply.contains(&published), "{}", reply.reply);
}
