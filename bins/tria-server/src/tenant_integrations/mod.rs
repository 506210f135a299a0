//! Each tenant's own helpdesk (Gorgias), Slack and LLM, from its settings (`gorgias.*`,
//! `slack.*`, `llm.*`) and its sealed secrets (`gorgias_api_key`, `slack_webhook_url`,
//! `slack_signing_secret`, `llm_api_key`, `llm_failover_{1,2}_api_key`); a tenant without its
//! own uses the deployment's. A tenant's LLM is any provider `tria_llm::build` speaks (OpenAI-
//! compatible, Anthropic, Azure), followed by its failover list, each a [`LlmRoute`] of its own.
//! [`TenantIntegrations`] is the helpdesk's [`HelpdeskDirectory`] and the agent's
//! [`LlmDirectory`], so neither sees a key.
//!
//! Clients are built on first use and kept per tenant. A kept client is reused while the
//! tenant's settings are unchanged and for at most [`RECHECK`]; then its secrets are read again
//! and the client is rebuilt only if they changed (other replicas' secret changes show within
//! that time; this replica's at once, as the secrets API calls [`TenantIntegrations::forget`]).

pub(crate) mod plan;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tria_agent::{LlmDirectory, LlmGuard, LlmRoute};
use tria_console::{HelpdeskDirectory, HelpdeskTargets};
use tria_core::{TenantContext, TenantId};
use tria_integrations::slack::SlackWebhook;
use tria_integrations::ticketing::{GorgiasClient, GorgiasConfig, Ticketing};
use tria_integrations::{IntegrationProbe, IntegrationState, IntegrationStatus};
use tria_llm::LlmClient;
use tria_secrets::{SecretName, SecretStore, SecretValue, SecretsError};

use plan::{DeploymentOffer, FAILOVER_KEYS, KeyFrom, LlmEndpointPlan, OfferedLlm, OwnSecrets, Source};

/// How long a tenant's clients are used before its secrets are read again.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Wraps each LLM client built (the server's: metrics and the tenant's spend budget).
pub type LlmWrapper = Arc<dyn Fn(Arc<dyn LlmClient>) -> Arc<dyn LlmClient> + Send + Sync>;

/// One provider of the deployment's `[llm]` (unless it is offline).
pub struct DeploymentLlm {
    /// Already wrapped.
    pub client: Arc<dyn LlmClient>,
    pub provider: tria_llm::Provider,
    pub base_url: String,
    pub model: String,
    /// Sent only to `base_url`.
    pub api_key: Option<String>,
    /// `[[llm.failover]]`, in order (their own `failover` empty).
    pub failover: Vec<DeploymentLlm>,
}

/// What tenants without their own fall back to, and how tenants' own clients are made.
pub struct Deployment {
    pub helpdesk: HelpdeskTargets,
    pub slack_signing_secret: bool,
    pub llm: Option<DeploymentLlm>,
    pub llm_timeout: Duration,
    pub wrap_llm: LlmWrapper,
    pub llm_headers: Option<tria_llm::HeaderSource>,
}

/// One tenant's kept client and how it was made.
struct Kept<T> {
    /// Hash of the tenant's settings group the client depends on.
    settings: u64,
    /// Hash of those settings and the secret values: equal inputs, same client.
    inputs: u64,
    checked: Instant,
    value: T,
    source: Source,
}

type KeptMap<T> = Mutex<HashMap<TenantId, Kept<T>>>;

fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

fn settings_hash(tenant: &TenantContext, group: &str) -> u64 {
    hash_of(&[&tenant.settings.get(group).map(Value::to_string).unwrap_or_default()])
}

/// The tenants' helpdesks, Slack and LLMs.
pub struct TenantIntegrations {
    secrets: Option<SecretStore>,
    http: reqwest::Client,
    deployment: Deployment,
    offer: DeploymentOffer,
    helpdesks: KeptMap<HelpdeskTargets>,
    llms: KeptMap<Vec<LlmRoute>>,
    /// The deployment's providers in failover order, for tenants without their own.
    deployment_routes: Vec<LlmRoute>,
    /// The agent's breakers, for `/admin/integrations` (set once the agent is built).
    llm_guard: std::sync::OnceLock<Arc<LlmGuard>>,
    /// Tenants whose secrets could not be read at their last use (slug → why).
    unreadable: Mutex<HashMap<TenantId, (String, String)>>,
    unrouted_slack_events: AtomicU64,
}

