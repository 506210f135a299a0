//! OAuth2 access tokens for Xero behind [`TokenSource`]: a fixed token (tests, Prism), or
//! [`OAuthTokens`], which fetches from the token endpoint (client-credentials "custom connection"
//! or refresh-token grant), caches the token and refreshes it shortly before it expires.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::accounting::AccountingError;

/// Where the client gets its bearer token.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A token believed valid now.
    async fn token(&self) -> Result<String, AccountingError>;

    /// The server refused `rejected`: get a new one (unless another caller already did).
    async fn refresh(&self, rejected: &str) -> Result<String, AccountingError>;
}

/// A token that never changes.
#[derive(Clone, Debug)]
pub struct StaticToken(pub String);

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<String, AccountingError> {
        Ok(self.0.clone())
    }
    async fn refresh(&self, _rejected: &str) -> Result<String, AccountingError> {
        Ok(self.0.clone())
    }
}

/// How to ask the token endpoint.
#[derive(Clone, Debug)]
pub enum Grant {
    /// A Xero "custom connection": the app's own credentials, with scopes.
    ClientCredentials { scopes: String },
    /// A stored refresh token (rotated by Xero on every use).
    RefreshToken(String),
}

/// Token endpoint settings.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// `https://identity.xero.com/connect/token` in production.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub grant: Grant,
    /// Refresh this long before the token's stated expiry.
    pub refresh_skew: Duration,
}

#[derive(Debug)]
struct Cached {
    access_token: String,
    expires_at: Instant,
}

#[derive(Debug)]
struct State {
    cached: Option<Cached>,
    grant: Grant,
}

/// Tokens from an OAuth2 token endpoint, cached until shortly before expiry.
#[derive(Debug)]
pub struct OAuthTokens {
    http: reqwest::Client,
    config: OAuthConfig,
    // A tokio mutex: one caller fetches while the others wait for its token.
    state: Mutex<State>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl OAuthTokens {
    pub fn new(http: reqwest::Client, config: OAuthConfig) -> Self {
        let grant = config.grant.clone();
        Self { http, config, state: Mutex::new(State { cached: None, grant }) }
    }

    async fn fetch(&self, state: &mut State) -> Result<String, AccountingError> {
        let form: Vec<(&str, &str)> = match &state.grant {
            Grant::ClientCredentials { scopes } => vec![("grant_type", "client_credentials"), ("scope", scopes)],
            Grant::RefreshToken(token) => vec![("grant_type", "refresh_token"), ("refresh_token", token)],
        };
        let response = self
            .http
            .post(&self.config.token_url)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&form)
            .send()
            .await
            .map_err(super::client::transport_error)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(AccountingError::Server { status: status.as_u16(), body: "token endpoint".into() });
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(AccountingError::Unauthorized(format!("token endpoint answered {status}: {body}")));
        }
        let token: TokenResponse = response.json().await.map_err(|e| AccountingError::Protocol(format!("token response: {e}")))?;
        if let Some(rotated) = token.refresh_token
            && matches!(state.grant, Grant::RefreshToken(_))
        {
            state.grant = Grant::RefreshToken(rotated);
        }
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(self.config.refresh_skew);
        state.cached = Some(Cached { access_token: token.access_token.clone(), expires_at: Instant::now() + lifetime });
        Ok(token.access_token)
    }
}

#[async_trait]
impl TokenSource for OAuthTokens {
    async fn token(&self) -> Result<String, AccountingError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.cached
            && Instant::now() < cached.expires_at
        {
            return Ok(cached.access_token.clone());
        }
        self.fetch(&mut state).await
    }

    async fn refresh(&self, rejected: &str) -> Result<String, AccountingError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.cached
            && cached.access_token != rejected
            && Instant::now() < cached.expires_at
        {
            return Ok(cached.access_token.clone());
        }
        self.fetch(&mut state).await
    }
}
