//! One turn at a time per conversation. Two messages sent at once on one session (a double
//! click, a widget retry, a script) would both read the same history and order draft, and the
//! later save would undo the earlier one — an order line lost, a reply to the wrong question —
//! and the stored history would interleave. Turns on a session wait for the one before them
//! (a queue, not an error: the customer meant both messages).
//!
//! Per process: two server instances behind a load balancer can still race on a session;
//! session affinity, or the draft's own checks, cover that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;
use tria_core::ConversationId;

/// Live locks kept before the map is swept of those no turn holds.
const SWEEP_AT: usize = 1024;

#[derive(Default)]
pub(crate) struct TurnLocks {
    locks: Mutex<Locks>,
}

#[derive(Default)]
struct Locks {
    by_session: HashMap<ConversationId, Weak<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

impl TurnLocks {
    /// Waits for the session's previous turn to finish; the guard holds the session until the
    /// turn is stored.
    pub(crate) async fn acquire(&self, session: ConversationId) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.by_session.len() >= locks.sweep_at.max(SWEEP_AT) {
                locks.by_session.retain(|_, lock| lock.strong_count() > 0);
                locks.sweep_at = locks.by_session.len() * 2;
            }
            match locks.by_session.get(&session).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.by_session.insert(session, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner).by_session.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tria_core::ConversationId;

    use super::{SWEEP_AT, TurnLocks};

    #[tokio::test]
    async fn a_sessions_turns_wait_for_each_other_and_other_sessions_do_not() {
        let locks = TurnLocks::default();
        let (a, b) = (ConversationId::new_random(), ConversationId::new_random());
        let first = locks.acquire(a).await;
        let other = tokio::time::timeout(Duration::from_millis(50), locks.acquire(b)).await;
        assert!(other.is_ok(), "another session is not held up");
        let second = tokio::time::timeout(Duration::from_millis(50), locks.acquire(a)).await;
        assert!(second.is_err(), "the same session waits for its turn");
        drop(first);
        assert!(tokio::time::timeout(Duration::from_millis(50), locks.acquire(a)).await.is_ok());
    }

    #[tokio::test]
    async fn locks_no_turn_holds_are_swept() {
        let locks = TurnLocks::default();
        for _ in 0..(3 * SWEEP_AT) {
            drop(locks.acquire(ConversationId::new_random()).await);
        }
        assert!(locks.tracked() <= SWEEP_AT, "{}", locks.tracked());
    }
}
