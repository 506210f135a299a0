//! The audit log (issue 29): one row per admin or operator action — who (the key's id and
//! role), on which tenant, what (`action`, `target`), when, and the request's `x-request-id`.
//! Append-only: no repository method updates or deletes a row, and a trigger refuses any
//! `UPDATE` on both backends, so not even a stray statement can rewrite history. No foreign
//! keys: an entry outlives the key and the tenant it names (a deleted tenant's history stays).
//! `seq` orders entries for paging (a cursor is the last `seq` seen).

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const TABLE: &str = "audit_log";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TABLE)
                .if_not_exists()
                .col(big_integer("seq").primary_key().auto_increment())
                .col(uuid("id").unique_key())
                .col(uuid_null("tenant_id"))
                .col(string_len_null("tenant_slug", 64))
                .col(uuid_null("actor_key_id"))
                .col(string_len("actor_role", 16))
                .col(string_len("action", 64))
                .col(string_len("target", 255))
                .col(string_len("request_id", 128))
                .col(json("details"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("idx_audit_log_tenant_seq").table(TABLE).col("tenant_id").col("seq").if_not_exists().take())
            .await?;
        m.create_index(Index::create().name("idx_audit_log_created").table(TABLE).col("created_at").if_not_exists().take()).await?;
        let db = m.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log").await.ok();
        db.execute_unprepared("DROP TRIGGER IF EXISTS audit_log_no_update").await.ok();
        m.drop_table(Table::drop().table(TABLE).if_exists().to_owned()).await
    }
}
