//! Uploaded knowledge and background jobs (issue 25). A document version is a `policy_documents`
//! row (its chunks are ordinary `policy_chunks`) described by a `knowledge_documents` row; a
//! knowledge version is the set of document versions that serve (`knowledge_version_documents`),
//! and `tenant_knowledge.current_version` names the one serving now, so a swap or a rollback is
//! one UPDATE. `jobs` is the leased work queue for uploads; `job_inputs` keeps an upload's raw
//! body apart so polling a job never reads megabytes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn fk(from_table: &'static str, col: &'static str, to_table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{col}"))
        .from(from_table, col)
        .to(to_table, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("jobs")
                .if_not_exists()
                .col(pk_uuid("id"))
                .col(string_len("kind", 64))
                .col(uuid("tenant_id"))
                .col(string_len("status", 16))
                .col(big_integer("progress_done"))
                .col(big_integer("progress_total"))
                .col(json("errors"))
                .col(json("payload"))
                .col(integer("attempts"))
                .col(string_len_null("lease_owner", 64))
                .col(timestamp_with_time_zone_null("lease_expires_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .foreign_key(&mut fk("jobs", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_jobs_status_created").table("jobs").col("status").col("created_at").if_not_exists().take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("job_inputs")
                .if_not_exists()
                .col(pk_uuid("job_id"))
                .col(blob("body"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_job_inputs_job_id")
                        .from("job_inputs", "job_id")
                        .to("jobs", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("knowledge_documents")
                .if_not_exists()
                // The same id as the version's `policy_documents` row.
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("doc_id", 128))
                .col(integer("version"))
                .col(string("title"))
                .col(string_len("content_type", 64))
                .col(big_integer("size_bytes"))
                .col(string_len("sha256", 64))
                .col(integer("chunk_count"))
                // The job that staged it; a retried job removes what it staged before.
                .col(uuid("job_id"))
                // Null while staged; set when the version is published.
                .col(integer_null("knowledge_version"))
                .col(timestamp_with_time_zone_null("indexed_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("knowledge_documents", "tenant_id", "tenants"))
                .foreign_key(&mut fk("knowledge_documents", "id", "policy_documents"))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_knowledge_documents_version")
                .table("knowledge_documents")
                .col("tenant_id")
                .col("doc_id")
                .col("version")
                .unique()
                .if_not_exists()
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("knowledge_versions")
                .if_not_exists()
                .col(uuid("tenant_id"))
                .col(integer("version"))
                .col(string("summary"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("tenant_id").col("version"))
                .foreign_key(&mut fk("knowledge_versions", "tenant_id", "tenants"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("knowledge_version_documents")
                .if_not_exists()
                .col(uuid("tenant_id"))
                .col(integer("version"))
                .col(uuid("document_id"))
                .primary_key(Index::create().col("tenant_id").col("version").col("document_id"))
                .foreign_key(&mut fk("knowledge_version_documents", "tenant_id", "tenants"))
                .foreign_key(&mut fk("knowledge_version_documents", "document_id", "knowledge_documents"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tenant_knowledge")
                .if_not_exists()
                .col(pk_uuid("tenant_id"))
                .col(integer("current_version"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("tenant_knowledge", "tenant_id", "tenants"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["tenant_knowledge", "knowledge_version_documents", "knowledge_versions", "knowledge_documents", "job_inputs", "jobs"]
        {
            m.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
