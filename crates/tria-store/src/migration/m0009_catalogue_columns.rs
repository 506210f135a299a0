//! Columns the catalogue and customer uploads carry (issue 25): a product's `category`, a
//! customer's `phone`, and `active`/`updated_at` on customers so a `?mode=replace` upload can
//! retire the customers it does not list without deleting rows their orders reference.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one column at a time.
        m.alter_table(Table::alter().table("products").add_column(string_null("category")).take()).await?;
        m.alter_table(Table::alter().table("customers").add_column(string_null("phone")).take()).await?;
        m.alter_table(Table::alter().table("customers").add_column(boolean("active").default(true)).take()).await?;
        m.alter_table(Table::alter().table("customers").add_column(timestamp_with_time_zone_null("updated_at")).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [("customers", "updated_at"), ("customers", "active"), ("customers", "phone"), ("products", "category")] {
            m.alter_table(Table::alter().table(table).drop_column(Alias::new(column)).take()).await?;
        }
        Ok(())
    }
}
