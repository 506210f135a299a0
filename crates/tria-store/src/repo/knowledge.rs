//! A tenant's uploaded knowledge, versioned. Indexing *stages* a document version (a
//! `policy_documents` row with its chunks, described by a `knowledge_documents` row) that serves
//! nobody yet; *publishing* writes a new knowledge version — the current set with that document
//! replaced (or removed) — and points `tenant_knowledge.current_version` at it in the same
//! transaction. Chunk reads (`PolicyRepo::chunks`) take the current version's documents plus the
//! documents that were never uploaded (fixture policies), in one statement, so a reader sees the
//! old set or the new one, never a mix. Rolling back is one UPDATE of the current version.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionTrait,
};
use tria_core::TenantId;
use uuid::Uuid;

use super::NewChunk;
use super::outbox::numbered_placeholders;
use crate::StoreError;
use crate::entity::{knowledge_document, knowledge_version, knowledge_version_document, policy_chunk, policy_document, tenant_knowledge};
use crate::records::{IntoRecords, KnowledgeDocument, KnowledgeVersion};

/// A document version to stage.
#[derive(Clone, Debug)]
pub struct NewDocumentVersion {
    pub doc_id: String,
    pub title: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// The job staging it: a retry of that job first removes what it staged before.
    pub job_id: Uuid,
}

/// What a new knowledge version changes.
#[derive(Clone, Debug)]
pub enum KnowledgeChange {
    /// Serve this staged document version (replacing any other version of its `doc_id`).
    Put(Uuid),
    /// Stop serving this document.
    Delete(String),
}

#[derive(Clone, Copy, Debug)]
pub struct KnowledgeRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

/// Chunk rows that serve for `tenant`: their document was never uploaded (a fixture policy) or
/// belongs to the tenant's current knowledge version.
pub(crate) fn serving_chunks(tenant: TenantId) -> Expr {
    let uploaded = Query::select()
        .column(knowledge_document::Column::Id)
        .from(knowledge_document::Entity)
        .and_where(knowledge_document::Column::TenantId.eq(tenant.0))
        .to_owned();
    let current = Query::select()
        .column(tenant_knowledge::Column::CurrentVersion)
        .from(tenant_knowledge::Entity)
        .and_where(tenant_knowledge::Column::TenantId.eq(tenant.0))
        .to_owned();
    let members = Query::select()
        .column(knowledge_version_document::Column::DocumentId)
        .from(knowledge_version_document::Entity)
        .and_where(knowledge_version_document::Column::TenantId.eq(tenant.0))
        .and_where(Expr::col((knowledge_version_document::Entity, knowledge_version_document::Column::Version)).in_subquery(current))
        .to_owned();
    policy_chunk::Column::DocumentId.not_in_subquery(uploaded).or(policy_chunk::Column::DocumentId.in_subquery(members))
}