impl std::fmt::Debug for TenantIntegrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantIntegrations").field("offer", &self.offer).finish_non_exhaustive()
    }
}

impl TenantIntegrations {
    pub fn new(secrets: Option<SecretStore>, deployment: Deployment) -> Self {
        let offer = DeploymentOffer {
            gorgias: deployment.helpdesk.ticketing.is_some(),
            slack_webhook: deployment.helpdesk.slack.is_some(),
            slack_signing_secret: deployment.slack_signing_secret,
            llm: deployment.llm.as_ref().map(offered),
            llm_failover: deployment.llm.as_ref().map(|l| l.failover.iter().map(offered).collect()).unwrap_or_default(),
        };
        let deployment_routes =
            deployment.llm.iter().flat_map(|l| std::iter::once(l).chain(&l.failover)).map(|l| LlmRoute::new(l.client.clone())).collect();
        Self {
            secrets,
            http: reqwest::Client::new(),
            deployment,
            offer,
            helpdesks: Mutex::default(),
            llms: Mutex::default(),
            deployment_routes,
            llm_guard: std::sync::OnceLock::new(),
            unreadable: Mutex::default(),
            unrouted_slack_events: AtomicU64::new(0),
        }
    }

    /// The agent's LLM guard, whose breakers `/admin/integrations` shows with each tenant's
    /// providers (the agent is built after this; the first call wins).
    pub fn set_llm_guard(&self, guard: Arc<LlmGuard>) {
        let _ = self.llm_guard.set(guard);
    }

    /// Drops what was built for `tenant` (its secrets changed); the next use builds afresh.
    pub fn forget(&self, tenant: TenantId) {
        lock(&self.helpdesks).remove(&tenant);
        lock(&self.llms).remove(&tenant);
    }

    /// Counts a signed Slack event from a workspace no tenant names.
    pub(crate) fn slack_event_unrouted(&self) {
        self.unrouted_slack_events.fetch_add(1, Ordering::Relaxed);
    }

    /// The tenant's own Slack signing secret, if it has one.
    pub(crate) async fn slack_signing_secret(&self, tenant: TenantId) -> Result<Option<SecretValue>, SecretsError> {
        match &self.secrets {
            Some(secrets) => secrets.get(tenant, SecretName::SlackSigningSecret).await,
            None => Ok(None),
        }
    }

    /// Reads `names` of `tenant`'s secrets; a failure is remembered for `/admin/integrations`
    /// and the tenant is treated as having none of them (nothing is kept, so the next use
    /// reads again).
    async fn read(&self, tenant: &TenantContext, names: &[SecretName]) -> Result<Vec<Option<SecretValue>>, ()> {
        let Some(secrets) = &self.secrets else { return Ok(vec![None; names.len()]) };
        let mut values = Vec::with_capacity(names.len());
        for name in names {
            match secrets.get(tenant.id, *name).await {
                Ok(value) => values.push(value),
                Err(err) => {
                    // The error names the key id or the store's failure, never a value.
                    tracing::warn!(tenant = %tenant.slug, secret = %name, error = %err, "tenant secret unreadable; using what needs no secret");
                    lock(&self.unreadable).insert(tenant.id, (tenant.slug.clone(), format!("secret {name} unreadable: {err}")));
                    return Err(());
                }
            }
        }
        lock(&self.unreadable).remove(&tenant.id);
        Ok(values)
    }

    /// The kept value when its settings are unchanged and it was checked within [`RECHECK`].
    fn fresh<T: Clone>(map: &KeptMap<T>, tenant: TenantId, settings: u64) -> Option<T> {
        let kept = lock(map);
        kept.get(&tenant).filter(|k| k.settings == settings && k.checked.elapsed() < RECHECK).map(|k| k.value.clone())
    }

