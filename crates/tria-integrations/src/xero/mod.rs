//! Xero: the Accounting API client, its OAuth2 tokens and (feature `fake`) a stateful loopback
//! fake of the API for tests and the chaos run.

mod client;
#[cfg(feature = "fake")]
pub mod fake;
mod token;
pub(crate) mod wire;

pub use client::{XeroClient, XeroConfig};
pub use token::{Grant, OAuthConfig, OAuthTokens, StaticToken, TokenSource};
