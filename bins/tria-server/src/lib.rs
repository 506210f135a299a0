//! Tria's HTTP service. [`router`] builds the whole service from an [`AppState`] so tests can
//! drive it in-process or over a socket; [`serve`] runs it on hyper with graceful shutdown;
//! [`startup::build_state`] turns validated settings into the components.

mod admin;
mod admin_fields;
mod api_schemas;
mod audit;
mod auth;
mod auth_cache;
mod catalogue_upload;
mod chat_admission;
mod console;
mod customer_data;
mod customers;
mod error;
mod health;
/// The helpdesk and Slack hand-off work (`tria_console::helpdesk`), where it always was for callers.
pub use tria_console::helpdesk;
pub mod integrations;
mod json_body;
mod knowledge;
pub mod malloc_tuning;
pub mod metrics;
mod middleware;
mod onboarding_described;
mod openai;
pub mod openapi;
pub mod ops;
mod path_param;
mod routes;
mod secrets;
mod serve;
pub mod settle;
mod shed;
pub mod slack_events;
pub mod startup;
mod state;
mod stream;
pub mod telemetry;
pub mod tenant_integrations;
mod tenant_settings;
mod text_input;
mod usage;
pub mod web;
pub mod xero_connect;

pub use error::ApiError;
pub use health::{ComponentHealth, HealthReport, HealthStatus};
pub use routes::router;
pub use serve::{ConnectionStats, ServeOptions, bind, raise_fd_limit, serve};
pub use state::{AppState, Guards, LimitSettings, ServiceSettings};
