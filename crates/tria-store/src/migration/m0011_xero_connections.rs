//! Per-tenant Xero connections made through the OAuth 2.0 authorization-code flow (issue 25).
//! `xero_connections` is one row per tenant: which organisation (`xero_tenant_id`) and Xero
//! connection it booked into, its status (`connected` / `revoked`), and the refresh claim — a
//! generation number and a lease — that serialises token refreshes across replicas (the
//! refresh token itself is a sealed `tenant_secrets` row, never here). `xero_connect_states`
//! holds the pending authorizations: the SHA-256 of the `state` handed to the browser, the
//! tenant it is bound to and its expiry; a row is deleted when used, so a state works once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn tenant_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_tenant_id"))
        .from(table, "tenant_id")
        .to("tenants", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("xero_connections")
                .if_not_exists()
                .col(pk_uuid("tenant_id"))
                .col(string_len("connection_id", 64))
                .col(string_len("xero_tenant_id", 64))
                .col(string_len("org_name", 255))
                .col(string_len("status", 16))
                .col(string_len("client_id", 128))
                .col(big_integer("token_generation"))
                .col(string_len_null("refresh_holder", 64))
                .col(timestamp_with_time_zone_null("refresh_lease_until"))
                .col(timestamp_with_time_zone("connected_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut tenant_fk("xero_connections"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("xero_connect_states")
                .if_not_exists()
                .col(string_len("state_hash", 64).primary_key())
                .col(uuid("tenant_id"))
                .col(string_len_null("organisation", 255))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut tenant_fk("xero_connect_states"))
                .take(),
        )
        .await?;
        // The purge of expired authorizations.
        m.create_index(
            Index::create().name("idx_xero_connect_states_expires").table("xero_connect_states").col("expires_at").if_not_exists().take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("xero_connect_states").if_exists().to_owned()).await?;
        m.drop_table(Table::drop().table("xero_connections").if_exists().to_owned()).await
    }
}
