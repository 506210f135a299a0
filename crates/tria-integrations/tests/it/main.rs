//! tria-integrations integration tests: the Xero client against the loopback fake, the spec
//! contract, and the invoice worker on SQLite and PostgreSQL.

mod contract;
mod gorgias;
mod identity_contract;
mod prism;
mod support;
mod worker;
mod xero_client;
mod xero_tenant;
