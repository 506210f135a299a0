//! Customer verification (number and account email) cannot be guessed: failures are limited
//! per session, per customer number and per client, a locked attempt is refused even with the
//! right email, the replies never tell known from unknown numbers, and the failures are counted.

use tria_agent::{Agent, ChatClient, with_chat_client};
use tria_core::{ChatReply, ChatRequest, TenantContext};

use crate::seeded;

const MAYA: &str = "maya@bluekettlecafe.example";
const LOCKED: &str = "can't check any more customer numbers";

async fn say(agent: &Agent, tenant: &TenantContext, session: Option<&str>, message: &str) -> ChatReply {
    let mut request = ChatRequest::new(message);
    request.session_id = session.map(str::to_owned);
    agent.chat(tenant, request).await.expect("chat answers")
}

/// A new conversation that has been asked who the customer is.
async fn asked(agent: &Agent, tenant: &TenantContext) -> String {
    let ask = say(agent, tenant, None, "Where is my order ORD-10001?").await;
    assert!(ask.reply.contains("customer number"), "{}", ask.reply);
    ask.session_id
}

fn verified(reply: &ChatReply) -> bool {
    reply.reply.starts_with("Thank you, that's you.")
}

#[tokio::test]
async fn guesses_beyond_the_session_limit_are_refused_even_with_the_right_email() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let session = asked(&agent, &tenant).await;
    for n in 1..=2 {
        let wrong = say(&agent, &tenant, Some(&session), &format!("CUST-1001 guess{n}@example.com")).await;
        assert!(wrong.reply.contains("couldn't verify") && wrong.order.is_none(), "{n}: {}", wrong.reply);
    }
    // The third failure reaches the limit and says how to reach a person.
    let third = say(&agent, &tenant, Some(&session), "CUST-1001 guess3@example.com").await;
    assert!(third.reply.contains(LOCKED), "{}", third.reply);
    for contact in ["care@northwind-cafe.example", "+1 555 0100", "Monday to Friday"] {
        assert!(third.reply.contains(contact), "{contact} in: {}", third.reply);
    }
    // From now on the right pair is refused without being checked.
    let right = say(&agent, &tenant, Some(&session), &format!("CUST-1001 {MAYA}")).await;
    assert!(right.reply.contains(LOCKED) && right.order.is_none(), "{}", right.reply);
    let number_only = say(&agent, &tenant, Some(&session), "CUST-1001").await;
    assert!(number_only.reply.contains(LOCKED), "{}", number_only.reply);
    let row = db.store.conversations().get(tenant.id, session.parse().expect("uuid")).await.expect("read").expect("conversation");
    assert_eq!(row.customer_id, None, "the session was never given the customer");
    db.cleanup().await;
}

#[tokio::test]
async fn a_correct_first_or_second_try_still_verifies() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let first = asked(&agent, &tenant).await;
    let reply = say(&agent, &tenant, Some(&first), &format!("CUST-1001 {MAYA}")).await;
    assert!(verified(&reply), "{}", reply.reply);

    let second = asked(&agent, &tenant).await;
    let wrong = say(&agent, &tenant, Some(&second), "CUST-1001 typo@bluekettlecafe.example").await;
    assert!(wrong.reply.contains("couldn't verify"), "{}", wrong.reply);
    let reply = say(&agent, &tenant, Some(&second), &format!("CUST-1001 {MAYA}")).await;
    assert!(verified(&reply), "{}", reply.reply);
    // A right pair is not a failure: the number is not nearer its limit for it.
    let stats = agent.verification_stats();
    assert_eq!((stats.failures, stats.lockouts, stats.refused), (1, 0, 0));
    db.cleanup().await;
}

