//! Single-flight: concurrent callers asking for the same missing value compute it once; the
//! others wait for that result. A failed computation is not shared (negative results are not
//! cached): the next waiter computes again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Deduplicates in-flight computations by key.
pub struct SingleFlight<V> {
    inflight: Mutex<HashMap<String, Arc<OnceCell<V>>>>,
}

impl<V> std::fmt::Debug for SingleFlight<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inflight.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("SingleFlight").field("inflight", &n).finish()
    }
}

impl<V> Default for SingleFlight<V> {
    fn default() -> Self {
        Self { inflight: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> SingleFlight<V> {
    /// Runs `compute` unless a computation for `key` is already under way, in which case its
    /// result is awaited. Returns the value and whether this caller computed it.
    pub async fn run<F, Fut, E>(&self, key: &str, compute: F) -> Result<(V, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = match self.inflight.lock() {
            Ok(mut map) => map.entry(key.to_owned()).or_insert_with(|| Arc::new(OnceCell::new())).clone(),
            // A poisoned map only loses deduplication, never correctness.
            Err(_) => Arc::new(OnceCell::new()),
        };
        let mut computed = false;
        let result = cell
            .get_or_try_init(|| {
                computed = true;
                compute()
            })
            .await
            .cloned();
        if let Ok(mut map) = self.inflight.lock()
            && map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell))
        {
            map.remove(key);
        }
        result.map(|v| (v, computed))
    }

    /// How many keys are being computed right now.
    pub fn in_flight(&self) -> usize {
        self.inflight.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn failures_are_not_shared_and_are_retried() {
        let flight = SingleFlight::<u32>::default();
        let calls = AtomicUsize::new(0);
        let first: Result<(u32, bool), &str> = flight
            .run("k", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                Err("boom")
            })
            .await;
        assert!(first.is_err());
        let second: Result<(u32, bool), &str> = flight.run("k", || async { Ok(7) }).await;
        assert_eq!(second, Ok((7, true)));
        assert_eq!(flight.in_flight(), 0);
    }
}
