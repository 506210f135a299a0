//! Tenants' integration secrets, sealed (`tria-secrets`): one row per tenant and secret name.
//! The row holds the id of the master key that sealed it (so a rotation can find the rows still
//! under an old key and resume where it stopped), the nonce, the ciphertext and the masked hint
//! admins see; never the plaintext, never the key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLE: &str = "tenant_secrets";
const KEY_INDEX: &str = "idx_tenant_secrets_key_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TABLE)
                .if_not_exists()
                .col(uuid("tenant_id"))
                .col(string_len("name", 64))
                .col(string_len("key_id", 32))
                .col(blob("nonce"))
                .col(blob("ciphertext"))
                .col(string_len("hint", 32))
                .col(timestamp_with_time_zone("updated_at"))
                .primary_key(Index::create().name("pk_tenant_secrets").col("tenant_id").col("name"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tenant_secrets_tenant_id")
                        .from(TABLE, "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        // The rotation's query: rows not yet under the new key.
        m.create_index(Index::create().name(KEY_INDEX).table(TABLE).col("key_id").if_not_exists().take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TABLE).if_exists().to_owned()).await
    }
}
