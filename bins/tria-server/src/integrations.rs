//! External systems from `[integrations.*]`: the Xero invoice worker behind its circuit breaker
//! (the breaker is a health probe; the worker runs until shutdown), the helpdesk (Gorgias) and
//! Slack for hand-offs. Each is off until configured: without Xero, confirmed orders wait in the
//! outbox and are invoiced once it is turned on. The in-process demo Xero
//! (`integrations.xero.fake = true`) is in builds with feature `demo-fake` (the default) only.
//! With `[integrations.xero_app]` (or the demo fake standing in for it) and the secrets store,
//! each tenant invoices into the organisation it connected (`tria_integrations::xero::tenant`);
//! a tenant that connected none uses the deployment-wide Xero when there is one.

use std::sync::Arc;
use std::time::Duration;

use tria_config::{IntegrationSettings, Settings, XeroSettings, XeroTarget};
use tria_console::Helpdesk;
use tria_integrations::IntegrationProbe;
use tria_integrations::accounting::{Accounting, Guarded};
use tria_integrations::invoicing::{InvoiceWorker, InvoiceWorkerConfig};
use tria_integrations::resilience::{BreakerConfig, CircuitBreaker, RetryPolicy};
use tria_integrations::slack::SlackWebhook;
use tria_integrations::ticketing::{GorgiasClient, GorgiasConfig, Ticketing};
use tria_integrations::xero::tenant::{ClientCredentials, XeroApp, XeroConnector, XeroDirectory};
use tria_integrations::xero::{Grant, OAuthConfig, OAuthTokens, XeroClient, XeroConfig};
use tria_store::Store;

use crate::startup::StartupError;

/// What the integrations settings built.
pub struct Integrations {
    /// For `/health` and `/admin/integrations`.
    pub probes: Vec<Arc<dyn IntegrationProbe>>,
    /// The accounting breaker, for the agent ("the invoice will follow" while it is open).
    pub invoicing: Option<Arc<dyn IntegrationProbe>>,
    pub worker: Option<InvoiceWorker>,
    pub helpdesk: Arc<Helpdesk>,
    /// The in-process fake when `integrations.xero.fake = true` (kept alive with the worker).
    pub fake_xero: Option<DemoXero>,
    /// Tenants' own Xero connections (`[integrations.xero_app]` and secrets on).
    pub xero_tenants: Option<Arc<crate::xero_connect::XeroTenants>>,
}

/// The in-process demo Xero that `integrations.xero.fake = true` starts.
#[cfg(feature = "demo-fake")]
pub type DemoXero = tria_integrations::xero::fake::FakeXero;
/// A build without feature `demo-fake` has no demo Xero: this type has no values.
#[cfg(not(feature = "demo-fake"))]
pub type DemoXero = std::convert::Infallible;

/// Refuses `integrations.xero.fake = true` in a build without the demo fake (a production build,
/// `--no-default-features`), so it stops as bad config (one line naming the key) at start.
pub fn check_settings(settings: &IntegrationSettings) -> Result<(), String> {
    let wants_fake = settings.xero.as_ref().is_some_and(|x| matches!(x.target, XeroTarget::Fake));
    if wants_fake && !cfg!(feature = "demo-fake") {
        return Err("integrations.xero.fake (TRIA_INTEGRATIONS__XERO__FAKE): this build has no demo Xero fake \
                    (cargo feature `demo-fake`, left out of production builds); configure a real Xero instead"
            .to_owned());
    }
    Ok(())
}

#[cfg(feature = "demo-fake")]
async fn demo_xero(x: &XeroSettings, retry: RetryPolicy) -> Result<(XeroClient, Option<DemoXero>), StartupError> {
    use tria_integrations::xero::fake::{FakeXero, FakeXeroConfig};
    let fake = FakeXero::start(FakeXeroConfig::default()).await.map_err(|e| StartupError::Integration(format!("fake Xero: {e}")))?;
    tracing::warn!(url = %fake.base_url(), "invoicing into an in-process FAKE Xero (integrations.xero.fake = true)");
    Ok((fake.client(retry, x.timeout), Some(fake)))
}

