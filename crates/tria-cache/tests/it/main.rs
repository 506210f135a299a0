//! tria-cache against a real Redis (127.0.0.1:6379, or `TRIA_TEST_REDIS_URL`). Every test uses
//! its own key prefix and tenants, so they run in parallel; a missing Redis fails them loudly.

mod basis;
mod components;
mod exact;
mod fallback;
mod invalidation;
mod semantic;
mod single_flight;
mod support;
