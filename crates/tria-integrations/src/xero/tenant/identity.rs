//! Xero's identity endpoints as a client: the token endpoint (authorization-code and
//! refresh-token grants, client authentication by HTTP Basic), token revocation, and the
//! Identity API's `GET /connections`.

use serde::Deserialize;

use super::app::ClientCredentials;
use crate::accounting::AccountingError;
use crate::xero::client::transport_error;

/// What the token endpoint answers.
#[derive(Deserialize)]
pub(crate) struct TokenSet {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// Why the token endpoint gave no tokens.
#[derive(Debug)]
pub(crate) enum TokenError {
    /// `400 {"error": "invalid_grant"}`: the code or refresh token is used up, expired or
    /// revoked. Asking again with it cannot work.
    InvalidGrant,
    Other(AccountingError),
}

/// One organisation the user connected (Identity API `Connection`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct XeroConnectionInfo {
    pub(crate) id: String,
    pub(crate) tenant_id: String,
    #[serde(default)]
    pub(crate) tenant_name: String,
    #[serde(default)]
    pub(crate) tenant_type: String,
    #[serde(default)]
    pub(crate) auth_event_id: Option<String>,
    #[serde(default)]
    pub(crate) created_date_utc: Option<String>,
    #[serde(default)]
    pub(crate) updated_date_utc: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
}

/// The identity endpoints of one Xero app.
#[derive(Clone, Debug)]
pub struct XeroIdentity {
    pub(crate) http: reqwest::Client,
    pub(crate) token_url: String,
    pub(crate) revocation_url: String,
    pub(crate) connections_url: String,
    pub(crate) timeout: std::time::Duration,
}

impl XeroIdentity {
    pub fn new(http: reqwest::Client, app: &super::XeroApp) -> Self {
        Self {
            http,
            token_url: app.token_url.clone(),
            revocation_url: app.revocation_url.clone(),
            connections_url: app.connections_url.clone(),
            timeout: app.timeout,
        }
    }

    async fn grant(&self, client: &ClientCredentials, form: &[(&str, &str)]) -> Result<TokenSet, TokenError> {
        let response = self
            .http
            .post(&self.token_url)
            .timeout(self.timeout)
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .form(form)
            .send()
            .await
            .map_err(|e| TokenError::Other(transport_error(e)))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(TokenError::Other(AccountingError::Server { status: status.as_u16(), body: "token endpoint".into() }));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let error = serde_json::from_str::<OAuthErrorBody>(&body).map(|b| b.error).unwrap_or_default();
            if error == "invalid_grant" {
                return Err(TokenError::InvalidGrant);
            }
            // The body of an error never carries a token; the client's secret is not echoed.
            return Err(TokenError::Other(AccountingError::Unauthorized(format!("token endpoint answered {status}: {error}"))));
        }
        response.json().await.map_err(|e| TokenError::Other(AccountingError::Protocol(format!("token response: {e}"))))
    }

    /// Exchanges an authorization code (single use, for the `redirect_uri` it was issued to).
    pub(crate) async fn exchange_code(&self, client: &ClientCredentials, code: &str, redirect_uri: &str) -> Result<TokenSet, TokenError> {
        self.grant(client, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)]).await
    }

    /// Exchanges a refresh token; Xero answers with a new one (rotation).
    pub(crate) async fn refresh(&self, client: &ClientCredentials, refresh_token: &str) -> Result<TokenSet, TokenError> {
        self.grant(client, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// The organisations the access token's user connected to this app.
    pub(crate) async fn connections(&self, access_token: &str) -> Result<Vec<XeroConnectionInfo>, AccountingError> {
        let response = self
            .http
            .get(&self.connections_url)
            .timeout(self.timeout)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(match status.as_u16() {
                401 | 403 => AccountingError::Unauthorized(format!("GET /connections answered {status}")),
                s if s >= 500 => AccountingError::Server { status: s, body: body.chars().take(200).collect() },
                s => AccountingError::Rejected { status: s, message: format!("GET /connections answered {status}"), details: vec![] },
            });
        }
        response.json().await.map_err(|e| AccountingError::Protocol(format!("connections: {e}")))
    }

    /// Revokes a refresh token, which ends the authorization and its connections at Xero.
    pub(crate) async fn revoke(&self, client: &ClientCredentials, refresh_token: &str) -> Result<(), AccountingError> {
        let response = self
            .http
            .post(&self.revocation_url)
            .timeout(self.timeout)
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .form(&[("token", refresh_token)])
            .send()
            .await
            .map_err(transport_error)?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(AccountingError::Rejected { status: s.as_u16(), message: format!("revocation answered {s}"), details: vec![] }),
        }
    }
}
