//! Exactly-once invoicing: leases on outbox rows (so a crashed worker's row is picked up again
//! once its lease expires), the reason an order failed, and escalations opened for failed orders.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite accepts only one change per statement.
        m.alter_table(Table::alter().table("integration_outbox").add_column(string_len_null("lease_token", 64)).take()).await?;
        m.alter_table(Table::alter().table("integration_outbox").add_column(timestamp_with_time_zone_null("lease_expires_at")).take())
            .await?;
        m.alter_table(Table::alter().table("orders").add_column(text_null("failure_reason")).take()).await?;

        m.create_table(
            Table::create()
                .table("order_escalations")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("order_id"))
                .col(text("reason"))
                .col(string_len("status", 16))
                .col(string_null("ticket_ref"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_order_escalations_order_id")
                        .from("order_escalations", "order_id")
                        .to("orders", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_order_escalations_tenant_id")
                        .from("order_escalations", "tenant_id")
                        .to("tenants", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_order_escalations_tenant_status").table("order_escalations").col("tenant_id").col("status").take(),
        )
        .await?;
        m.create_index(Index::create().name("idx_outbox_kind_state").table("integration_outbox").col("kind").col("state").take()).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_outbox_kind_state").table("integration_outbox").to_owned()).await?;
        m.drop_table(Table::drop().table("order_escalations").if_exists().take()).await?;
        m.alter_table(Table::alter().table("orders").drop_column("failure_reason").take()).await?;
        m.alter_table(Table::alter().table("integration_outbox").drop_column("lease_expires_at").take()).await?;
        m.alter_table(Table::alter().table("integration_outbox").drop_column("lease_token").take()).await?;
        Ok(())
    }
}
