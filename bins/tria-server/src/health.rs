//! `/health`, `/health/live`, `/health/ready`. Each component is checked in its own task with a
//! deadline, so a check that errors, hangs or panics reports `down` instead of failing the
//! endpoint. The overall status is the worst of the required components.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use tria_agent::EmbedderStatus;
use tria_cache::CacheHealth;
use tria_integrations::{IntegrationProbe, IntegrationState};

use crate::state::AppState;

const CHECK_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Degraded,
    Down,
}

#[derive(Clone, Debug, Serialize)]
pub struct ComponentHealth {
    pub name: String,
    pub status: HealthStatus,
    pub latency_ms: u64,
    pub detail: String,
    /// Whether this component being down makes the service unhealthy.
    pub required: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub version: &'static str,
    pub uptime_s: u64,
    pub components: Vec<ComponentHealth>,
}

impl HealthReport {
    /// The worst status among required components; an optional component can only degrade.
    fn overall(components: &[ComponentHealth]) -> HealthStatus {
        components.iter().fold(HealthStatus::Ok, |worst, c| {
            let effective = if c.required { c.status } else { c.status.min(HealthStatus::Degraded) };
            worst.max(effective)
        })
    }
}

/// Runs `check` in its own task with a deadline; errors, timeouts and panics become `down`.
async fn checked<F>(name: &str, required: bool, check: F) -> ComponentHealth
where
    F: Future<Output = (HealthStatus, String)> + Send + 'static,
{
    let started = Instant::now();
    let (status, detail) = match tokio::time::timeout(CHECK_DEADLINE, tokio::spawn(check)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => (HealthStatus::Down, format!("health check failed: {join}")),
        Err(_) => (HealthStatus::Down, format!("no answer within {} ms", CHECK_DEADLINE.as_millis())),
    };
    ComponentHealth {
        name: name.to_owned(),
        status,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        detail,
        required,
    }
}

pub(crate) async fn report(state: &AppState) -> HealthReport {
    let store = state.store().clone();
    let database = checked("database", true, async move {
        match store.ping().await {
            Ok(_) => (HealthStatus::Ok, format!("{:?}", store.backend()).to_lowercase()),
            // /health is unauthenticated: the driver's words (database names, hosts, SQL
            // states) go to the log, the report says what an operator needs to know.
            Err(err) => {
                tracing::warn!(error = %err, "database health check failed");
                let backend = format!("{:?}", store.backend()).to_lowercase();
                (HealthStatus::Down, format!("{backend} unreachable (the server log has the driver's error)"))
            }
        }
    });
    let answer_cache = state.agent().answer_cache().clone();
    let cache = checked("cache", true, async move {
        match answer_cache.health().await {
            CacheHealth::Ok => (HealthStatus::Ok, answer_cache.backend().name().to_owned()),
            CacheHealth::Degraded(why) => (HealthStatus::Degraded, why),
            CacheHealth::Down(why) => (HealthStatus::Down, why),
        }
    });
    let (database, cache) = tokio::join!(database, cache);
    let mut components = vec![database, cache];
    let settings = state.settings();
    let (embedding_status, embedding_detail) = match state.agent().embedder_status() {
        EmbedderStatus::Ready { model_id, dimension } => {
            (HealthStatus::Ok, format!("{model_id} ({dimension}d): hybrid retrieval and model-backed intents"))
        }
        EmbedderStatus::Unavailable { reason } if settings.embedding_required => {
            (HealthStatus::Down, format!("{reason}; `embedding.required` is set, so this replica is not ready"))
        }
        EmbedderStatus::Unavailable { reason } => (HealthStatus::Down, format!("{reason}; serving with BM25 retrieval and rule intents")),
    };
    components.push(ComponentHealth {
        name: "embedding".into(),
        status: embedding_status,
        latency_ms: 0,
        detail: embedding_detail,
        required: settings.embedding_required,
    });
    // The providers' breakers and 429 hold-offs: degraded (with why) while turns fall back.
    let llm = state.agent().llm_guard().status();
    components.push(ComponentHealth {
        name: "llm".into(),
        status: match llm.state {
            IntegrationState::Ok => HealthStatus::Ok,
            IntegrationState::Degraded | IntegrationState::Down => HealthStatus::Degraded,
        },
        latency_ms: 0,
        detail: match llm.state {
            IntegrationState::Ok => settings.llm_description.clone(),
            _ => format!("{}: the grounded responder answers; {}", settings.llm_description, llm.detail),
        },
        required: false,
    });
    for status in state.integrations().iter().flat_map(|probe| probe.statuses()) {
        components.push(ComponentHealth {
            name: status.name,
            status: match status.state {
                IntegrationState::Ok => HealthStatus::Ok,
                IntegrationState::Degraded => HealthStatus::Degraded,
                IntegrationState::Down => HealthStatus::Down,
            },
            latency_ms: 0,
            detail: status.detail,
            required: false,
        });
    }
    HealthReport {
        status: HealthReport::overall(&components),
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.uptime().as_secs(),
        components,
    }
}

fn respond(report: HealthReport) -> Response {
    let status = if report.status == HealthStatus::Down { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(report)).into_response()
}

pub(crate) async fn health(State(state): State<AppState>) -> Response {
    respond(report(&state).await)
}

/// Ready to take traffic: healthy and not draining.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let mut report = report(&state).await;
    if state.is_draining() {
        report.status = HealthStatus::Down;
        report.components.push(ComponentHealth {
            name: "server".into(),
            status: HealthStatus::Down,
            latency_ms: 0,
            detail: "shutting down".into(),
            required: true,
        });
    }
    respond(report)
}

/// The process is up and answering; nothing else is checked.
pub(crate) async fn live() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(status: HealthStatus, required: bool) -> ComponentHealth {
        ComponentHealth { name: "x".into(), status, latency_ms: 0, detail: String::new(), required }
    }

    #[test]
    fn a_down_is_never_overwritten_by_a_later_ok() {
        let all = [component(HealthStatus::Down, true), component(HealthStatus::Ok, true), component(HealthStatus::Degraded, true)];
        assert_eq!(HealthReport::overall(&all), HealthStatus::Down);
    }

    #[test]
    fn optional_components_only_degrade() {
        let all = [component(HealthStatus::Ok, true), component(HealthStatus::Down, false)];
        assert_eq!(HealthReport::overall(&all), HealthStatus::Degraded);
        assert_eq!(HealthReport::overall(&[]), HealthStatus::Ok);
    }

    #[tokio::test]
    async fn a_panicking_check_reports_down() {
        let c = checked("boom", true, async { panic!("check exploded") }).await;
        assert_eq!(c.status, HealthStatus::Down);
        assert!(c.detail.contains("health check failed"));
    }
}