    /// The kept value when it was built from `inputs` (re-checked now), else `build()` kept.
    fn keep<T: Clone>(map: &KeptMap<T>, tenant: TenantId, settings: u64, inputs: u64, build: impl FnOnce() -> (T, Source)) -> T {
        if let Some(kept) = lock(map).get_mut(&tenant).filter(|k| k.inputs == inputs) {
            kept.checked = Instant::now();
            kept.settings = settings;
            return kept.value.clone();
        }
        let (value, source) = build();
        lock(map).insert(tenant, Kept { settings, inputs, checked: Instant::now(), value: value.clone(), source });
        value
    }

    async fn helpdesk_for(&self, tenant: &TenantContext) -> HelpdeskTargets {
        let settings = settings_hash(tenant, "gorgias");
        if let Some(targets) = Self::fresh(&self.helpdesks, tenant.id, settings) {
            return targets;
        }
        let Ok(values) = self.read(tenant, &[SecretName::GorgiasApiKey, SecretName::SlackWebhookUrl]).await else {
            let plan = plan::helpdesk(&tenant.settings, OwnSecrets::default(), &self.offer);
            let ticketing = (plan.source == Source::Deployment).then(|| self.deployment.helpdesk.ticketing.clone()).flatten();
            return HelpdeskTargets { ticketing, slack: self.deployment.helpdesk.slack.clone() };
        };
        let [api_key, webhook] = [&values[0], &values[1]];
        let own = OwnSecrets { gorgias_api_key: api_key.is_some(), slack_webhook_url: webhook.is_some(), ..OwnSecrets::default() };
        let expose = |v: &Option<SecretValue>| v.as_ref().map(SecretValue::expose).unwrap_or_default().to_owned();
        let inputs = hash_of(&[&settings.to_string(), &expose(api_key), "\u{0}", &expose(webhook)]);
        Self::keep(&self.helpdesks, tenant.id, settings, inputs, || {
            let plan = plan::helpdesk(&tenant.settings, own, &self.offer);
            let ticketing: Option<Arc<dyn Ticketing>> = match (&plan.source, &plan.base_url, &plan.username, api_key) {
                (Source::Own, Some(url), Some(user), Some(key)) => {
                    Some(Arc::new(GorgiasClient::new(self.http.clone(), GorgiasConfig::new(url, user, key.expose()))))
                }
                (Source::Deployment, ..) => self.deployment.helpdesk.ticketing.clone(),
                _ => None,
            };
            let slack = match webhook {
                Some(url) => Some(SlackWebhook::new(self.http.clone(), url.expose())),
                None => self.deployment.helpdesk.slack.clone(),
            };
            tracing::info!(tenant = %tenant.slug, helpdesk = ?plan.source, own_slack = webhook.is_some(), "tenant helpdesk built");
            (HelpdeskTargets { ticketing, slack }, plan.source)
        })
    }

    /// The tenant's LLMs in failover order (empty: the offline responder).
    async fn llm_for(&self, tenant: &TenantContext) -> Vec<LlmRoute> {
        let settings = settings_hash(tenant, "llm");
        if let Some(routes) = Self::fresh(&self.llms, tenant.id, settings) {
            return routes;
        }
        let names = [SecretName::LlmApiKey, FAILOVER_KEYS[0], FAILOVER_KEYS[1]];
        let Ok(values) = self.read(tenant, &names).await else {
            // A tenant's own provider without its key is not used; nor is anyone else's.
            return Vec::new();
        };
        let own = OwnSecrets {
            llm_api_key: values[0].is_some(),
            llm_failover_api_keys: [values[1].is_some(), values[2].is_some()],
            ..OwnSecrets::default()
        };
        let expose = |v: &Option<SecretValue>| v.as_ref().map(SecretValue::expose).unwrap_or_default().to_owned();
        let inputs = hash_of(&[&settings.to_string(), &expose(&values[0]), "\u{0}", &expose(&values[1]), "\u{0}", &expose(&values[2])]);
        Self::keep(&self.llms, tenant.id, settings, inputs, || {
            let plan = plan::llm(&tenant.settings, own, &self.offer);
            let routes = match plan.source {
                Source::Deployment => self.deployment_routes.clone(),
                Source::Own => std::iter::once(&plan.primary)
                    .chain(&plan.failover)
                    .filter_map(|endpoint| {
                        let secret = endpoint.api_key_secret.and_then(|name| names.iter().position(|n| *n == name));
                        let api_key = match endpoint.api_key {
                            KeyFrom::Own => secret.and_then(|i| values[i].as_ref()).map(|k| k.expose().to_owned()),
                            KeyFrom::Deployment => self.deployment.llm.as_ref().and_then(|l| l.api_key.clone()),
                            KeyFrom::None => None,
                        };
                        self.own_llm(tenant, endpoint, api_key)
                    })
                    .collect(),
                _ => {
                    tracing::warn!(tenant = %tenant.slug, missing = ?plan.primary.missing, "tenant LLM incomplete; the offline responder answers");
                    Vec::new()
                }
            };
            (routes, plan.source)
        })
    }

