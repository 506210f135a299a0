//! Orders by chat: the order draft each conversation is building (so a multi-turn order works
//! whichever instance answers the next message), and links between tickets and where they came
//! from (a Slack message, a conversation, a customer) so a reaction can resolve them.

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
                .table("order_drafts")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                // No foreign key: the draft is written before the conversation's first exchange.
                .col(uuid("conversation_id"))
                .col(uuid_null("customer_id"))
                .col(uuid_null("target_order_id"))
                .col(string_len("state", 24))
                .col(json("lines"))
                .col(json_null("pending"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut tenant_fk("order_drafts"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_order_drafts_tenant_conversation")
                .table("order_drafts")
                .col("tenant_id")
                .col("conversation_id")
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("ticket_links")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("ticket_ref", 64))
                .col(string_len("source", 16))
                .col(string_len_null("slack_channel", 64))
                .col(string_len_null("slack_ts", 64))
                .col(uuid_null("conversation_id"))
                .col(uuid_null("customer_id"))
                .col(uuid_null("escalation_id"))
                .col(string_len("status", 16))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut tenant_fk("ticket_links"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_ticket_links_slack")
                .table("ticket_links")
                .col("tenant_id")
                .col("slack_channel")
                .col("slack_ts")
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("idx_ticket_links_customer").table("ticket_links").col("tenant_id").col("customer_id").take())
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("ticket_links").if_exists().take()).await?;
        m.drop_table(Table::drop().table("order_drafts").if_exists().take()).await?;
        Ok(())
    }
}