impl KnowledgeRepo<'_> {
    /// Stores a document version and its chunks without serving them; returns it with its
    /// version number (one more than the document's newest).
    pub async fn stage(&self, tenant: TenantId, new: NewDocumentVersion, chunks: Vec<NewChunk>) -> Result<KnowledgeDocument, StoreError> {
        let txn = self.db.begin().await?;
        // Write first: on SQLite a transaction that reads and then writes fails at once with
        // SQLITE_BUSY_SNAPSHOT (517) when another connection committed in between (a chat's
        // exchange, another job), which no busy timeout retries; the job then waited out its
        // lease. Taking the tenant's knowledge lock first waits for the writer instead.
        lock_current(&txn, tenant).await?;
        // What an earlier attempt of this job staged and never published.
        let leftovers: Vec<Uuid> = knowledge_document::Entity::find()
            .select_only()
            .column(knowledge_document::Column::Id)
            .filter(knowledge_document::Column::TenantId.eq(tenant.0))
            .filter(knowledge_document::Column::JobId.eq(new.job_id))
            .filter(knowledge_document::Column::KnowledgeVersion.is_null())
            .into_tuple()
            .all(&txn)
            .await?;
        if !leftovers.is_empty() {
            knowledge_document::Entity::delete_many().filter(knowledge_document::Column::Id.is_in(leftovers.clone())).exec(&txn).await?;
            policy_chunk::Entity::delete_many().filter(policy_chunk::Column::DocumentId.is_in(leftovers.clone())).exec(&txn).await?;
            policy_document::Entity::delete_many().filter(policy_document::Column::Id.is_in(leftovers)).exec(&txn).await?;
        }
        let newest: Option<i32> = knowledge_document::Entity::find()
            .select_only()
            .column_as(knowledge_document::Column::Version.max(), "v")
            .filter(knowledge_document::Column::TenantId.eq(tenant.0))
            .filter(knowledge_document::Column::DocId.eq(new.doc_id.as_str()))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten();
        let version = newest.unwrap_or(0) + 1;
        let id = Uuid::new_v4();
        let now = Utc::now();
        policy_document::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.0),
            title: Set(new.title.clone()),
            source_path: Set(format!("documents/{}@v{version}", new.doc_id)),
            content_hash: Set(new.sha256.clone()),
            version: Set(version),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let chunk_count = chunks.len();
        let rows: Vec<_> = chunks
            .into_iter()
            .map(|c| policy_chunk::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(tenant.0),
                document_id: Set(id),
                ordinal: Set(c.ordinal),
                heading_path: Set(c.heading_path),
                text: Set(c.text),
                token_count: Set(c.token_count),
                embedding: Set(None),
                embedding_model: Set(None),
            })
            .collect();
        for batch in rows.chunks(500) {
            policy_chunk::Entity::insert_many(batch.to_vec()).exec(&txn).await?;
        }
        let row = knowledge_document::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.0),
            doc_id: Set(new.doc_id),
            version: Set(version),
            title: Set(new.title),
            content_type: Set(new.content_type),
            size_bytes: Set(new.size_bytes),
            sha256: Set(new.sha256),
            chunk_count: Set(i32::try_from(chunk_count).unwrap_or(i32::MAX)),
            job_id: Set(new.job_id),
            knowledge_version: Set(None),
            indexed_at: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Writes the knowledge version that applies `change` to the current one and makes it
    /// current, in one transaction; returns its number. Deleting a document that does not serve
    /// is `NotFound`.
    pub async fn publish(&self, tenant: TenantId, change: KnowledgeChange) -> Result<i32, StoreError> {
        let txn = self.db.begin().await?;
        let current = lock_current(&txn, tenant).await?;
        let serving = members(&txn, tenant, current).await?;
        let (mut next_members, summary, staged) = match &change {
            KnowledgeChange::Put(id) => {
                let staged = knowledge_document::Entity::find_by_id(*id)
                    .filter(knowledge_document::Column::TenantId.eq(tenant.0))
                    .one(&txn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("document version {id}")))?;
                let keep: Vec<Uuid> = serving.iter().filter(|d| d.doc_id != staged.doc_id).map(|d| d.id).collect();
                (keep, format!("put {} (v{})", staged.doc_id, staged.version), Some(staged.id))
            }
            KnowledgeChange::Delete(doc_id) => {
                if !serving.iter().any(|d| &d.doc_id == doc_id) {
                    return Err(StoreError::NotFound(format!("document {doc_id}")));
                }
                (serving.iter().filter(|d| &d.doc_id != doc_id).map(|d| d.id).collect(), format!("delete {doc_id}"), None)
            }
        };
        next_members.extend(staged);
        let newest: Option<i32> = knowledge_version::Entity::find()
            .select_only()
            .column_as(knowledge_version::Column::Version.max(), "v")
            .filter(knowledge_version::Column::TenantId.eq(tenant.0))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten();
        let version = newest.unwrap_or(0) + 1;
        let now = Utc::now();
        knowledge_version::ActiveModel { tenant_id: Set(tenant.0), version: Set(version), summary: Set(summary), created_at: Set(now) }
            .insert(&txn)
            .await?;
        let rows: Vec<_> = next_members
            .iter()
            .map(|id| knowledge_version_document::ActiveModel { tenant_id: Set(tenant.0), version: Set(version), document_id: Set(*id) })
            .collect();
        for batch in rows.chunks(500) {
            knowledge_version_document::Entity::insert_many(batch.to_vec()).exec(&txn).await?;
        }
        if let Some(id) = staged {
            knowledge_document::Entity::update_many()
                .col_expr(knowledge_document::Column::KnowledgeVersion, Expr::value(version))
                .col_expr(knowledge_document::Column::IndexedAt, Expr::value(now))
                .filter(knowledge_document::Column::Id.eq(id))
                .exec(&txn)
                .await?;
        }
        set_current(&txn, tenant, version).await?;
        txn.commit().await?;
        Ok(version)
    }

    /// Makes an earlier (or later) knowledge version current again: one UPDATE.
    pub async fn rollback(&self, tenant: TenantId, version: i32) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let exists = knowledge_version::Entity::find_by_id((tenant.0, version)).one(&txn).await?.is_some();
        if !exists {
            return Err(StoreError::NotFound(format!("knowledge version {version}")));
        }
        lock_current(&txn, tenant).await?;
        set_current(&txn, tenant, version).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The knowledge version in which the document staged by `job_id` was published, if it
    /// was (a retried index job then has nothing left to do).
    pub async fn published_by_job(&self, tenant: TenantId, job_id: Uuid) -> Result<Option<i32>, StoreError> {
        Ok(knowledge_document::Entity::find()
            .filter(knowledge_document::Column::TenantId.eq(tenant.0))
            .filter(knowledge_document::Column::JobId.eq(job_id))
            .filter(knowledge_document::Column::KnowledgeVersion.is_not_null())
            .one(self.db)
            .await?
            .and_then(|row| row.knowledge_version))
    }

    /// The knowledge version serving now; `None` before the first upload.
    pub async fn current_version(&self, tenant: TenantId) -> Result<Option<i32>, StoreError> {
        Ok(tenant_knowledge::Entity::find_by_id(tenant.0).one(self.db).await?.map(|row| row.current_version).filter(|v| *v > 0))
    }

    /// The document versions serving now, by `doc_id`.
    pub async fn documents(&self, tenant: TenantId) -> Result<Vec<KnowledgeDocument>, StoreError> {
        let current = self.current_version(tenant).await?.unwrap_or(0);
        members(self.db, tenant, current).await
    }

    /// Every knowledge version, newest first.
    pub async fn versions(&self, tenant: TenantId) -> Result<Vec<KnowledgeVersion>, StoreError> {
        let current = self.current_version(tenant).await?;
        let rows = knowledge_version::Entity::find()
            .filter(knowledge_version::Column::TenantId.eq(tenant.0))
            .order_by_desc(knowledge_version::Column::Version)
            .all(self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let documents = knowledge_version_document::Entity::find()
                .filter(knowledge_version_document::Column::TenantId.eq(tenant.0))
                .filter(knowledge_version_document::Column::Version.eq(row.version))
                .count(self.db)
                .await?;
            out.push(KnowledgeVersion {
                version: row.version,
                summary: row.summary,
                created_at: row.created_at,
                documents,
                current: current == Some(row.version),
            });
        }
        Ok(out)
    }
}

