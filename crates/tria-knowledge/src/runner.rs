//! The job runner: claims knowledge jobs with a lease and runs them, on every replica. A job
//! runs on one replica at a time (the claim is atomic); a replica that dies mid-job leaves a
//! lease that expires, and the job is claimed again and redone from the start (staging
//! replaces what the dead attempt staged; nothing served changes until the publish commits).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tria_core::TenantId;
use tria_store::job_lease::JobHeartbeat;
use tria_store::records::Job;

use crate::{INDEX_DOCUMENT_JOB, Knowledge, KnowledgeError};

/// How long a claim holds before another replica may take the job over, by default
/// ([`Knowledge::with_job_lease`] sets another).
pub const LEASE: Duration = Duration::from_secs(120);

/// Attempts before a job that keeps failing (or killing its worker) is marked failed.
const MAX_ATTEMPTS: i32 = 3;

/// Told after a tenant's serving knowledge changed on this replica, so it reloads the tenant's
/// index and retires its cached answers (the server passes the agent).
#[async_trait::async_trait]
pub trait KnowledgeChanged: Send + Sync {
    async fn knowledge_changed(&self, tenant: TenantId);
}

/// Runs knowledge jobs until stopped.
pub struct JobRunner {
    knowledge: Knowledge,
    changed: Arc<dyn KnowledgeChanged>,
    poll: Duration,
}

impl JobRunner {
    pub fn new(knowledge: Knowledge, changed: Arc<dyn KnowledgeChanged>, poll: Duration) -> Self {
        Self { knowledge, changed, poll }
    }

    /// Claims and runs jobs, waiting `poll` when there is none, until `stop` turns true.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let ran = match run_next(&self.knowledge, self.changed.as_ref()).await {
                Ok(ran) => ran.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a knowledge job failed");
                    false
                }
            };
            if !ran {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Claims one due knowledge job and runs it to the end; `None` when none was due. The HTTP
/// handler calls this right after enqueueing, so an upload starts at once on the replica that
/// took it; the runner's poll picks up what is left (after a restart, or another replica's).
pub async fn run_next(knowledge: &Knowledge, changed: &dyn KnowledgeChanged) -> Result<Option<Job>, KnowledgeError> {
    let Some(job) = knowledge.store.jobs().claim(&[INDEX_DOCUMENT_JOB], knowledge.lease(), Utc::now()).await? else {
        return Ok(None);
    };
    let tenant = TenantId(job.tenant_id);
    if job.attempts > MAX_ATTEMPTS {
        let errors = serde_json::json!([{"code": "gave_up", "message": format!("gave up after {MAX_ATTEMPTS} attempts")}]);
        knowledge.store.jobs().fail(&job, errors).await?;
        return Ok(Some(job));
    }
    let started = std::time::Instant::now();
    // Renewed until the job reads finished: reading a 200-page PDF, staging its chunks behind
    // SQLite's writer and the reload after publishing record no progress, and together they can
    // outlast a lease; without renewals another replica would claim the job and index it again.
    let heartbeat = JobHeartbeat::start(&knowledge.store, &job, knowledge.lease());
    let outcome = knowledge.index_document(&job, &heartbeat).await;
    if outcome.is_ok() {
        // Reload before the job reads `succeeded`: whoever waits for it then gets the new answers.
        changed.knowledge_changed(tenant).await;
    }
    // Stopped before the job's end is written: a renewal after it would find no lease.
    heartbeat.stop();
    match outcome {
        Ok(version) => {
            knowledge.store.jobs().succeed(&job).await?;
            tracing::info!(job = %job.id, %tenant, version, elapsed_ms = started.elapsed().as_millis() as u64, "document indexed");
        }
        Err(e) if e.is_transient() => {
            // The lease runs out and the job is claimed again.
            tracing::warn!(job = %job.id, error = %e, "knowledge job interrupted; it will be retried");
        }
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "knowledge job failed");
            knowledge.store.jobs().fail(&job, serde_json::json!([{"code": e.code(), "message": e.to_string()}])).await?;
        }
    }
    Ok(Some(job))
}
