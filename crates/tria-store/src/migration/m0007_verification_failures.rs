//! Failed customer verifications, counted per session, per customer number and per client so
//! the chat can stop a guesser (see `repo::verifications`). The index serves the one query the
//! check makes: one subject's failures since a time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLE: &str = "verification_failures";
const INDEX: &str = "idx_verification_failures_subject";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TABLE)
                .if_not_exists()
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("scope", 16))
                .col(string_len("subject", 128))
                .col(timestamp_with_time_zone("failed_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_verification_failures_tenant_id")
                        .from(TABLE, "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name(INDEX).table(TABLE).col("tenant_id").col("scope").col("subject").col("failed_at").if_not_exists().take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TABLE).if_exists().to_owned()).await
    }
}
