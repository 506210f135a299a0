//! Xero per tenant, the way Xero apps connect: the deployment has one Xero *app*
//! ([`XeroApp`]); each tenant authorizes it for its own organisation through the OAuth 2.0
//! authorization-code flow ([`XeroConnector`]), and its invoices go there through its own
//! client and breaker ([`XeroDirectory`]). Refresh tokens rotate on every use; the new one is
//! stored sealed before the access token that came with it is used, and refreshes are
//! serialised across replicas by a claim in the store ([`TenantTokens`]).

mod app;
mod connect;
mod directory;
mod identity;
mod tokens;

pub use app::{ClientCredentials, XeroApp};
pub use connect::{ConnectError, ConnectStart, Connected, OrganisationChoice, STATE_TTL, XeroConnector, hash_state};
pub use directory::{XeroDirectory, reconnect_hint};
pub use identity::XeroIdentity;
pub use tokens::{RevocationHook, TenantTokens, TokenTiming};
