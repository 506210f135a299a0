//! L3 end to end with the real embedding model: a paraphrase is answered from the semantic
//! cache, a different question on the same topic is not. Needs `models/` (`cargo xtask model fetch`).

use std::path::PathBuf;
use std::sync::Arc;

use tria_agent::{Agent, SemanticParts};
use tria_core::{CacheLevel, ChatRequest, IntentLabel};
use tria_rag::EmbedderStatus;

use crate::seeded;

fn request(message: &str) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: None, customer_id: None }
}

/// The real model and intent examples, loaded once per test binary. Missing files fail the
/// test with the command that fetches them.
async fn semantic() -> SemanticParts {
    static PARTS: tokio::sync::OnceCell<SemanticParts> = tokio::sync::OnceCell::const_new();
    PARTS
        .get_or_init(|| async {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let models = std::env::var_os("TRIA_MODELS_DIR").map_or_else(|| root.join("models"), PathBuf::from);
            let fixtures = tria_testkit::fixtures_dir();
            let parts = tokio::task::spawn_blocking(move || tria_agent::load_semantic(&models, &fixtures)).await.expect("load task");
            if let EmbedderStatus::Unavailable { reason } = &parts.status {
                panic!("this test needs the embedding model; run `cargo xtask model fetch` first ({reason})");
            }
            parts
        })
        .await
        .clone()
}

async fn agent() -> (tria_testkit::TestDb, tria_core::TenantContext, Arc<Agent>) {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).semantic(semantic().await).build();
    (db, tenant, Arc::new(agent))
}

#[tokio::test]
async fn a_paraphrase_is_answered_from_l3_with_the_stored_answer() {
    let (_db, tenant, agent) = agent().await;
    let first = agent.chat(&tenant, request("What is your policy on backorders?")).await.expect("chat");
    assert_eq!((first.cache, first.intent.label), (CacheLevel::None, IntentLabel::PolicyQuestion), "{first:?}");
    // Worded differently enough that the embedding alone (cosine ≈ 0.68) is below the plain
    // threshold: both select the backorder sentences as evidence (agreement ≈ 0.91).
    let paraphrase = agent.chat(&tenant, request("What happens when an item is backordered?")).await.expect("chat");
    assert_eq!(paraphrase.cache, CacheLevel::L3, "{paraphrase:?}");
    assert_eq!(paraphrase.reply, first.reply);
    let history = agent.history(&tenant, &paraphrase.session_id).await.expect("history");
    assert_eq!(history[1].cache.as_deref(), Some("l3"));
}

#[tokio::test]
async fn another_question_on_the_same_topic_is_not_served_from_l3() {
    let (_db, tenant, agent) = agent().await;
    let first = agent.chat(&tenant, request("What is your warranty on equipment?")).await.expect("chat");
    assert_eq!((first.cache, first.intent.label), (CacheLevel::None, IntentLabel::PolicyQuestion), "{first:?}");
    // Same policy, another question: its evidence is the claims procedure, not the coverage.
    let other = agent.chat(&tenant, request("How do I make a warranty claim?")).await.expect("chat");
    assert_eq!(other.intent.label, IntentLabel::PolicyQuestion, "{other:?}");
    assert_eq!(other.cache, CacheLevel::None, "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_does_not_wait_for_the_evidence_build_and_l3_uses_it_once_ready() {
    let (_db, tenant, agent) = agent().await;
    // The policy index first (a first turn needs it, and loading it embeds the chunks
    // `cargo xtask index` would have); the evidence is built on top of it.
    agent.reload_index(tenant.id).await.expect("index");
    let preparing = tokio::spawn({
        let (agent, tenant) = (agent.clone(), tenant.id);
        async move { agent.prepare_evidence(tenant).await }
    });
    // Let the build take its lock; embedding the tenant's passages takes seconds, a chat turn
    // with the offline responder milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let first = agent.chat(&tenant, request("What is your policy on backorders?")).await.expect("chat");
    assert_eq!(first.cache, CacheLevel::None, "{first:?}");
    assert!(!preparing.is_finished(), "the reply came while the evidence was still being built");
    assert!(preparing.await.expect("join"), "the evidence is ready");
    // Answers stored before the evidence was ready carry none: a low-cosine paraphrase of one
    // is not matched (the plain threshold only), one stored afterwards is.
    let early = agent.chat(&tenant, request("What happens when an item is backordered?")).await.expect("chat");
    assert_eq!(early.cache, CacheLevel::None, "{early:?}");
    let stored = agent.chat(&tenant, request("What is your warranty on equipment?")).await.expect("chat");
    assert_eq!(stored.cache, CacheLevel::None, "{stored:?}");
    let paraphrase = agent.chat(&tenant, request("How long is the warranty on your equipment?")).await.expect("chat");
    assert_eq!(paraphrase.cache, CacheLevel::L3, "{paraphrase:?}");
}

#[tokio::test]
async fn preparing_evidence_without_a_model_reports_not_ready() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    assert!(!agent.prepare_evidence(tenant.id).await);
    let reply = agent.chat(&tenant, request("What is your policy on backorders?")).await.expect("chat");
    assert_eq!(reply.cache, CacheLevel::None);
}
