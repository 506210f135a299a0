//! What a tenant's settings and the names of its secrets say about its helpdesk, Slack and LLM —
//! decided here, without a network or a secret value, so the clients built and what
//! `/admin/integrations` shows cannot disagree.

use serde::Serialize;
use serde_json::Value;

/// The secrets a tenant has set (names only), for planning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnSecrets {
    pub(crate) gorgias_api_key: bool,
    pub(crate) slack_webhook_url: bool,
    pub(crate) slack_signing_secret: bool,
    pub(crate) llm_api_key: bool,
}

/// What the deployment's own configuration offers a tenant without its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeploymentOffer {
    pub(crate) gorgias: bool,
    pub(crate) slack_webhook: bool,
    pub(crate) slack_signing_secret: bool,
    /// `(base_url, model)` of `[llm]` when its provider is `openai`.
    pub(crate) llm: Option<(String, String)>,
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

/// A tenant's LLM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct LlmPlan {
    pub(crate) source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<String>,
    pub(crate) api_key: KeyFrom,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) missing: Vec<&'static str>,
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

/// A tenant that sets any of `llm.base_url`, `llm.model` or the `llm_api_key` secret has its
/// own LLM: what it leaves out comes from `[llm]`, except that the deployment's key is sent only
/// to the deployment's endpoint (a tenant's own endpoint gets its own key or none).
pub(crate) fn llm(settings: &Value, own: OwnSecrets, offer: &DeploymentOffer) -> LlmPlan {
    let own_url = setting(settings, "llm", "base_url").map(str::to_owned);
    let own_model = setting(settings, "llm", "model").map(str::to_owned);
    if own_url.is_none() && own_model.is_none() && !own.llm_api_key {
        return match &offer.llm {
            Some((url, model)) => LlmPlan {
                source: Source::Deployment,
                base_url: Some(url.clone()),
                model: Some(model.clone()),
                api_key: KeyFrom::Deployment,
                missing: Vec::new(),
            },
            None => LlmPlan { source: Source::None, base_url: None, model: None, api_key: KeyFrom::None, missing: Vec::new() },
        };
    }
    let api_key = match (own.llm_api_key, &own_url) {
        (true, _) => KeyFrom::Own,
        (false, Some(_)) => KeyFrom::None,
        (false, None) => KeyFrom::Deployment,
    };
    let base_url = own_url.or_else(|| offer.llm.as_ref().map(|(url, _)| url.clone()));
    let model = own_model.or_else(|| offer.llm.as_ref().map(|(_, model)| model.clone()));
    let mut missing = Vec::new();
    if base_url.is_none() {
        missing.push("settings.llm.base_url");
    }
    if model.is_none() {
        missing.push("settings.llm.model");
    }
    let source = if missing.is_empty() { Source::Own } else { Source::Incomplete };
    LlmPlan { source, base_url, model, api_key, missing }
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
            llm: Some(("https://llm.deploy/v1".into(), "gpt-4o-mini".into())),
        }
    }

    #[test]
    fn a_tenant_with_nothing_of_its_own_uses_the_deployments() {
        let none = OwnSecrets::default();
        assert_eq!(helpdesk(&json!({}), none, &offer()).source, Source::Deployment);
        assert_eq!(helpdesk(&json!({}), none, &DeploymentOffer::default()).source, Source::None);
        let llm_plan = llm(&json!({ "llm": { "base_url": null } }), none, &offer());
        assert_eq!((llm_plan.source, llm_plan.api_key), (Source::Deployment, KeyFrom::Deployment));
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
        assert_eq!((plan.source, plan.api_key, plan.model.as_deref()), (Source::Own, KeyFrom::None, Some("gpt-4o-mini")));
        // Own model only: the deployment endpoint with its key.
        let plan = llm(&json!({ "llm": { "model": "gpt-4o" } }), OwnSecrets::default(), &offer());
        assert_eq!((plan.base_url.as_deref(), plan.api_key), (Some("https://llm.deploy/v1"), KeyFrom::Deployment));
        // Own key only: the deployment endpoint with the tenant's key.
        assert_eq!(llm(&json!({}), key, &offer()).api_key, KeyFrom::Own);
        // An offline deployment: a tenant's own provider and key work; a key alone is not enough.
        let plan = llm(&json!({ "llm": { "base_url": "https://llm.acme/v1", "model": "m" } }), key, &DeploymentOffer::default());
        assert_eq!((plan.source, plan.api_key), (Source::Own, KeyFrom::Own));
        let plan = llm(&json!({}), key, &DeploymentOffer::default());
        assert_eq!((plan.source, plan.missing), (Source::Incomplete, vec!["settings.llm.base_url", "settings.llm.model"]));
    }
}
