//! Two replicas (two `Agent`s, each with its own pool and turn locks) on one PostgreSQL
//! database: a conversation's turns are serialised across them as within one process. Runs
//! when `TRIA_TEST_POSTGRES_URL` is set.

use std::collections::BTreeMap;
use std::time::Duration;

use tria_agent::{Agent, AgentError};
use tria_core::{ChatReply, ChatRequest, ConversationId, TenantContext};
use tria_store::TurnLockOptions;

async fn say(agent: &Agent, tenant: &TenantContext, session: Option<&str>, customer: Option<&str>, message: &str) -> ChatReply {
    let mut request = ChatRequest::new(message);
    request.session_id = session.map(str::to_owned);
    request.customer_id = customer.map(str::to_owned);
    agent.chat(tenant, request).await.expect("chat answers")
}

/// A seeded PostgreSQL schema, its Northwind tenant, and two replicas on it.
async fn two_replicas(options: TurnLockOptions) -> Option<(tria_testkit::TestDb, TenantContext, Agent, Agent)> {
    let db = tria_testkit::postgres().await?;
    let seeded = tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &BTreeMap::new()).await.expect("seed");
    let tenant = seeded.into_iter().find(|t| t.tenant.slug == "northwind").expect("northwind fixture").tenant;
    let other = db.connect_again().await;
    let one = Agent::builder(db.store.clone()).turn_locks(db.store.turn_locks(options)).build();
    let two = Agent::builder(other.clone()).turn_locks(other.turn_locks(options)).build();
    Some((db, tenant, one, two))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_sent_at_once_through_two_replicas_are_answered_in_turn_and_none_is_lost() {
    let Some((db, tenant, one, two)) = two_replicas(TurnLockOptions::default()).await else { return };
    let draft = say(&one, &tenant, None, Some("CUST-1001"), "I'd like to order 1 case of NW-MLK-OAT").await;
    let session = draft.session_id.clone();
    let add = |agent| say(agent, &tenant, Some(&session), None, "add 2 cases of NW-MLK-OAT");
    let replies = tokio::join!(add(&one), add(&two), add(&one), add(&two), add(&one));
    let replies = [replies.0, replies.1, replies.2, replies.3, replies.4];

    // Each turn saw the one before it: the drafts they showed are 3, 5, 7, 9 and 11 cases.
    let mut seen: Vec<i64> =
        replies.iter().map(|r| r.order.as_ref().unwrap_or_else(|| panic!("a draft summary: {}", r.reply)).lines[0].quantity).collect();
    seen.sort_unstable();
    assert_eq!(seen, [3, 5, 7, 9, 11]);
    let id = ConversationId(session.parse().expect("uuid"));
    let state = db.store.drafts().get(tenant.id, id).await.expect("read").expect("the draft");
    assert_eq!(state.lines, serde_json::json!([{"sku": "NW-MLK-OAT", "quantity": 11}]), "every addition counted");

    // Stored in order, none interleaved: question, answer, question, answer…, each answer
    // showing one more addition than the last.
    let history = two.history(&tenant, &session).await.expect("history");
    let roles: Vec<&str> = history.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant"].repeat(6));
    let stored_quantities: Vec<i64> = history
        .iter()
        .skip(3)
        .step_by(2)
        .map(|m| {
            let reply = replies.iter().find(|r| r.reply == m.content).unwrap_or_else(|| panic!("a reply of these turns: {}", m.content));
            reply.order.as_ref().expect("summary").lines[0].quantity
        })
        .collect();
    assert_eq!(stored_quantities, [3, 5, 7, 9, 11], "answers stored in the order the turns ran");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_kept_waiting_past_the_bound_by_another_replica_is_refused_as_busy() {
    let options = TurnLockOptions { connections: 4, wait: Duration::from_millis(300) };
    let Some((db, tenant, one, two)) = two_replicas(options).await else { return };
    let first = say(&one, &tenant, None, Some("CUST-1001"), "hello").await;
    let id = ConversationId(first.session_id.parse().expect("uuid"));
    // An operator's take-over in progress on the first replica (held as a turn is).
    let held = db.store.turn_locks(options).acquire(tenant.id, id).await.expect("held");
    let mut request = ChatRequest::new("are you there?");
    request.session_id = Some(first.session_id.clone());
    let refused = two.chat(&tenant, request).await.expect_err("busy");
    assert!(matches!(&refused, AgentError::Busy(m) if m.starts_with("conversation busy")), "{refused:?}");
    drop(held);
    let answered = say(&two, &tenant, Some(&first.session_id), None, "are you there?").await;
    assert_eq!(answered.session_id, first.session_id);
    let roles: Vec<String> = two.history(&tenant, &first.session_id).await.expect("history").into_iter().map(|m| m.role).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"], "the refused message was not stored");
    db.cleanup().await;
}
