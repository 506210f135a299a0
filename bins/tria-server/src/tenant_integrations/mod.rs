//! Each tenant's own helpdesk (Gorgias), Slack and LLM, from its settings (`gorgias.*`,
//! `slack.*`, `llm.*`) and its sealed secrets (`gorgias_api_key`, `slack_webhook_url`,
//! `slack_signing_secret`, `llm_api_key`); a tenant without its own uses the deployment's.
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
use tria_agent::LlmDirectory;
use tria_console::{HelpdeskDirectory, HelpdeskTargets};
use tria_core::{TenantContext, TenantId};
use tria_integrations::slack::SlackWebhook;
use tria_integrations::ticketing::{GorgiasClient, GorgiasConfig, Ticketing};
use tria_integrations::{IntegrationProbe, IntegrationState, IntegrationStatus};
use tria_llm::LlmClient;
use tria_secrets::{SecretName, SecretStore, SecretValue, SecretsError};

use plan::{DeploymentOffer, KeyFrom, OwnSecrets, Source};

/// How long a tenant's clients are used before its secrets are read again.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Wraps each LLM client built (the server's: metrics and the tenant's spend budget).
pub type LlmWrapper = Arc<dyn Fn(Arc<dyn LlmClient>) -> Arc<dyn LlmClient> + Send + Sync>;

/// The deployment's `[llm]` when its provider is `openai`.
pub struct DeploymentLlm {
    /// Already wrapped.
    pub client: Arc<dyn LlmClient>,
    pub base_url: String,
    pub model: String,
    /// Sent only to `base_url`.
    pub api_key: Option<String>,
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
    llms: KeptMap<Option<Arc<dyn LlmClient>>>,
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
            llm: deployment.llm.as_ref().map(|l| (l.base_url.clone(), l.model.clone())),
        };
        Self {
            secrets,
            http: reqwest::Client::new(),
            deployment,
            offer,
            helpdesks: Mutex::default(),
            llms: Mutex::default(),
            unreadable: Mutex::default(),
            unrouted_slack_events: AtomicU64::new(0),
        }
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

    async fn llm_for(&self, tenant: &TenantContext) -> Option<Arc<dyn LlmClient>> {
        let settings = settings_hash(tenant, "llm");
        if let Some(client) = Self::fresh(&self.llms, tenant.id, settings) {
            return client;
        }
        let Ok(values) = self.read(tenant, &[SecretName::LlmApiKey]).await else {
            // A tenant's own provider without its key is not used; nor is anyone else's.
            return None;
        };
        let key = &values[0];
        let own = OwnSecrets { llm_api_key: key.is_some(), ..OwnSecrets::default() };
        let inputs = hash_of(&[&settings.to_string(), key.as_ref().map(SecretValue::expose).unwrap_or_default()]);
        Self::keep(&self.llms, tenant.id, settings, inputs, || {
            let plan = plan::llm(&tenant.settings, own, &self.offer);
            let client = match (&plan.source, &plan.base_url, &plan.model) {
                (Source::Deployment, ..) => self.deployment.llm.as_ref().map(|l| l.client.clone()),
                (Source::Own, Some(url), Some(model)) => {
                    let api_key = match plan.api_key {
                        KeyFrom::Own => key.as_ref().map(|k| k.expose().to_owned()),
                        KeyFrom::Deployment => self.deployment.llm.as_ref().and_then(|l| l.api_key.clone()),
                        KeyFrom::None => None,
                    };
                    self.own_llm(tenant, url, model, api_key)
                }
                _ => {
                    tracing::warn!(tenant = %tenant.slug, missing = ?plan.missing, "tenant LLM incomplete; the offline responder answers");
                    None
                }
            };
            (client, plan.source)
        })
    }

    fn own_llm(&self, tenant: &TenantContext, url: &str, model: &str, api_key: Option<String>) -> Option<Arc<dyn LlmClient>> {
        let mut config = tria_llm::OpenAiConfig::new(url, model).with_timeout(self.deployment.llm_timeout);
        if let Some(key) = api_key {
            config = config.with_api_key(key);
        }
        if let Some(headers) = &self.deployment.llm_headers {
            config = config.with_header_source(headers.clone());
        }
        match tria_llm::OpenAiClient::new(config) {
            Ok(client) => {
                tracing::info!(tenant = %tenant.slug, base_url = %url, %model, "tenant LLM built");
                Some((self.deployment.wrap_llm)(Arc::new(client)))
            }
            Err(err) => {
                tracing::warn!(tenant = %tenant.slug, error = %err, "tenant LLM could not be built; the offline responder answers");
                None
            }
        }
    }

    /// Every tenant's integrations as configured (names of secrets, never values), for
    /// `/admin/integrations`.
    pub(crate) async fn describe(&self, store: &tria_store::Store) -> Result<Value, crate::ApiError> {
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
            };
            let mut row = json!({
                "tenant": tenant.slug,
                "helpdesk": plan::helpdesk(&tenant.settings, own, &self.offer),
                "slack": plan::slack(&tenant.settings, own, &self.offer),
                "llm": plan::llm(&tenant.settings, own, &self.offer),
            });
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
        self.llm_for(tenant).await
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
/// `[integrations.slack]` and `[llm]` (`llm`: its client and prompts when its provider is
/// `openai`; `wrap_llm` wraps that client and each tenant's own).
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
    let (llm, prompts, llm_description) = match llm {
        Some((client, prompts)) => {
            let description = format!("{} at {}", settings.llm.model, settings.llm.base_url);
            let deployment = DeploymentLlm {
                client: wrap_llm(client),
                base_url: settings.llm.base_url.clone(),
                model: settings.llm.model.clone(),
                api_key: Some(settings.llm.api_key.clone()).filter(|k| !k.is_empty()),
            };
            (Some(deployment), prompts, description)
        }
        None => (None, crate::startup::prompt_library()?, "offline grounded responder (tenants may bring their own LLM)".to_owned()),
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
