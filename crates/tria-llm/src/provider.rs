//! One way to build an LLM client for any supported provider from plain settings, so the
//! deployment's `[llm]` and a tenant's own provider go through the same code.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::http::HttpOptions;
use crate::{
    AZURE_DEFAULT_API_VERSION, AnthropicClient, AnthropicConfig, Completion, CompletionRequest, LlmClient, LlmError, LlmStream,
    OpenAiClient, OpenAiConfig,
};

/// The wire protocols an HTTP client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI chat completions and everything compatible with it.
    OpenAi,
    /// Azure OpenAI: chat completions at a deployment URL, `api-key` header.
    Azure,
    /// Anthropic's Messages API.
    Anthropic,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::OpenAi, Provider::Azure, Provider::Anthropic];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Azure => "azure",
            Provider::Anthropic => "anthropic",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a provider.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown LLM provider `{0}` (expected openai, azure or anthropic)")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// What [`build`] needs, the same for every provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub provider: Provider,
    /// OpenAI: the base URL with its version (`https://api.openai.com/v1`). Azure: the resource
    /// endpoint (`https://{resource}.openai.azure.com`). Anthropic: `https://api.anthropic.com`
    /// (empty means that).
    pub base_url: String,
    /// The model recorded with each answer and priced; Anthropic and OpenAI send it upstream.
    pub model: String,
    pub api_key: Option<String>,
    /// Azure only: the deployment (empty: `model`).
    pub deployment: Option<String>,
    /// Azure only: the `api-version` (empty: [`AZURE_DEFAULT_API_VERSION`]).
    pub api_version: Option<String>,
    pub http: HttpOptions,
}

impl ProviderConfig {
    pub fn new(provider: Provider, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider,
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            deployment: None,
            api_version: None,
            http: HttpOptions::default(),
        }
    }
}

fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The client of any provider: OpenAI and Azure speak chat completions, Anthropic its Messages API.
#[derive(Debug)]
pub enum ProviderClient {
    OpenAi(OpenAiClient),
    Anthropic(AnthropicClient),
}

impl ProviderClient {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let api_key = non_empty(config.api_key.as_ref()).map(str::to_owned);
        Ok(match config.provider {
            Provider::OpenAi => {
                let openai = OpenAiConfig { api_key, http: config.http, ..OpenAiConfig::new(config.base_url, config.model) };
                ProviderClient::OpenAi(OpenAiClient::new(openai)?)
            }
            Provider::Azure => {
                let deployment = non_empty(config.deployment.as_ref()).unwrap_or(&config.model).to_owned();
                let api_version = non_empty(config.api_version.as_ref()).unwrap_or(AZURE_DEFAULT_API_VERSION).to_owned();
                let azure = OpenAiConfig::azure(config.base_url, deployment, api_version, config.model);
                ProviderClient::OpenAi(OpenAiClient::new(OpenAiConfig { api_key, http: config.http, ..azure })?)
            }
            Provider::Anthropic => {
                let anthropic = AnthropicConfig { api_key, http: config.http, ..AnthropicConfig::new(config.base_url, config.model) };
                ProviderClient::Anthropic(AnthropicClient::new(anthropic)?)
            }
        })
    }

    fn inner(&self) -> &dyn LlmClient {
        match self {
            ProviderClient::OpenAi(client) => client,
            ProviderClient::Anthropic(client) => client,
        }
    }

    /// Refuses new calls and wakes the waiting ones with [`LlmError::Cancelled`] (shutdown).
    pub fn close(&self) {
        match self {
            ProviderClient::OpenAi(client) => client.close(),
            ProviderClient::Anthropic(client) => client.close(),
        }
    }
}

#[async_trait]
impl LlmClient for ProviderClient {
    fn model(&self) -> &str {
        self.inner().model()
    }
    fn provider(&self) -> &str {
        self.inner().provider()
    }
    async fn complete(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        self.inner().complete(request).await
    }
    async fn stream(&self, request: &CompletionRequest) -> Result<LlmStream, LlmError> {
        self.inner().stream(request).await
    }
}

/// The client for `config.provider`, ready to share.
pub fn build(config: ProviderConfig) -> Result<Arc<dyn LlmClient>, LlmError> {
    Ok(Arc::new(ProviderClient::new(config)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert_eq!("bedrock".parse::<Provider>(), Err(UnknownProvider("bedrock".into())));
    }

    #[test]
    fn build_gives_each_provider_its_model() {
        for p in Provider::ALL {
            let client = build(ProviderConfig::new(p, "http://127.0.0.1:9", "m-1")).expect("builds");
            assert_eq!(client.model(), "m-1");
            assert_eq!(client.provider(), p.as_str(), "the ledger's provider name");
        }
    }
}