    /// One of the tenant's own providers, wrapped and keyed to the tenant; `None` (logged) when
    /// the plan says something is missing or the client cannot be built.
    fn own_llm(&self, tenant: &TenantContext, endpoint: &LlmEndpointPlan, api_key: Option<String>) -> Option<LlmRoute> {
        let (Some(provider), Some(url), Some(model), true) =
            (endpoint.provider, &endpoint.base_url, &endpoint.model, endpoint.missing.is_empty())
        else {
            tracing::warn!(tenant = %tenant.slug, missing = ?endpoint.missing, "tenant LLM provider incomplete; left out");
            return None;
        };
        let mut config = tria_llm::ProviderConfig::new(provider, url.clone(), model.clone());
        config.api_key = api_key;
        config.deployment.clone_from(&endpoint.deployment);
        config.api_version.clone_from(&endpoint.api_version);
        config.http.timeout = self.deployment.llm_timeout;
        config.http.header_source.clone_from(&self.deployment.llm_headers);
        match tria_llm::build(config) {
            Ok(client) => {
                tracing::info!(tenant = %tenant.slug, %provider, base_url = %url, %model, "tenant LLM built");
                Some(LlmRoute::scoped(&tenant.slug, (self.deployment.wrap_llm)(client)))
            }
            Err(err) => {
                tracing::warn!(tenant = %tenant.slug, %provider, error = %err, "tenant LLM could not be built; left out");
                None
            }
        }
    }

    /// Every tenant's integrations as configured (names of secrets, never values), for
    /// `/admin/integrations`.
    /// Each LLM provider of a tenant carries its breaker's state (`not_called` before its first
    /// call) once [`TenantIntegrations::set_llm_guard`] has been given the agent's guard.
    pub(crate) async fn describe(&self, store: &tria_store::Store) -> Result<Value, crate::ApiError> {
        let guard = self.llm_guard.get().map(Arc::as_ref);
        let tenants = store.tenants().list().await?;
        let unreadable = lock(&self.unreadable).clone();
        let mut rows = Vec::with_capacity(tenants.len());
        for tenant in &tenants {
            let names: Vec<String> = match &self.secrets {
                Some(secrets) => secrets.list(tenant.id).await?.into_iter().map(|h| h.name).collect(),
                None => Vec::new(),
            };
            let has = |name: SecretName| names.iter().any(|n| n == name.as_str());
            let own = OwnSecrets {
                gorgias_api_key: has(SecretName::GorgiasApiKey),
                slack_webhook_url: has(SecretName::SlackWebhookUrl),
                slack_signing_secret: has(SecretName::SlackSigningSecret),
                llm_api_key: has(SecretName::LlmApiKey),
                llm_failover_api_keys: FAILOVER_KEYS.map(has),
            };
            let llm = plan::llm(&tenant.settings, own, &self.offer);
            let mut row = json!({
                "tenant": tenant.slug,
                "helpdesk": plan::helpdesk(&tenant.settings, own, &self.offer),
                "slack": plan::slack(&tenant.settings, own, &self.offer),
                "llm": llm,
            });
            row["llm"]["breaker"] = breaker_state(guard, llm.primary.breaker_key(llm.source, &tenant.slug));
            for (i, entry) in llm.failover.iter().enumerate() {
                row["llm"]["failover"][i]["breaker"] = breaker_state(guard, entry.breaker_key(llm.source, &tenant.slug));
            }
            if let Some((_, why)) = unreadable.get(&tenant.id) {
                row["error"] = json!(why);
            }
            rows.push(row);
        }
        Ok(json!({ "tenants": rows, "slack_events_unrouted": self.unrouted_slack_events.load(Ordering::Relaxed) }))
    }
}