#[tokio::test]
async fn the_replies_are_the_same_for_existing_and_unknown_numbers_locked_or_not() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let known = asked(&agent, &tenant).await;
    let unknown = asked(&agent, &tenant).await;
    for n in 1..=4 {
        let a = say(&agent, &tenant, Some(&known), &format!("CUST-1001 guess{n}@example.com")).await;
        let b = say(&agent, &tenant, Some(&unknown), &format!("CUST-9999 guess{n}@example.com")).await;
        assert_eq!(a.reply, b.reply, "attempt {n}");
        assert_eq!(a.order, b.order);
    }
    let a = say(&agent, &tenant, Some(&known), &format!("CUST-1001 {MAYA}")).await;
    let b = say(&agent, &tenant, Some(&unknown), &format!("CUST-9999 {MAYA}")).await;
    assert!(a.reply.contains(LOCKED), "{}", a.reply);
    assert_eq!(a.reply, b.reply);
    // Locked by number (new sessions): the same again.
    for n in 1..=5 {
        for number in ["CUST-1002", "CUST-8888"] {
            let session = asked(&agent, &tenant).await;
            say(&agent, &tenant, Some(&session), &format!("{number} other{n}@example.com")).await;
        }
    }
    let a = say(&agent, &tenant, Some(&asked(&agent, &tenant).await), "CUST-1002 d.okafor@harborlightroasters.example").await;
    let b = say(&agent, &tenant, Some(&asked(&agent, &tenant).await), "CUST-8888 d.okafor@harborlightroasters.example").await;
    assert!(a.reply.contains(LOCKED), "{}", a.reply);
    assert_eq!(a.reply, b.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn the_customer_number_limit_holds_across_new_sessions() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    for n in 1..=5 {
        let session = asked(&agent, &tenant).await;
        let wrong = say(&agent, &tenant, Some(&session), &format!("my number is cust-1001, email guess{n}@example.com")).await;
        let expected = if n < 5 { "couldn't verify" } else { LOCKED };
        assert!(wrong.reply.contains(expected), "{n}: {}", wrong.reply);
    }
    // A fresh session (no failures of its own) with the right pair: the number is locked.
    let fresh = asked(&agent, &tenant).await;
    let refused = say(&agent, &tenant, Some(&fresh), &format!("CUST-1001 {MAYA}")).await;
    assert!(refused.reply.contains(LOCKED) && refused.order.is_none(), "{}", refused.reply);
    // Naming the number only at the email step, or next to another number, does not help.
    let claimed = asked(&agent, &tenant).await;
    let ask = say(&agent, &tenant, Some(&claimed), "CUST-1001").await;
    assert!(ask.reply.contains(LOCKED), "{}", ask.reply);
    let mixed = asked(&agent, &tenant).await;
    let refused = say(&agent, &tenant, Some(&mixed), &format!("CUST-1001 or CUST-1002? {MAYA}")).await;
    assert!(refused.reply.contains(LOCKED), "{}", refused.reply);
    // Another customer is not locked by it.
    let other = asked(&agent, &tenant).await;
    let reply = say(&agent, &tenant, Some(&other), "CUST-1002 d.okafor@harborlightroasters.example").await;
    assert!(verified(&reply), "{}", reply.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn the_client_limit_holds_across_sessions_and_numbers() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let guesser = || Some(ChatClient::from_ip("203.0.113.9".parse().expect("ip")));
    // Ten numbers, two failures each in sessions of their own: no session or number reaches
    // its limit, the client does.
    let mut last = String::new();
    for n in 0..5 {
        let session = with_chat_client(guesser(), asked(&agent, &tenant)).await;
        for m in 0..2 {
            let message = format!("CUST-{} guess{m}@example.com", 7000 + n);
            last = with_chat_client(guesser(), say(&agent, &tenant, Some(&session), &message)).await.reply;
        }
    }
    assert!(last.contains(LOCKED), "the tenth failure from the client locks it: {last}");
    let session = with_chat_client(guesser(), asked(&agent, &tenant)).await;
    let refused = with_chat_client(guesser(), say(&agent, &tenant, Some(&session), &format!("CUST-1001 {MAYA}"))).await;
    assert!(refused.reply.contains(LOCKED) && refused.order.is_none(), "{}", refused.reply);
    // Another client (and a caller naming no client) still verifies.
    let elsewhere = || Some(ChatClient::from_ip("198.51.100.4".parse().expect("ip")));
    let session = with_chat_client(elsewhere(), asked(&agent, &tenant)).await;
    let reply = with_chat_client(elsewhere(), say(&agent, &tenant, Some(&session), &format!("CUST-1001 {MAYA}"))).await;
    assert!(verified(&reply), "{}", reply.reply);
    db.cleanup().await;
}

#[tokio::test]
async fn concurrent_guesses_on_one_number_compare_no_more_than_the_limit() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut sessions = Vec::new();
    for _ in 0..12 {
        sessions.push(asked(&agent, &tenant).await);
    }
    let guesses: Vec<String> = (0..sessions.len()).map(|n| format!("CUST-1001 burst{n}@example.com")).collect();
    let replies = futures::future::join_all(sessions.iter().zip(&guesses).map(|(s, guess)| say(&agent, &tenant, Some(s), guess))).await;
    let stats = agent.verification_stats();
    assert!(stats.failures <= 5, "at most the number's limit is compared: {stats:?}");
    assert_eq!(stats.failures + stats.refused, 12, "{stats:?}");
    assert!(replies.iter().filter(|r| r.reply.contains(LOCKED)).count() >= 7);
    db.cleanup().await;
}

#[tokio::test]
async fn failures_lockouts_and_refusals_are_counted() {
    let (db, tenant) = seeded().await;
    let agent = Agent::builder(db.store.clone()).build();
    let session = asked(&agent, &tenant).await;
    for n in 1..=3 {
        say(&agent, &tenant, Some(&session), &format!("CUST-1001 guess{n}@example.com")).await;
    }
    say(&agent, &tenant, Some(&session), &format!("CUST-1001 {MAYA}")).await;
    say(&agent, &tenant, Some(&session), "CUST-1001 again@example.com").await;
    let stats = agent.verification_stats();
    assert_eq!((stats.failures, stats.lockouts, stats.refused), (3, 1, 2), "{stats:?}");
    db.cleanup().await;
}
