//! What a tenant's settings and the names of its secrets say about its helpdesk, Slack and LLM —
//! decided here, without a network or a secret value, so the clients built and what
//! `/admin/integrations` shows cannot disagree.

use serde::Serialize;
use serde_json::Value;
use tria_llm::Provider;
use tria_secrets::SecretName;

/// The secrets a tenant has set (names only), for planning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnSecrets {
    pub(crate) gorgias_api_key: bool,
    pub(crate) slack_webhook_url: bool,
    pub(crate) slack_signing_secret: bool,
    pub(crate) llm_api_key: bool,
    /// `llm_failover_1_api_key`, `llm_failover_2_api_key`.
    pub(crate) llm_failover_api_keys: [bool; FAILOVER_KEYS.len()],
}

/// The secret of each `settings.llm.failover` entry's key, in order.
pub(crate) const FAILOVER_KEYS: [SecretName; 2] = [SecretName::LlmFailover1ApiKey, SecretName::LlmFailover2ApiKey];

/// One provider of the deployment's `[llm]` (its first, or a `[[llm.failover]]` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OfferedLlm {
    pub(crate) provider: Provider,
    pub(crate) base_url: String,
    pub(crate) model: String,
}

/// What the deployment's own configuration offers a tenant without its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeploymentOffer {
    pub(crate) gorgias: bool,
    pub(crate) slack_webhook: bool,
    pub(crate) slack_signing_secret: bool,
    /// `[llm]`'s provider, unless offline.
    pub(crate) llm: Option<OfferedLlm>,
    /// `[[llm.failover]]`.
    pub(crate) llm_failover: Vec<OfferedLlm>,
}

/// Where a piece of a tenant's integration comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// The tenant's own settings and secrets.
    Own,
    /// The deployment's `[integrations.*]` / `[llm]`.
    Deployment,
    /// Nothing: no tickets / no notices / the offline responder.
    None,
    /// The tenant started its own but left out what `missing` names; its work goes nowhere
    /// rather than to someone else's account.
    Incomplete,
}

/// A tenant's helpdesk (Gorgias).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct HelpdeskPlan {
    pub(crate) source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) username: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) missing: Vec<&'static str>,
}

/// Whose key an LLM call carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KeyFrom {
    Own,
    Deployment,
    None,
}

/// One LLM provider of a tenant: where it is, which model, whose key (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct LlmEndpointPlan {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "provider_name")]
    pub(crate) provider: Option<Provider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<String>,
    /// Azure: the deployment called (default: the model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deployment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) api_version: Option<String>,
    pub(crate) api_key: KeyFrom,
    /// The tenant's secret the key is read from, when it is the tenant's own.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "secret_name")]
    pub(crate) api_key_secret: Option<SecretName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) missing: Vec<String>,
}

fn provider_name<S: serde::Serializer>(provider: &Option<Provider>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(provider.map_or("", Provider::as_str))
}

fn secret_name<S: serde::Serializer>(name: &Option<SecretName>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(name.map_or("", SecretName::as_str))
}

impl LlmEndpointPlan {
    fn none() -> Self {
        Self {
            provider: None,
            base_url: None,
            model: None,
            deployment: None,
            api_version: None,
            api_key: KeyFrom::None,
            api_key_secret: None,
            missing: Vec::new(),
        }
    }

    fn offered(offer: &OfferedLlm) -> Self {
        Self {
            provider: Some(offer.provider),
            base_url: Some(offer.base_url.clone()),
            model: Some(offer.model.clone()),
            api_key: KeyFrom::Deployment,
            ..Self::none()
        }
    }

    /// The key its breaker and 429 hold-off are kept under (`tria_agent::LlmRoute`): the
    /// deployment's `provider/model`, a tenant's own scoped `slug:provider/model`.
    pub(crate) fn breaker_key(&self, source: Source, slug: &str) -> Option<String> {
        let key = format!("{}/{}", self.provider?.as_str(), self.model.as_deref()?);
        Some(if source == Source::Own { format!("{slug}:{key}") } else { key })
    }
}

/// A tenant's LLM: its first provider (flattened, so the fields of before stay where they
/// were) and its failover list in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct LlmPlan {
    pub(crate) source: Source,
    #[serde(flatten)]
    pub(crate) primary: LlmEndpointPlan,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) failover: Vec<LlmEndpointPlan>,
}

/// Slack for a tenant: where its notices go and how its events are found and checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct SlackPlan {
    pub(crate) notices: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) channel_id: Option<String>,
    pub(crate) signing_secret: Source,
}

/// A non-empty string setting `group.key`.
pub(crate) fn setting<'s>(settings: &'s Value, group: &str, key: &str) -> Option<&'s str> {
    settings.get(group).and_then(|g| g.get(key)).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty())
}

