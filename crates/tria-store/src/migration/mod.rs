//! Schema migrations, applied in order and recorded in `seaql_migrations`.

mod m0001_initial;
mod m0002_order_invoicing;
mod m0003_agent_tracking;
mod m0004_orders_chat;
mod m0005_console;
mod m0006_message_lookup;
mod m0007_verification_failures;
mod m0008_knowledge_jobs;
mod m0009_catalogue_columns;
mod m0010_tenant_secrets;
mod m0011_xero_connections;
mod m0012_import_jobs;
mod m0014_llm_ledger;
mod m0015_audit_log;
mod m0016_customer_erasures;

use sea_orm_migration::prelude::*;

/// Every migration Tria knows, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_order_invoicing::Migration),
            Box::new(m0003_agent_tracking::Migration),
            Box::new(m0004_orders_chat::Migration),
            Box::new(m0005_console::Migration),
            Box::new(m0006_message_lookup::Migration),
            Box::new(m0007_verification_failures::Migration),
            Box::new(m0008_knowledge_jobs::Migration),
            Box::new(m0009_catalogue_columns::Migration),
            Box::new(m0010_tenant_secrets::Migration),
            Box::new(m0011_xero_connections::Migration),
            Box::new(m0012_import_jobs::Migration),
            Box::new(m0014_llm_ledger::Migration),
            Box::new(m0015_audit_log::Migration),
            Box::new(m0016_customer_erasures::Migration),
        ]
    }
}
