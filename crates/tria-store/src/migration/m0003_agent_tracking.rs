//! What the agent records per message and per tenant-day: the prompt version, cost and sentiment
//! of each message (cost reports, frustration detection), a per-tenant daily usage rollup
//! upserted with every exchange, and an index to find conversations that went quiet.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite accepts only one change per statement.
        m.alter_table(Table::alter().table("messages").add_column(string_len_null("prompt_version", 64)).take()).await?;
        m.alter_table(Table::alter().table("messages").add_column(double("cost_usd").default(0.0)).take()).await?;
        m.alter_table(Table::alter().table("messages").add_column(string_len_null("sentiment", 16)).take()).await?;

        m.create_table(
            Table::create()
                .table("tenant_usage_daily")
                .col(uuid("tenant_id"))
                .col(date("day"))
                .col(big_integer("messages").default(0))
                .col(big_integer("tokens_in").default(0))
                .col(big_integer("tokens_out").default(0))
                .col(double("cost_usd").default(0.0))
                .col(big_integer("cache_l1").default(0))
                .col(big_integer("cache_l2").default(0))
                .col(big_integer("cache_l3").default(0))
                .col(big_integer("tokens_saved").default(0))
                .col(timestamp_with_time_zone("updated_at"))
                .primary_key(Index::create().col("tenant_id").col("day"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tenant_usage_daily_tenant_id")
                        .from("tenant_usage_daily", "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_conversations_status_updated").table("conversations").col("status").col("updated_at").take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_conversations_status_updated").table("conversations").to_owned()).await?;
        m.drop_table(Table::drop().table("tenant_usage_daily").if_exists().take()).await?;
        m.alter_table(Table::alter().table("messages").drop_column("sentiment").take()).await?;
        m.alter_table(Table::alter().table("messages").drop_column("cost_usd").take()).await?;
        m.alter_table(Table::alter().table("messages").drop_column("prompt_version").take()).await?;
        Ok(())
    }
}
