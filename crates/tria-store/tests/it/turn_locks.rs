//! Turn locks across replicas on PostgreSQL (each "replica" its own pool and its own
//! `Store::turn_locks`): a conversation held on one makes the other wait, and only up to the
//! bound; a replica out of lock connections refuses rather than queues; a holder whose
//! connection dies releases the lock. SQLite's in-process lock serialises within one process.

use std::time::Duration;

use tria_core::{ConversationId, TenantId};
use tria_store::{TurnLockError, TurnLockOptions};

fn options(connections: u32, wait_ms: u64) -> TurnLockOptions {
    TurnLockOptions { connections, wait: Duration::from_millis(wait_ms) }
}

#[tokio::test]
async fn a_conversation_held_on_one_replica_waits_on_the_other_until_released_and_only_up_to_the_bound() {
    let Some(db) = tria_testkit::postgres().await else { return };
    let other = db.connect_again().await;
    let (one, two) = (db.store.turn_locks(options(4, 300)), other.turn_locks(options(4, 300)));
    assert_eq!((one.scope(), two.scope()), ("postgres", "postgres"));
    let (tenant, conversation) = (TenantId::new_random(), ConversationId::new_random());

    let held = one.acquire(tenant, conversation).await.expect("first replica takes it");
    let refused = two.acquire(tenant, conversation).await.expect_err("the other replica waits, then gives up");
    assert!(matches!(refused, TurnLockError::Busy(_)), "{refused:?}");
    assert!(refused.to_string().starts_with("conversation busy"), "{refused}");
    // Another conversation, and the same conversation id under another tenant, are not held up.
    drop(two.acquire(tenant, ConversationId::new_random()).await.expect("another conversation"));
    drop(two.acquire(TenantId::new_random(), conversation).await.expect("another tenant's key"));

    let waiting = tokio::spawn({
        let two = two.clone();
        async move { two.acquire(tenant, conversation).await.map(drop) }
    });
    drop(held);
    waiting.await.expect("join").expect("released on one, taken on the other");
    other.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_replica_out_of_lock_connections_refuses_as_busy_instead_of_queueing_without_end() {
    let Some(db) = tria_testkit::postgres().await else { return };
    let locks = db.store.turn_locks(options(1, 200));
    let tenant = TenantId::new_random();
    let held = locks.acquire(tenant, ConversationId::new_random()).await.expect("the one connection");
    let refused = locks.acquire(tenant, ConversationId::new_random()).await.expect_err("no connection left");
    assert!(matches!(&refused, TurnLockError::Busy(m) if m.contains("turn-lock connection")), "{refused:?}");
    drop(held);
    // The connection goes back to the pool once its transaction is rolled back.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(guard) = locks.acquire(tenant, ConversationId::new_random()).await {
            again = Some(guard);
            break;
        }
    }
    assert!(again.is_some(), "the connection came back");
    db.cleanup().await;
}

#[tokio::test]
async fn a_holder_whose_connection_dies_releases_the_conversation() {
    let Some(db) = tria_testkit::postgres().await else { return };
    let other = db.connect_again().await;
    let (one, two) = (db.store.turn_locks(options(2, 300)), other.turn_locks(options(2, 5_000)));
    let (tenant, conversation) = (TenantId::new_random(), ConversationId::new_random());
    let held = one.acquire(tenant, conversation).await.expect("held");
    // What a replica killed mid-turn leaves: its backends end, so does the transaction.
    assert!(db.terminate_connections().await >= 1);
    drop(two.acquire(tenant, conversation).await.expect("released by the server, not by the holder"));
    drop(held);
    other.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_sqlite_turns_wait_for_each_other_within_the_process() {
    let db = tria_testkit::sqlite().await;
    let locks = db.store.turn_locks(options(1, 50));
    assert_eq!(locks.scope(), "process");
    let (tenant, conversation) = (TenantId::new_random(), ConversationId::new_random());
    let held = locks.acquire(tenant, conversation).await.expect("held");
    let second = tokio::time::timeout(Duration::from_millis(50), locks.acquire(tenant, conversation)).await;
    assert!(second.is_err(), "the same conversation waits");
    drop(held);
    drop(locks.acquire(tenant, conversation).await.expect("free again"));
    db.cleanup().await;
}
