//! Embedding Tria's pipeline in your own service: open a store, seed (or reuse) tenants, load
//! the local model if it is there, and answer — plain and streamed.
//!
//! `cargo run -p tria-agent --example embed -- "What is the restocking fee on returns?"`
//! (run `cargo xtask model fetch` first for model-backed intents and hybrid retrieval; without
//! it the agent answers with BM25 retrieval and rule intents).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;

use futures::StreamExt;
use tria_agent::{Agent, ChatEvent, load_semantic, setup};
use tria_core::ChatRequest;
use tria_store::{DbOptions, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let question = std::env::args().nth(1).unwrap_or_else(|| "What is the restocking fee on returns?".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&DbOptions::new(format!("sqlite://{}?mode=rwc", dir.path().join("tria.db").display()))).await?;
    store.migrate().await?;
    let seeded = setup::seed_from_fixtures(&store, &root.join("fixtures"), &BTreeMap::new()).await?;
    let tenant = seeded.into_iter().map(|s| s.tenant).find(|t| t.slug == "northwind").ok_or("no northwind fixture")?;

    let (models, fixtures) = (root.join("models"), root.join("fixtures"));
    let semantic = tokio::task::spawn_blocking(move || load_semantic(&models, &fixtures)).await?;
    let agent = Agent::builder(store).semantic(semantic).build();

    let reply = agent.chat(&tenant, ChatRequest::new(question.clone())).await?;
    println!("[{} {:.2}] {}", reply.intent.label.as_str(), reply.intent.confidence, reply.reply);
    for source in &reply.sources {
        println!("  source: {} › {}", source.title, source.heading);
    }

    // The same question streamed, continuing the session: the second answer comes from the cache.
    let mut follow_up = ChatRequest::new(question);
    follow_up.session_id = Some(reply.session_id.clone());
    let mut events = Box::pin(agent.chat_stream(&tenant, follow_up));
    while let Some(event) = events.next().await {
        match event? {
            ChatEvent::Token { delta } => print!("{delta}"),
            // The reply changed after some tokens were shown (see `tria_agent::stream`): show it instead.
            ChatEvent::Replace { reply } => print!("\r{reply}"),
            ChatEvent::Done { cache, usage, .. } => println!("\n[done: cache {}, {} tokens]", cache.as_str(), usage.total_tokens),
            // Made by a server from a failure; the agent's stream ends with the error itself.
            ChatEvent::Error { .. } | ChatEvent::Meta { .. } => {}
        }
    }
    Ok(())
}
