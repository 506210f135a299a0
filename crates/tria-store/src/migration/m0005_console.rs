//! The web widget and the operator console: thumbs up/down on replies (`message_feedback`, one
//! verdict per message, the latest wins) and the tenants each operator key may work on
//! (`operator_tenants`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("message_feedback")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("conversation_id"))
                .col(uuid_uniq("message_id"))
                .col(string_len("rating", 8))
                .col(text_null("comment"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_message_feedback_message_id")
                        .from("message_feedback", "message_id")
                        .to("messages", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_message_feedback_tenant_id")
                        .from("message_feedback", "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("idx_message_feedback_tenant").table("message_feedback").col("tenant_id").take()).await?;

        m.create_table(
            Table::create()
                .table("operator_tenants")
                .col(uuid("key_id"))
                .col(uuid("tenant_id"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("key_id").col("tenant_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_operator_tenants_key_id")
                        .from("operator_tenants", "key_id")
                        .to("api_keys", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_operator_tenants_tenant_id")
                        .from("operator_tenants", "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        // The dashboard reads a tenant's messages by day.
        m.create_index(Index::create().name("idx_messages_tenant_created").table("messages").col("tenant_id").col("created_at").take())
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_messages_tenant_created").table("messages").to_owned()).await?;
        m.drop_table(Table::drop().table("operator_tenants").if_exists().take()).await?;
        m.drop_table(Table::drop().table("message_feedback").if_exists().take()).await?;
        Ok(())
    }
}