#[async_trait::async_trait]
impl HelpdeskDirectory for TenantIntegrations {
    async fn for_tenant(&self, tenant: &TenantContext) -> HelpdeskTargets {
        self.helpdesk_for(tenant).await
    }
}

#[async_trait::async_trait]
impl LlmDirectory for TenantIntegrations {
    async fn for_tenant(&self, tenant: &TenantContext) -> Option<Arc<dyn LlmClient>> {
        self.llm_for(tenant).await.into_iter().next().map(|route| route.client)
    }

    async fn routes_for_tenant(&self, tenant: &TenantContext) -> Vec<LlmRoute> {
        self.llm_for(tenant).await
    }
}

fn offered(llm: &DeploymentLlm) -> OfferedLlm {
    OfferedLlm { provider: llm.provider, base_url: llm.base_url.clone(), model: llm.model.clone() }
}

/// A provider's breaker as `/admin/integrations` shows it: its key and state, never a secret.
fn breaker_state(guard: Option<&LlmGuard>, key: Option<String>) -> Value {
    let (Some(guard), Some(key)) = (guard, key) else { return Value::Null };
    match guard.provider_status(&key) {
        Some(p) => json!({
            "key": key,
            "state": p.breaker.state,
            "status": p.integration_status(),
            "held_back_ms": p.held_back_ms,
            "last_failure": p.last_failure,
        }),
        None => json!({ "key": key, "state": "not_called" }),
    }
}

/// `/health`'s view: how many tenants in use have their own helpdesk and LLM, and whether any
/// tenant's secrets could not be read (degraded: that tenant's own integrations are off).
impl IntegrationProbe for TenantIntegrations {
    fn status(&self) -> IntegrationStatus {
        let count = |sources: Vec<Source>, which: Source| sources.iter().filter(|s| **s == which).count();
        let helpdesks: Vec<Source> = lock(&self.helpdesks).values().map(|k| k.source).collect();
        let llms: Vec<Source> = lock(&self.llms).values().map(|k| k.source).collect();
        let unreadable = lock(&self.unreadable).len();
        let incomplete = count(helpdesks.clone(), Source::Incomplete) + count(llms.clone(), Source::Incomplete);
        let detail = format!(
            "tenants in use since start: {} with their own helpdesk, {} with their own LLM, {incomplete} incomplete setups, \
             {unreadable} with unreadable secrets; {} Slack events from unknown workspaces",
            count(helpdesks, Source::Own),
            count(llms, Source::Own),
            self.unrouted_slack_events.load(Ordering::Relaxed),
        );
        let state = if unreadable > 0 { IntegrationState::Degraded } else { IntegrationState::Ok };
        IntegrationStatus { name: "tenant_integrations".into(), state, detail }
    }
}

/// What start-up wires from [`from_settings`].
pub struct Wired {
    pub integrations: Arc<TenantIntegrations>,
    /// Every tenant's hand-off work, sent where its own settings say.
    pub helpdesk: Arc<tria_console::Helpdesk>,
    /// The prompts every LLM (the deployment's and tenants' own) is driven with.
    pub prompts: Arc<tria_llm::PromptLibrary>,
    /// For `/health`'s `llm` component.
    pub llm_description: String,
}

