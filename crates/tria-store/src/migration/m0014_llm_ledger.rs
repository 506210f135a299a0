//! The LLM cost ledger (issue 26): one row per model call — every attempt the pipeline made,
//! whether its reply was used, discarded by validation, regenerated, timed out, cancelled or
//! failed — and one row per cache hit with what it saved. Each row keeps its tokens (as the
//! provider reported them, or estimated and flagged), the price in force and the cost at that
//! price, so a later price change never rewrites history. `day` is the UTC date as text
//! (`YYYY-MM-DD`) so a day's totals group the same way on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // No foreign keys: a row outlives nothing it names, and a deleted tenant's spend stays
        // on the books.
        m.create_table(
            Table::create()
                .table("llm_ledger")
                .if_not_exists()
                .col(uuid("id").primary_key())
                .col(uuid_null("tenant_id"))
                .col(uuid_null("conversation_id"))
                .col(uuid_null("message_id"))
                .col(string_null("intent"))
                // `call` (a model call) or `cache_hit` (an answer served from the cache).
                .col(string("kind"))
                .col(string("provider"))
                .col(string("model"))
                .col(integer("attempts"))
                .col(big_integer("input_tokens"))
                .col(big_integer("output_tokens"))
                .col(big_integer("cached_input_tokens"))
                .col(boolean("tokens_estimated"))
                .col(string("outcome"))
                // Micro-dollars per million tokens in force when the call was made.
                .col(big_integer("price_input_per_mtok_micro"))
                .col(big_integer("price_output_per_mtok_micro"))
                .col(big_integer("price_cached_input_per_mtok_micro"))
                .col(big_integer("cost_micro_usd"))
                .col(big_integer("saved_micro_usd"))
                .col(integer("latency_ms"))
                .col(string("day"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("ix_llm_ledger_tenant_day").table("llm_ledger").col("tenant_id").col("day").to_owned()).await?;
        m.create_index(Index::create().name("ix_llm_ledger_day").table("llm_ledger").col("day").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("llm_ledger").if_exists().to_owned()).await
    }
}
