//! The persist stage under concurrency: replies that finish together are committed together
//! (group commit), each is stored before it is returned, and one failing exchange does not
//! fail the others.

use std::sync::Arc;

use tria_agent::Agent;
use tria_core::{ChatRequest, ConversationId};

use crate::seeded;

fn ask(message: &str, session: Option<String>) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: session, customer_id: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replies_are_all_stored_before_they_are_returned() {
    let (db, tenant) = seeded().await;
    let agent = Arc::new(Agent::builder(db.store.clone()).build());
    let questions = ["What are your support hours?", "What is the restocking fee on returns?", "Do you ship to Canada?"];
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (agent, tenant) = (agent.clone(), tenant.clone());
            let question = questions[i % questions.len()];
            tokio::spawn(async move {
                let first = agent.chat(&tenant, ask(question, None)).await.expect("chat");
                // The next turn reads the session: the first exchange must already be there.
                let second = agent.chat(&tenant, ask("thanks, and what about returns?", Some(first.session_id.clone()))).await;
                (first, second.expect("second turn finds the session"))
            })
        })
        .collect();
    for task in tasks {
        let (first, second) = task.await.expect("task");
        assert_eq!(first.session_id, second.session_id);
        let id: ConversationId = first.session_id.parse().expect("id");
        let stored = db.store.conversations().messages(tenant.id, id).await.expect("messages");
        assert_eq!(stored.len(), 4, "both exchanges of {id} are stored");
        let ids: Vec<String> = stored.iter().map(|m| m.id.to_string()).collect();
        assert!(ids.contains(first.message_id.as_ref().expect("message id")), "the reply's message id names the stored reply");
    }
    let today = chrono::Utc::now().date_naive();
    let usage = db.store.usage().range(tenant.id, today, today).await.expect("usage");
    assert_eq!(usage.iter().map(|d| d.messages).sum::<i64>(), 120, "every exchange counted once in the daily rollup");
}