/// The tenants' integrations over the deployment's `[integrations.gorgias]`,
/// `[integrations.slack]` and `[llm]` (`llm`: its client and prompts unless it is offline,
/// then `[[llm.failover]]`'s; `wrap_llm` wraps those clients and each tenant's own).
pub fn from_settings(
    settings: &tria_config::Settings,
    store: &tria_store::Store,
    secrets: Option<SecretStore>,
    llm: Option<crate::startup::LlmParts>,
    wrap_llm: LlmWrapper,
) -> Result<Wired, crate::startup::StartupError> {
    let http = reqwest::Client::new();
    let helpdesk = HelpdeskTargets {
        ticketing: settings.integrations.gorgias.as_ref().map(|g| {
            Arc::new(GorgiasClient::new(http.clone(), GorgiasConfig::new(&g.base_url, &g.username, &g.api_key))) as Arc<dyn Ticketing>
        }),
        slack: settings.integrations.slack.webhook_url.as_ref().map(|url| SlackWebhook::new(http.clone(), url)),
    };
    let (llm, prompts, llm_description) = match (llm, provider_of(settings.llm.provider)) {
        (Some((client, prompts)), Some(provider)) => {
            let failover =
                settings.llm.failover.iter().map(|entry| failover_llm(entry, &settings.llm, &wrap_llm)).collect::<Result<Vec<_>, _>>()?;
            let mut description = format!("{provider} {} at {}", settings.llm.model, settings.llm.base_url);
            for entry in &failover {
                description.push_str(&format!(", then {} {} at {}", entry.provider, entry.model, entry.base_url));
            }
            let deployment = DeploymentLlm {
                client: wrap_llm(client),
                provider,
                base_url: settings.llm.base_url.clone(),
                model: settings.llm.model.clone(),
                api_key: Some(settings.llm.api_key.clone()).filter(|k| !k.is_empty()),
                failover,
            };
            (Some(deployment), prompts, description)
        }
        _ => (None, crate::startup::prompt_library()?, "offline grounded responder (tenants may bring their own LLM)".to_owned()),
    };
    let deployment = Deployment {
        helpdesk,
        slack_signing_secret: settings.integrations.slack.signing_secret.is_some(),
        llm,
        llm_timeout: settings.llm.timeout,
        wrap_llm,
        llm_headers: Some(Arc::new(crate::telemetry::outgoing_trace_headers)),
    };
    let integrations = Arc::new(TenantIntegrations::new(secrets, deployment));
    let helpdesk = Arc::new(tria_console::Helpdesk::with_directory(store.clone(), integrations.clone()));
    Ok(Wired { integrations, helpdesk, prompts, llm_description })
}

fn provider_of(provider: tria_config::LlmProvider) -> Option<tria_llm::Provider> {
    match provider {
        tria_config::LlmProvider::Offline => None,
        tria_config::LlmProvider::OpenAi => Some(tria_llm::Provider::OpenAi),
        tria_config::LlmProvider::Azure => Some(tria_llm::Provider::Azure),
        tria_config::LlmProvider::Anthropic => Some(tria_llm::Provider::Anthropic),
    }
}

/// One `[[llm.failover]]` entry's client, wrapped, with `[llm]`'s timeout and trace headers.
fn failover_llm(
    entry: &tria_config::LlmEndpoint,
    llm: &tria_config::LlmSettings,
    wrap_llm: &LlmWrapper,
) -> Result<DeploymentLlm, crate::startup::StartupError> {
    let provider =
        provider_of(entry.provider).ok_or_else(|| crate::startup::StartupError::Llm("llm.failover: offline is no provider".into()))?;
    let given = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    let mut config = tria_llm::ProviderConfig::new(provider, entry.base_url.clone(), entry.model.clone());
    config.api_key = given(&entry.api_key);
    config.deployment = given(&entry.deployment);
    config.api_version = given(&entry.api_version);
    config.http.timeout = llm.timeout;
    config.http.header_source = Some(Arc::new(crate::telemetry::outgoing_trace_headers));
    let client = tria_llm::build(config).map_err(|e| crate::startup::StartupError::Llm(format!("llm.failover: {e}")))?;
    Ok(DeploymentLlm {
        client: wrap_llm(client),
        provider,
        base_url: entry.base_url.clone(),
        model: entry.model.clone(),
        api_key: given(&entry.api_key),
        failover: Vec::new(),
    })
}