pub(crate) fn helpdesk(settings: &Value, own: OwnSecrets, offer: &DeploymentOffer) -> HelpdeskPlan {
    let base_url = setting(settings, "gorgias", "base_url").map(str::to_owned);
    let username = setting(settings, "gorgias", "username").map(str::to_owned);
    if base_url.is_none() && username.is_none() && !own.gorgias_api_key {
        let source = if offer.gorgias { Source::Deployment } else { Source::None };
        return HelpdeskPlan { source, base_url: None, username: None, missing: Vec::new() };
    }
    let mut missing = Vec::new();
    if base_url.is_none() {
        missing.push("settings.gorgias.base_url");
    }
    if username.is_none() {
        missing.push("settings.gorgias.username");
    }
    if !own.gorgias_api_key {
        missing.push("secret gorgias_api_key");
    }
    let source = if missing.is_empty() { Source::Own } else { Source::Incomplete };
    HelpdeskPlan { source, base_url, username, missing }
}

pub(crate) fn slack(settings: &Value, own: OwnSecrets, offer: &DeploymentOffer) -> SlackPlan {
    let pick = |own: bool, deployment: bool| match (own, deployment) {
        (true, _) => Source::Own,
        (false, true) => Source::Deployment,
        (false, false) => Source::None,
    };
    SlackPlan {
        notices: pick(own.slack_webhook_url, offer.slack_webhook),
        team_id: setting(settings, "slack", "team_id").map(str::to_owned),
        channel_id: setting(settings, "slack", "channel_id").map(str::to_owned),
        signing_secret: pick(own.slack_signing_secret, offer.slack_signing_secret),
    }
}

/// A tenant that sets any of `llm.provider`, `llm.base_url`, `llm.model` or the `llm_api_key`
/// secret has its own LLM; its provider is `llm.provider` (default: the deployment's when it
/// uses the deployment's endpoint, else `openai`). Left out: what the deployment's provider of
/// the same kind has (its endpoint, and its key only for that endpoint — a tenant's own
/// endpoint gets its own key or none), Anthropic's public endpoint. `llm.failover` entries
/// follow, each with its `llm_failover_{n}_api_key` (or, on the first provider's endpoint, its key).
pub(crate) fn llm(settings: &Value, own: OwnSecrets, offer: &DeploymentOffer) -> LlmPlan {
    let own_provider = setting(settings, "llm", "provider").and_then(|p| p.parse::<Provider>().ok());
    let own_url = setting(settings, "llm", "base_url");
    let own_model = setting(settings, "llm", "model");
    if own_provider.is_none() && own_url.is_none() && own_model.is_none() && !own.llm_api_key {
        return match &offer.llm {
            Some(first) => LlmPlan {
                source: Source::Deployment,
                primary: LlmEndpointPlan::offered(first),
                failover: offer.llm_failover.iter().map(LlmEndpointPlan::offered).collect(),
            },
            None => LlmPlan { source: Source::None, primary: LlmEndpointPlan::none(), failover: Vec::new() },
        };
    }
    let llm = settings.get("llm").cloned().unwrap_or(Value::Null);
    let own_key = own.llm_api_key.then_some(SecretName::LlmApiKey);
    let primary = endpoint(&llm, "settings.llm", own_key, "llm_api_key", offer.llm.as_ref(), None);
    let failover: Vec<LlmEndpointPlan> = llm
        .get("failover")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .take(FAILOVER_KEYS.len())
                .enumerate()
                .map(|(i, entry)| {
                    let key = own.llm_failover_api_keys[i].then_some(FAILOVER_KEYS[i]);
                    endpoint(entry, &format!("settings.llm.failover[{i}]"), key, FAILOVER_KEYS[i].as_str(), None, Some(&primary))
                })
                .collect()
        })
        .unwrap_or_default();
    let source = if primary.missing.is_empty() { Source::Own } else { Source::Incomplete };
    LlmPlan { source, primary, failover }
}

