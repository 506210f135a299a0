//! Xero: the Accounting API client, its OAuth2 tokens, each tenant's own connection through the
//! authorization-code flow ([`tenant`]) and (feature `fake`) a stateful loopback fake of the API
//! and its identity side for tests and the chaos run.

mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod tenant;
mod token;
pub(crate) mod wire;

pub use client::{XeroClient, XeroConfig};
pub use token::{Grant, OAuthConfig, OAuthTokens, StaticToken, TokenSource};
