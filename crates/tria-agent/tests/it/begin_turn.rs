//! A turn begins once (`Agent::begin_turn`): the request validated and the conversation read
//! under the session's turn lock, refused in the order a stream refuses before its first event;
//! the begun turn holds the lock until it is answered or dropped, so nothing another turn or an
//! operator does can change what was checked before the turn is answered.

use std::time::Duration;

use tria_agent::{Agent, AgentError, Caller};
use tria_core::{ChatRequest, ConversationId, ErrorCode};

use crate::seeded;

fn code(result: Result<tria_agent::BegunTurn, AgentError>) -> ErrorCode {
    match result {
        Err(AgentError::Input(err)) => err.code,
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn on(session: Option<&str>, message: &str, customer: Option<&str>) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: session.map(str::to_owned), customer_id: customer.map(str::to_owned) }
}

#[tokio::test]
async fn a_turn_is_refused_before_it_begins_in_the_order_a_stream_refuses() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let api = agent.chat(&tenant, on(None, "What are your support hours?", None)).await.expect("chat").session_id;
    let unknown = ConversationId::new_random().to_string();

    // Invalid input first, whatever else is wrong.
    assert_eq!(code(agent.begin_turn(&tenant, on(Some(&unknown), " ", Some("C-1")), Caller::WIDGET).await), ErrorCode::InvalidField);
    // A session that is not the tenant's: not found, before a widget's customer claim.
    assert_eq!(code(agent.begin_turn(&tenant, on(Some(&unknown), "hi", Some("C-1")), Caller::WIDGET).await), ErrorCode::NotFound);
    assert_eq!(code(agent.begin_turn(&tenant, on(Some(&unknown), "hi", None), Caller::TENANT).await), ErrorCode::NotFound);
    // A widget naming a customer, then a session the widget did not open.
    assert_eq!(code(agent.begin_turn(&tenant, on(Some(&api), "hi", Some("C-1")), Caller::WIDGET).await), ErrorCode::Forbidden);
    assert_eq!(code(agent.begin_turn(&tenant, on(Some(&api), "hi", None), Caller::WIDGET).await), ErrorCode::NotFound);
    // A widget's session id is taken as sent: padded or empty names none of its sessions.
    assert_eq!(code(agent.begin_turn(&tenant, on(Some(""), "hi", None), Caller::WIDGET).await), ErrorCode::NotFound);
    // The tenant's own key continues it.
    let begun = agent.begin_turn(&tenant, on(Some(&format!(" {api} ")), "  And on weekends?", None), Caller::TENANT).await.expect("begun");
    assert_eq!(begun.message_as_sent(), "  And on weekends?");
    let (reply, _) = agent.answer_turn(&tenant, begun).await.expect("answered");
    assert_eq!(reply.session_id, api);
    db.cleanup().await;
}

#[tokio::test]
async fn a_begun_turn_holds_its_session_until_it_is_answered_or_dropped() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let session = agent.chat(&tenant, on(None, "What are your support hours?", None)).await.expect("chat").session_id;
    let id: ConversationId = session.parse().expect("id");

    // An operator's take-over waits for the begun turn: what it checked (a bot conversation of
    // this caller's) still holds when the turn is answered.
    let begun = agent.begin_turn(&tenant, on(Some(&session), "And on weekends?", None), Caller::TENANT).await.expect("begun");
    let waiting = tokio::time::timeout(Duration::from_millis(200), agent.take_over(&tenant, id)).await;
    assert!(waiting.is_err(), "the take-over ran inside a begun turn");
    let (reply, _) = agent.answer_turn(&tenant, begun).await.expect("answered");
    assert!(!reply.handoff, "answered by the bot, as checked: {}", reply.reply);
    agent.take_over(&tenant, id).await.expect("take over once the turn is stored");

    // A turn begun and dropped (a refused admission, a client gone) gives the lock back.
    let begun = agent.begin_turn(&tenant, on(Some(&session), "hello?", None), Caller::TENANT).await.expect("begun");
    drop(begun);
    tokio::time::timeout(Duration::from_secs(5), agent.hand_back(&tenant, id)).await.expect("the lock was released").expect("hand back");
    db.cleanup().await;
}
