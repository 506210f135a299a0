//! Shared setup: a fake Xero and clients pointed at it.

use std::sync::Arc;
use std::time::Duration;

use tria_integrations::resilience::RetryPolicy;
use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};
use tria_integrations::xero::{Grant, OAuthConfig, OAuthTokens, XeroClient, XeroConfig};

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
    let http = reqwest::Client::new();
    let tokens = OAuthTokens::new(
        http.clone(),
        OAuthConfig {
            token_url: fake.token_url(),
            client_id: fake.config().client_id.clone(),
            client_secret: fake.config().client_secret.clone(),
            grant: Grant::ClientCredentials { scopes: "accounting.transactions accounting.contacts".into() },
            refresh_skew: Duration::from_secs(60),
        },
    );
    let mut config = XeroConfig::new(fake.base_url(), fake.config().xero_tenant_id.clone());
    config.retry = retry;
    config.timeout = timeout;
    config.sales_account_code = Some("200".into());
    XeroClient::new(http, config, Arc::new(tokens))
}