#[cfg(not(feature = "demo-fake"))]
async fn demo_xero(_: &XeroSettings, _: RetryPolicy) -> Result<(XeroClient, Option<DemoXero>), StartupError> {
    Err(StartupError::Integration("integrations.xero.fake: this build has no demo Xero fake (cargo feature `demo-fake`)".into()))
}

/// Builds the Xero client for `target` (starting the fake when asked).
async fn xero_client(x: &XeroSettings, http: &reqwest::Client) -> Result<(XeroClient, Option<DemoXero>), StartupError> {
    let retry = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    match &x.target {
        XeroTarget::Fake => demo_xero(x, retry).await,
        XeroTarget::Remote { base_url, token_url, client_id, client_secret, xero_tenant_id } => {
            let tokens = OAuthTokens::new(
                http.clone(),
                OAuthConfig {
                    token_url: token_url.clone(),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    grant: Grant::ClientCredentials { scopes: "accounting.transactions accounting.contacts".into() },
                    refresh_skew: Duration::from_secs(60),
                },
            );
            let mut config = XeroConfig::new(base_url.clone(), xero_tenant_id.clone());
            config.timeout = x.timeout;
            config.retry = retry;
            config.sales_account_code.clone_from(&x.sales_account_code);
            Ok((XeroClient::new(http.clone(), config, Arc::new(tokens)), None))
        }
    }
}

/// The Xero app tenants connect to: `[integrations.xero_app]`, else (dev) the demo fake.
fn xero_app(settings: &Settings, fake: Option<&DemoXero>) -> Option<XeroApp> {
    if let Some(app) = &settings.integrations.xero_app {
        return Some(XeroApp {
            client: ClientCredentials { client_id: app.client_id.clone(), client_secret: app.client_secret.expose().to_owned() },
            authorize_url: app.authorize_url.clone(),
            token_url: app.token_url.clone(),
            revocation_url: app.revocation_url.clone(),
            connections_url: app.connections_url.clone(),
            api_base_url: app.api_base_url.clone(),
            redirect_uri: app.redirect_uri.clone(),
            scopes: app.scopes.clone(),
            sales_account_code: app.sales_account_code.clone(),
            timeout: app.timeout,
        });
    }
    demo_xero_app(settings, fake?)
}

