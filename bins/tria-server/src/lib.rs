//! Tria's HTTP service. [`router`] builds the whole service from an [`AppState`] so tests can
//! drive it in-process or over a socket; [`serve`] runs it on hyper with graceful shutdown;
//! [`startup::build_state`] turns validated settings into the components.

mod admin;
mod auth;
mod customers;
mod error;
mod health;
pub mod helpdesk;
pub mod integrations;
mod json_body;
pub mod metrics;
mod middleware;
mod openai;
pub mod openapi;
pub mod ratelimit;
mod routes;
mod serve;
pub mod shed;
pub mod slack_events;
pub mod startup;
mod state;
mod stream;
pub mod telemetry;

pub use error::ApiError;
pub use health::{ComponentHealth, HealthReport, HealthStatus};
pub use routes::router;
pub use serve::{ServeOptions, serve};
pub use state::{AppState, LimitSettings, ServiceSettings};
