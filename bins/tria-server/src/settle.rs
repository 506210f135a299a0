//! The resolution job: every minute, conversations idle for half an hour are closed with their
//! resolution (`resolved_verified`, `resolved_assumed` or `abandoned`, see
//! `tria_agent::resolution`). Runs until the process exits.

use std::time::Duration;

use crate::state::AppState;

/// How often idle conversations are looked for.
pub const SETTLE_EVERY: Duration = Duration::from_secs(60);
/// How long a conversation must be quiet before it is settled.
pub const IDLE_AFTER: Duration = Duration::from_secs(30 * 60);

/// Starts the job on the current runtime.
pub fn spawn_settler(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SETTLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if state.is_draining() {
                return;
            }
            if let Err(e) = state.agent().settle_idle_conversations(IDLE_AFTER, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "settling idle conversations failed; retrying on the next tick");
            }
        }
    })
}