#[cfg(feature = "demo-fake")]
fn demo_xero_app(settings: &Settings, fake: &DemoXero) -> Option<XeroApp> {
    // The browser comes back to this server: an unspecified listen address is this machine.
    let mut callback = settings.listen;
    if callback.ip().is_unspecified() {
        callback.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = settings.integrations.xero.as_ref().map_or(Duration::from_secs(10), |x| x.timeout);
    Some(XeroApp {
        sales_account_code: settings.integrations.xero.as_ref().and_then(|x| x.sales_account_code.clone()),
        ..fake.xero_app(format!("http://{callback}/integrations/xero/callback"), timeout)
    })
}

#[cfg(not(feature = "demo-fake"))]
fn demo_xero_app(_: &Settings, fake: &DemoXero) -> Option<XeroApp> {
    match *fake {}
}

pub async fn build(full: &Settings, store: &Store, secrets: Option<&tria_secrets::SecretStore>) -> Result<Integrations, StartupError> {
    let settings = &full.integrations;
    let http = reqwest::Client::new();
    let slack = settings.slack.webhook_url.as_ref().map(|url| SlackWebhook::new(http.clone(), url.clone()));
    let ticketing: Option<Arc<dyn Ticketing>> = settings.gorgias.as_ref().map(|g| {
        Arc::new(GorgiasClient::new(http.clone(), GorgiasConfig::new(g.base_url.clone(), g.username.clone(), g.api_key.clone())))
            as Arc<dyn Ticketing>
    });
    let helpdesk = Arc::new(Helpdesk::new(store.clone(), ticketing, slack.clone()));
    let mut probes: Vec<Arc<dyn IntegrationProbe>> = Vec::new();
    let (mut worker, mut invoicing, mut fake_xero, mut shared_xero) = (None, None, None, None);
    let mut config = InvoiceWorkerConfig::default();
    if let Some(x) = &settings.xero {
        let (client, fake) = xero_client(x, &http).await?;
        let breaker = Arc::new(CircuitBreaker::new("xero", BreakerConfig::default()));
        let accounting: Arc<dyn Accounting> = Arc::new(Guarded::new(Arc::new(client), breaker.clone()));
        config = InvoiceWorkerConfig { idle_poll: x.poll, max_attempts: x.max_attempts, ..InvoiceWorkerConfig::default() };
        probes.push(breaker.clone());
        invoicing = Some(breaker as Arc<dyn IntegrationProbe>);
        shared_xero = Some(accounting.clone());
        worker = Some(InvoiceWorker::new(store.clone(), accounting, config.clone()));
        fake_xero = fake;
    }
    let mut xero_tenants = None;
    match (xero_app(full, fake_xero.as_ref()), secrets) {
        (Some(app), Some(secrets)) => {
            let mut directory = XeroDirectory::new(app.clone(), http.clone(), store.clone(), secrets.clone());
            if let Some(shared) = shared_xero {
                directory = directory.with_fallback(shared);
            }
            if let Some(slack) = &slack {
                directory = directory.with_slack(slack.clone());
            }
            tracing::info!(redirect_uri = %app.redirect_uri, "tenants connect their own Xero organisations (integrations.xero_app)");
            probes.push(Arc::new(directory.clone()));
            worker = Some(InvoiceWorker::per_tenant(store.clone(), Arc::new(directory.clone()), config));
            let connector = XeroConnector::new(app, http.clone(), store.clone(), secrets.clone());
            xero_tenants = Some(Arc::new(crate::xero_connect::XeroTenants { connector, directory }));
        }
        (Some(_), None) if settings.xero_app.is_some() => {
            return Err(StartupError::Integration(
                "integrations.xero_app stores each tenant's refresh token sealed: set secrets.master_key_file (or TRIA_SECRETS__MASTER_KEY)"
                    .into(),
            ));
        }
        _ => {}
    }
    let worker = worker.map(|w| match slack {
        Some(slack) => w.with_failure_hook(Arc::new(slack)),
        None => w,
    });
    Ok(Integrations { probes, invoicing, worker, helpdesk, fake_xero, xero_tenants })
}

/// Background work that runs until shutdown: the invoice worker.
#[derive(Default)]
pub struct Background {
    stop: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _fake_xero: Option<DemoXero>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background").field("tasks", &self.tasks.len()).finish_non_exhaustive()
    }
}

impl Background {
    /// Spawns the invoice worker (if any) on the runtime.
    pub fn start(worker: Option<InvoiceWorker>, fake_xero: Option<DemoXero>) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = worker
            .map(|worker| {
                tracing::info!("invoice worker started");
                tokio::spawn(async move { worker.run(stopped).await })
            })
            .into_iter()
            .collect();
        Self { stop: Some(stop), tasks, _fake_xero: fake_xero }
    }

    /// Runs another worker until shutdown; it is given the stop signal the others watch.
    pub fn spawn<F, Fut>(&mut self, worker: F)
    where
        F: FnOnce(tokio::sync::watch::Receiver<bool>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(stop) = &self.stop {
            self.tasks.push(tokio::spawn(worker(stop.subscribe())));
        }
    }

    /// Tells the workers to stop after their current job and waits for them (a job cut short
    /// is safe: its lease expires and another worker takes it).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        tracing::info!("background workers stopped");
    }
}
