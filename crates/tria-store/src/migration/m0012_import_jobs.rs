//! Catalogue and customer uploads imported by a job (issue 25). `upload_spools` holds an upload's
//! bytes in chunks of about 1 MB, written while the request body arrives (never whole in memory)
//! and read back chunk by chunk by whichever replica runs the job. `import_staged_rows` holds the
//! validated rows of one attempt of a job, written in batches with the job's progress; the
//! attempt then copies them into `products` or `customers` in one transaction (the swap), so chat
//! sees the old rows or the new ones, never a mix.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key to `jobs`: the spool is written before its job exists (a job is only
        // enqueued once its whole upload is stored).
        m.create_table(
            Table::create()
                .table("upload_spools")
                .if_not_exists()
                .col(uuid("spool_id"))
                .col(integer("seq"))
                .col(blob("body"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().name("pk_upload_spools").col("spool_id").col("seq"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("import_staged_rows")
                .if_not_exists()
                .col(uuid("job_id"))
                // The job's attempt that staged the row: a retry never reads a dead attempt's rows.
                .col(integer("attempt"))
                .col(big_integer("seq"))
                // The validated row as JSON.
                .col(text("row"))
                .primary_key(Index::create().name("pk_import_staged_rows").col("job_id").col("attempt").col("seq"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_import_staged_rows_job_id")
                        .from("import_staged_rows", "job_id")
                        .to("jobs", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["import_staged_rows", "upload_spools"] {
            m.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
