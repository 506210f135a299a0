//! One async lock per key, for work that must not overlap for the same key but may for
//! different ones, kept only while someone holds or waits for it.
//!
//! Used for a conversation's turns: two messages sent at once on one session (a double click,
//! a widget retry, a script) would both read the same history and order draft, and the later
//! save would undo the earlier one — an order line lost, a reply to the wrong question — and
//! the stored history would interleave; turns on a session wait for the one before them (a
//! queue, not an error: the customer meant both messages). Per process: on PostgreSQL,
//! [`crate::turn_locks::PgTurnLocks`] adds an advisory lock after this one so turns on other
//! replicas wait too. Also for a tenant's index loads (tria-agent), so a first burst of chat
//! embeds the corpus once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;

/// Live locks kept before the map is swept of those no turn holds.
const SWEEP_AT: usize = 1024;

pub struct KeyedLocks<K> {
    locks: Mutex<Locks<K>>,
}

struct Locks<K> {
    by_key: HashMap<K, Weak<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self { locks: Mutex::new(Locks { by_key: HashMap::new(), sweep_at: 0 }) }
    }
}

impl<K: Hash + Eq> KeyedLocks<K> {
    /// Waits until no one else holds `key`'s lock; the guard holds it until dropped.
    pub async fn acquire(&self, key: K) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.by_key.len() >= locks.sweep_at.max(SWEEP_AT) {
                locks.by_key.retain(|_, lock| lock.strong_count() > 0);
                locks.sweep_at = locks.by_key.len() * 2;
            }
            match locks.by_key.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.by_key.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner).by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tria_core::ConversationId;

    use super::{KeyedLocks, SWEEP_AT};

    #[tokio::test]
    async fn a_sessions_turns_wait_for_each_other_and_other_sessions_do_not() {
        let locks = KeyedLocks::default();
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
        let locks = KeyedLocks::default();
        for _ in 0..(3 * SWEEP_AT) {
            drop(locks.acquire(ConversationId::new_random()).await);
        }
        assert!(locks.tracked() <= SWEEP_AT, "{}", locks.tracked());
    }
}