/// Takes the tenant's knowledge lock (its `tenant_knowledge` row, created on first use) and
/// returns the current version (0: none). PostgreSQL locks the row; SQLite's INSERT takes the
/// database's one write lock for the rest of the transaction.
async fn lock_current(txn: &DatabaseTransaction, tenant: TenantId) -> Result<i32, StoreError> {
    let backend = txn.get_database_backend();
    let insert =
        "INSERT INTO tenant_knowledge (tenant_id, current_version, updated_at) VALUES (?, 0, ?) ON CONFLICT (tenant_id) DO NOTHING";
    txn.execute_raw(Statement::from_sql_and_values(backend, numbered_placeholders(insert, backend), [tenant.0.into(), Utc::now().into()]))
        .await?;
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE" } else { "" };
    let select = format!("SELECT current_version FROM tenant_knowledge WHERE tenant_id = ?{lock}");
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, numbered_placeholders(&select, backend), [tenant.0.into()]))
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))?;
    Ok(row.try_get::<i32>("", "current_version")?)
}

async fn set_current(txn: &DatabaseTransaction, tenant: TenantId, version: i32) -> Result<(), StoreError> {
    tenant_knowledge::Entity::update_many()
        .col_expr(tenant_knowledge::Column::CurrentVersion, Expr::value(version))
        .col_expr(tenant_knowledge::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(tenant_knowledge::Column::TenantId.eq(tenant.0))
        .exec(txn)
        .await?;
    Ok(())
}

/// The document versions of knowledge version `version`, by `doc_id`.
async fn members(db: &impl ConnectionTrait, tenant: TenantId, version: i32) -> Result<Vec<KnowledgeDocument>, StoreError> {
    let ids = Query::select()
        .column(knowledge_version_document::Column::DocumentId)
        .from(knowledge_version_document::Entity)
        .and_where(knowledge_version_document::Column::TenantId.eq(tenant.0))
        .and_where(knowledge_version_document::Column::Version.eq(version))
        .to_owned();
    Ok(knowledge_document::Entity::find()
        .filter(knowledge_document::Column::TenantId.eq(tenant.0))
        .filter(knowledge_document::Column::Id.in_subquery(ids))
        .order_by_asc(knowledge_document::Column::DocId)
        .all(db)
        .await?
        .records())
}