/// One of a tenant's providers from `fields` (`settings.llm` or a failover entry, named `path`):
/// what it leaves out comes from `inherit` (the deployment's provider for the first, the
/// tenant's first for a failover entry) when that is the same provider and it names no
/// endpoint of its own.
fn endpoint(
    fields: &Value,
    path: &str,
    own_key: Option<SecretName>,
    key_name: &str,
    deployment: Option<&OfferedLlm>,
    first: Option<&LlmEndpointPlan>,
) -> LlmEndpointPlan {
    let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let base_url = text("base_url");
    let inherited_provider = deployment.map(|d| d.provider).or_else(|| first.and_then(|f| f.provider));
    let provider = text("provider")
        .and_then(|p| p.parse::<Provider>().ok())
        .or_else(|| base_url.is_none().then_some(inherited_provider).flatten())
        .unwrap_or(Provider::OpenAi);
    // The endpoint (and its key) it inherits: only the same provider's, and only with no endpoint of its own.
    let inherits = base_url.is_none() && inherited_provider == Some(provider);
    let mut plan = LlmEndpointPlan { provider: Some(provider), ..LlmEndpointPlan::none() };
    plan.model = text("model");
    plan.deployment = text("deployment");
    plan.api_version = text("api_version");
    plan.base_url = base_url;
    if inherits {
        if let Some(d) = deployment {
            plan.base_url = Some(d.base_url.clone());
            plan.model = plan.model.or_else(|| Some(d.model.clone()));
        }
        if let Some(f) = first {
            plan.base_url.clone_from(&f.base_url);
            if provider == Provider::Azure {
                plan.api_version = plan.api_version.or_else(|| f.api_version.clone());
            }
        }
    } else if let Some(d) = deployment.filter(|d| d.provider == provider) {
        plan.model = plan.model.or_else(|| Some(d.model.clone()));
    }
    if plan.base_url.is_none() && provider == Provider::Anthropic {
        plan.base_url = Some(tria_llm::ANTHROPIC_DEFAULT_BASE_URL.to_owned());
    }
    if provider == Provider::Azure && plan.model.is_none() {
        plan.model.clone_from(&plan.deployment);
    }
    (plan.api_key, plan.api_key_secret) = match (own_key, inherits, first) {
        (Some(name), ..) => (KeyFrom::Own, Some(name)),
        (None, true, Some(f)) => (f.api_key, f.api_key_secret),
        (None, true, None) if deployment.is_some() => (KeyFrom::Deployment, None),
        _ => (KeyFrom::None, None),
    };
    if plan.base_url.is_none() {
        plan.missing.push(format!("{path}.base_url"));
    }
    if plan.model.is_none() {
        plan.missing.push(format!("{path}.model"));
    }
    // Anthropic and Azure refuse every call without a key.
    if plan.api_key == KeyFrom::None && provider != Provider::OpenAi {
        plan.missing.push(format!("secret {key_name}"));
    }
    plan
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn offer() -> DeploymentOffer {
        DeploymentOffer {
            gorgias: true,
            slack_webhook: false,
            slack_signing_secret: true,
            llm: Some(OfferedLlm { provider: Provider::OpenAi, base_url: "https://llm.deploy/v1".into(), model: "gpt-4o-mini".into() }),
            llm_failover: Vec::new(),
        }
    }

    #[test]
    fn a_tenant_with_nothing_of_its_own_uses_the_deployments() {
        let none = OwnSecrets::default();
        assert_eq!(helpdesk(&json!({}), none, &offer()).source, Source::Deployment);
        assert_eq!(helpdesk(&json!({}), none, &DeploymentOffer::default()).source, Source::None);
        let llm_plan = llm(&json!({ "llm": { "base_url": null } }), none, &offer());
        assert_eq!((llm_plan.source, llm_plan.primary.api_key), (Source::Deployment, KeyFrom::Deployment));
        assert_eq!(llm(&json!({}), none, &DeploymentOffer::default()).source, Source::None);
        let slack_plan = slack(&json!({}), none, &offer());
        assert_eq!((slack_plan.notices, slack_plan.signing_secret), (Source::None, Source::Deployment));
    }

    #[test]
    fn a_half_configured_helpdesk_is_incomplete_and_says_what_is_missing() {
        let settings = json!({ "gorgias": { "base_url": "https://acme.gorgias.com/api" } });
        let plan = helpdesk(&settings, OwnSecrets::default(), &offer());
        assert_eq!(plan.source, Source::Incomplete, "never the deployment's helpdesk for a tenant that began its own");
        assert_eq!(plan.missing, ["settings.gorgias.username", "secret gorgias_api_key"]);
        let settings = json!({ "gorgias": { "base_url": "https://acme.gorgias.com/api", "username": "bot@acme.example" } });
        assert_eq!(helpdesk(&settings, OwnSecrets { gorgias_api_key: true, ..OwnSecrets::default() }, &offer()).source, Source::Own);
    }

    #[test]
    fn the_deployment_key_goes_only_to_the_deployment_endpoint() {
        let key = OwnSecrets { llm_api_key: true, ..OwnSecrets::default() };
        // Own endpoint, no own key: no key at all.
        let plan = llm(&json!({ "llm": { "base_url": "https://llm.acme/v1" } }), OwnSecrets::default(), &offer());
        assert_eq!((plan.source, plan.primary.api_key, plan.primary.model.as_deref()), (Source::Own, KeyFrom::None, Some("gpt-4o-mini")));
        // Own model only: the deployment endpoint with its key.
        let plan = llm(&json!({ "llm": { "model": "gpt-4o" } }), OwnSecrets::default(), &offer());
        assert_eq!((plan.primary.base_url.as_deref(), plan.primary.api_key), (Some("https://llm.deploy/v1"), KeyFrom::Deployment));
        // Own key only: the deployment endpoint with the tenant's key.
        assert_eq!(llm(&json!({}), key, &offer()).primary.api_key, KeyFrom::Own);
        // An offline deployment: a tenant's own provider and key work; a key alone is not enough.
        let plan = llm(&json!({ "llm": { "base_url": "https://llm.acme/v1", "model": "m" } }), key, &DeploymentOffer::default());
        assert_eq!((plan.source, plan.primary.api_key), (Source::Own, KeyFrom::Own));
        let plan = llm(&json!({}), key, &DeploymentOffer::default());
        assert_eq!(plan.source, Source::Incomplete);
        assert_eq!(plan.primary.missing, ["settings.llm.base_url", "settings.llm.model"]);
    }

    #[test]
    fn another_provider_never_gets_the_deployment_endpoint_or_key_and_needs_its_own_key() {
        // Anthropic with its own key: the public endpoint, never the deployment's OpenAI one.
        let key = OwnSecrets { llm_api_key: true, ..OwnSecrets::default() };
        let plan = llm(&json!({ "llm": { "provider": "anthropic", "model": "claude-3-5-haiku-latest" } }), key, &offer());
        assert_eq!(plan.source, Source::Own);
        assert_eq!(plan.primary.base_url.as_deref(), Some(tria_llm::ANTHROPIC_DEFAULT_BASE_URL));
        assert_eq!((plan.primary.api_key, plan.primary.api_key_secret), (KeyFrom::Own, Some(SecretName::LlmApiKey)));
        assert_eq!(plan.primary.breaker_key(plan.source, "acme").as_deref(), Some("acme:anthropic/claude-3-5-haiku-latest"));
        // Without a key, and without a model: incomplete, saying what is missing.
        let plan = llm(&json!({ "llm": { "provider": "anthropic" } }), OwnSecrets::default(), &offer());
        assert_eq!(plan.source, Source::Incomplete);
        assert_eq!(plan.primary.missing, ["settings.llm.model", "secret llm_api_key"]);
        // Azure: the deployment names the model when no model is given.
        let settings = json!({ "llm": { "provider": "azure", "base_url": "https://acme.openai.azure.com", "deployment": "chat" } });
        let plan = llm(&settings, key, &offer());
        assert_eq!((plan.source, plan.primary.model.as_deref()), (Source::Own, Some("chat")));
    }

    #[test]
    fn failover_entries_use_their_own_keys_or_the_first_providers_endpoint_and_key() {
        let own = OwnSecrets { llm_api_key: true, llm_failover_api_keys: [false, true], ..OwnSecrets::default() };
        let settings = json!({ "llm": {
            "provider": "openai", "base_url": "https://llm.acme/v1", "model": "gpt-4o",
            "failover": [
                { "model": "gpt-4o-mini" },
                { "provider": "anthropic", "model": "claude-3-5-haiku-latest" },
            ],
        } });
        let plan = llm(&settings, own, &offer());
        assert_eq!(plan.source, Source::Own);
        let [same, other] = [&plan.failover[0], &plan.failover[1]];
        assert_eq!((same.base_url.as_deref(), same.api_key_secret), (Some("https://llm.acme/v1"), Some(SecretName::LlmApiKey)));
        assert_eq!((other.provider, other.api_key_secret), (Some(Provider::Anthropic), Some(SecretName::LlmFailover2ApiKey)));
        // The second entry without its key: missing, named.
        let plan = llm(&settings, OwnSecrets { llm_api_key: true, ..OwnSecrets::default() }, &offer());
        assert_eq!(plan.failover[1].missing, ["secret llm_failover_2_api_key"]);
        let shown = serde_json::to_value(&plan).expect("json");
        assert_eq!(shown["provider"], "openai");
        assert_eq!(shown["failover"][1]["provider"], "anthropic");
        assert_eq!(shown["api_key_secret"], "llm_api_key");
    }

    #[test]
    fn a_tenant_on_the_deployment_sees_its_failover_list() {
        let mut offer = offer();
        offer.llm_failover = vec![OfferedLlm { provider: Provider::Anthropic, base_url: String::new(), model: "claude".into() }];
        let plan = llm(&json!({}), OwnSecrets::default(), &offer);
        assert_eq!(plan.source, Source::Deployment);
        assert_eq!(plan.failover[0].breaker_key(plan.source, "acme").as_deref(), Some("anthropic/claude"));
    }
}
