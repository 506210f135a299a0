//! Keeps a claimed job's lease alive while its worker runs it. A lease only says "the worker is
//! alive": a job that runs longer than one lease between progress points (a long validation
//! pass, a swap waiting for SQLite's writer, the reload after publishing) must not look dead to
//! the other replicas, or one of them claims it and the job runs twice. [`JobHeartbeat`] renews
//! the lease every third of its length until dropped; a renewal that finds the lease gone (it
//! ran out while this process stalled and another worker claimed the job) is remembered, so
//! the worker can stop before writing anything more.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::Store;
use crate::records::Job;
use crate::repo::LeaseOutcome;

/// Renewals happen at most this often, however short the lease (tests use leases of a few
/// hundred milliseconds).
const MIN_RENEW_EVERY: Duration = Duration::from_millis(20);

/// Renews a claimed job's lease in the background until dropped.
#[derive(Debug)]
pub struct JobHeartbeat {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl JobHeartbeat {
    /// Starts renewing `held` (as claimed, with its owner token) for `lease` every `lease / 3`.
    /// The first renewal comes after one period: the claim itself has just set the lease.
    pub fn start(store: &Store, held: &Job, lease: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let every = (lease / 3).max(MIN_RENEW_EVERY);
        let (store, held, flag) = (store.clone(), held.clone(), lost.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match store.jobs().renew(&held, lease).await {
                    Ok(LeaseOutcome::Applied) => {}
                    Ok(LeaseOutcome::LeaseLost) => {
                        tracing::warn!(job = %held.id, "job lease lost: another worker claimed it");
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    // A database hiccup: try again next period (the lease has two more periods).
                    Err(e) => tracing::warn!(job = %held.id, error = %e, "renewing a job lease failed"),
                }
            }
        });
        Self { lost, task }
    }

    /// Whether a renewal found the job claimed by another worker.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing (as dropping it does); call it before writing the job's end.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for JobHeartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
