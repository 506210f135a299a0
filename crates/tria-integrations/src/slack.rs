//! Slack for human handoff: verifying Slack Events requests (`X-Slack-Signature` v0,
//! HMAC-SHA256 with the signing secret, timestamps older than 5 minutes refused) and posting
//! notices to a channel through an incoming-webhook URL — e.g. as the invoice worker's
//! [`InvoiceFailureHook`], so a person sees a failed order at once.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::invoicing::{InvoiceFailure, InvoiceFailureHook};

/// How far a request's timestamp may be from now (replay protection).
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Why a Slack request was refused (answer 401, do nothing).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlackAuthError {
    #[error("missing or malformed X-Slack-Request-Timestamp")]
    BadTimestamp,
    #[error("request timestamp is more than 5 minutes from now")]
    Stale,
    #[error("signature does not match")]
    BadSignature,
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(message).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().into()
}

/// The `v0=…` signature Slack sends for `body` at `timestamp`.
pub fn signature(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut base = format!("v0:{timestamp}:").into_bytes();
    base.extend_from_slice(body);
    format!("v0={}", hex::encode(hmac_sha256(signing_secret.as_bytes(), &base)))
}

/// Checks a Slack request: `timestamp` and `signature` are the `X-Slack-Request-Timestamp` and
/// `X-Slack-Signature` headers, `body` the raw body, `now` the current Unix time.
pub fn verify(signing_secret: &str, timestamp: &str, body: &[u8], signature_header: &str, now: i64) -> Result<(), SlackAuthError> {
    let sent: i64 = timestamp.trim().parse().map_err(|_| SlackAuthError::BadTimestamp)?;
    if (now - sent).abs() > MAX_SKEW_SECS {
        return Err(SlackAuthError::Stale);
    }
    let expected = signature(signing_secret, timestamp.trim(), body);
    if bool::from(expected.as_bytes().ct_eq(signature_header.trim().as_bytes())) { Ok(()) } else { Err(SlackAuthError::BadSignature) }
}

/// Why Slack did not take a notice.
#[derive(Debug, thiserror::Error)]
pub enum SlackNotifyError {
    /// The request did not reach Slack or its answer did not arrive.
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    /// Slack answered, with a status other than success.
    #[error("Slack answered {0}")]
    Refused(reqwest::StatusCode),
}

/// Posts messages to a Slack channel through an incoming webhook.
#[derive(Clone)]
pub struct SlackWebhook {
    http: reqwest::Client,
    url: String,
}

impl std::fmt::Debug for SlackWebhook {
    // The URL is the credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWebhook").finish_non_exhaustive()
    }
}

impl SlackWebhook {
    pub fn new(http: reqwest::Client, url: impl Into<String>) -> Self {
        Self { http, url: url.into() }
    }

    /// Sends `text`; an error says why Slack did not take it, without the URL (a webhook URL is
    /// a credential).
    pub async fn notify(&self, text: &str) -> Result<(), SlackNotifyError> {
        let response =
            self.http.post(&self.url).json(&serde_json::json!({ "text": text })).send().await.map_err(reqwest::Error::without_url)?;
        if response.status().is_success() { Ok(()) } else { Err(SlackNotifyError::Refused(response.status())) }
    }
}

#[async_trait]
impl InvoiceFailureHook for SlackWebhook {
    async fn invoice_failed(&self, failure: &InvoiceFailure) {
        let order = failure.order_number.as_deref().unwrap_or("an order");
        let text = format!(":warning: {order} could not be invoiced and needs a person: {}", failure.reason);
        if let Err(err) = self.notify(&text).await {
            // Best effort: the escalation row is already written.
            tracing::warn!(error = %err, order, "Slack notice failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(signature(SECRET, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        assert_eq!(verify(SECRET, TIMESTAMP, BODY.as_bytes(), SIGNATURE, 1_531_420_618 + 10), Ok(()));
    }

    #[test]
    fn tampered_stale_or_malformed_requests_are_refused() {
        let now = 1_531_420_618;
        assert_eq!(verify(SECRET, TIMESTAMP, b"token=other", SIGNATURE, now), Err(SlackAuthError::BadSignature));
        assert_eq!(verify("wrong-secret", TIMESTAMP, BODY.as_bytes(), SIGNATURE, now), Err(SlackAuthError::BadSignature));
        assert_eq!(verify(SECRET, TIMESTAMP, BODY.as_bytes(), SIGNATURE, now + 301), Err(SlackAuthError::Stale));
        assert_eq!(verify(SECRET, "soon", BODY.as_bytes(), SIGNATURE, now), Err(SlackAuthError::BadTimestamp));
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
