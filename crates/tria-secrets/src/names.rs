//! The closed set of secret names a tenant can hold; anything else is refused before it is stored.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretName {
    XeroClientId,
    XeroClientSecret,
    XeroRefreshToken,
    GorgiasApiKey,
    SlackSigningSecret,
    SlackWebhookUrl,
    LlmApiKey,
    /// The key of a tenant's first `settings.llm.failover` entry.
    LlmFailover1ApiKey,
    /// The key of its second.
    LlmFailover2ApiKey,
}

impl SecretName {
    pub const ALL: [SecretName; 9] = [
        SecretName::XeroClientId,
        SecretName::XeroClientSecret,
        SecretName::XeroRefreshToken,
        SecretName::GorgiasApiKey,
        SecretName::SlackSigningSecret,
        SecretName::SlackWebhookUrl,
        SecretName::LlmApiKey,
        SecretName::LlmFailover1ApiKey,
        SecretName::LlmFailover2ApiKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretName::XeroClientId => "xero_client_id",
            SecretName::XeroClientSecret => "xero_client_secret",
            SecretName::XeroRefreshToken => "xero_refresh_token",
            SecretName::GorgiasApiKey => "gorgias_api_key",
            SecretName::SlackSigningSecret => "slack_signing_secret",
            SecretName::SlackWebhookUrl => "slack_webhook_url",
            SecretName::LlmApiKey => "llm_api_key",
            SecretName::LlmFailover1ApiKey => "llm_failover_1_api_key",
            SecretName::LlmFailover2ApiKey => "llm_failover_2_api_key",
        }
    }

    /// The names, comma-separated, for an error message.
    pub fn list() -> String {
        Self::ALL.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of [`SecretName::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown secret name; expected one of: {}", SecretName::list())]
pub struct UnknownSecretName;

impl FromStr for SecretName {
    type Err = UnknownSecretName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|n| n.as_str() == s).ok_or(UnknownSecretName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for name in SecretName::ALL {
            assert_eq!(name.as_str().parse::<SecretName>().ok(), Some(name));
        }
        assert!("XERO_CLIENT_ID".parse::<SecretName>().is_err());
        assert!("database_password".parse::<SecretName>().is_err());
    }
}
