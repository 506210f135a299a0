//! Everything a request handler can reach, shared behind one `Arc`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tria_agent::Agent;
use tria_integrations::IntegrationProbe;
use tria_store::Store;

/// The parts of configuration request handling needs.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// Shown in `/health` for the LLM component.
    pub llm_description: String,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            llm_description: "offline grounded responder".into(),
        }
    }
}

struct Inner {
    store: Store,
    agent: Agent,
    integrations: Vec<Arc<dyn IntegrationProbe>>,
    settings: ServiceSettings,
    started_at: Instant,
    draining: AtomicBool,
}

/// Cheap to clone; every clone shares the same components.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        store: Store,
        agent: Agent,
            integrations: Vec<Arc<dyn IntegrationProbe>>,
        settings: ServiceSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                agent,
                integrations,
                settings,
                started_at: Instant::now(),
                draining: AtomicBool::new(false),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn agent(&self) -> &Agent {
        &self.inner.agent
    }
    pub fn integrations(&self) -> &[Arc<dyn IntegrationProbe>] {
        &self.inner.integrations
    }
    pub fn settings(&self) -> &ServiceSettings {
        &self.inner.settings
    }
    pub fn uptime(&self) -> Duration {
        self.inner.started_at.elapsed()
    }

    /// Marks the service as shutting down: readiness fails so load balancers stop sending.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }
}
