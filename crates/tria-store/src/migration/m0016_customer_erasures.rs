//! Customers erased on request (issue 29): one row per erasure, holding no personal data — the
//! SHA-256 digests of the tenant-scoped customer number and email (so a repeated request is
//! recognised and answered 200 with nothing left to erase, instead of 404) and what the erasure
//! removed and kept. A digest only confirms a number or email someone already has.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLE: &str = "customer_erasures";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TABLE)
                .if_not_exists()
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("number_digest", 64))
                .col(string_len_null("email_digest", 64))
                .col(string_len("request_id", 128))
                .col(json("report"))
                .col(timestamp_with_time_zone("erased_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_customer_erasures_tenant_id")
                        .from(TABLE, "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_customer_erasures_number").table(TABLE).col("tenant_id").col("number_digest").if_not_exists().take(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_customer_erasures_email").table(TABLE).col("tenant_id").col("email_digest").if_not_exists().take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TABLE).if_exists().to_owned()).await
    }
}
