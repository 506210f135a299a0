//! Shared setup: a fake Xero and clients pointed at it.

use std::time::Duration;

use tria_integrations::resilience::RetryPolicy;
use tria_integrations::xero::XeroClient;
use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};

pub(crate) async fn fake() -> FakeXero {
    FakeXero::start(FakeXeroConfig::default()).await.expect("start fake Xero")
}

/// Short, jitter-free retries so tests stay quick.
pub(crate) fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        multiplier: 2.0,
        jitter: 0.0,
    }
}

pub(crate) fn client(fake: &FakeXero, retry: RetryPolicy, timeout: Duration) -> XeroClient {
    fake.client(retry, timeout)
}
