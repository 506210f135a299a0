//! Policy documents and the chunks cut from them.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};
use tria_core::TenantId;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::{policy_chunk, policy_document};
use crate::records::{IntoRecords, PolicyChunk, PolicyDocument};

#[derive(Clone, Debug)]
pub struct NewChunk {
    pub ordinal: i32,
    pub heading_path: String,
    pub text: String,
    pub token_count: i32,
}

#[derive(Clone, Copy, Debug)]
pub struct PolicyRepo<'a> {
    pub(crate) db: &'a crate::Db,
}

impl PolicyRepo<'_> {
    /// Stores a document and its chunks unless a document at `source_path` already has
    /// `content_hash`. Returns `true` when anything was written (the chunks were replaced and
    /// their embeddings cleared, so the indexer knows to embed them again).
    pub async fn sync_document(
        &self,
        tenant: TenantId,
        source_path: &str,
        title: &str,
        content_hash: &str,
        chunks: Vec<NewChunk>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let existing = policy_document::Entity::find()
            .filter(policy_document::Column::TenantId.eq(tenant.0))
            .filter(policy_document::Column::SourcePath.eq(source_path))
            .one(&txn)
            .await?;
        let document_id = match existing {
            Some(doc) if doc.content_hash == content_hash && doc.title == title => return Ok(false),
            Some(doc) => {
                let id = doc.id;
                let version = doc.version + 1;
                let mut active: policy_document::ActiveModel = doc.into();
                active.title = Set(title.to_owned());
                active.content_hash = Set(content_hash.to_owned());
                active.version = Set(version);
                active.updated_at = Set(Utc::now());
                active.update(&txn).await?;
                policy_chunk::Entity::delete_many().filter(policy_chunk::Column::DocumentId.eq(id)).exec(&txn).await?;
                id
            }
            None => {
                let id = Uuid::new_v4();
                policy_document::ActiveModel {
                    id: Set(id),
                    tenant_id: Set(tenant.0),
                    title: Set(title.to_owned()),
                    source_path: Set(source_path.to_owned()),
                    content_hash: Set(content_hash.to_owned()),
                    version: Set(1),
                    updated_at: Set(Utc::now()),
                }
                .insert(&txn)
                .await?;
                id
            }
        };
        let rows: Vec<_> = chunks
            .into_iter()
            .map(|c| policy_chunk::ActiveModel {
                id: Set(Uuid::new_v4()),
                tenant_id: Set(tenant.0),
                document_id: Set(document_id),
                ordinal: Set(c.ordinal),
                heading_path: Set(c.heading_path),
                text: Set(c.text),
                token_count: Set(c.token_count),
                embedding: Set(None),
                embedding_model: Set(None),
            })
            .collect();
        if !rows.is_empty() {
            policy_chunk::Entity::insert_many(rows).exec(&txn).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    pub async fn documents(&self, tenant: TenantId) -> Result<Vec<PolicyDocument>, StoreError> {
        Ok(policy_document::Entity::find()
            .filter(policy_document::Column::TenantId.eq(tenant.0))
            .order_by_asc(policy_document::Column::SourcePath)
            .all(self.db)
            .await?
            .records())
    }

    /// Every chunk that serves the tenant, grouped by document in reading order: fixture
    /// policies and the uploaded documents of its current knowledge version (one statement, so
    /// a knowledge swap is seen whole or not at all).
    pub async fn chunks(&self, tenant: TenantId) -> Result<Vec<PolicyChunk>, StoreError> {
        Ok(policy_chunk::Entity::find()
            .filter(policy_chunk::Column::TenantId.eq(tenant.0))
            .filter(super::knowledge::serving_chunks(tenant))
            .order_by_asc(policy_chunk::Column::DocumentId)
            .order_by_asc(policy_chunk::Column::Ordinal)
            .all(self.db)
            .await?
            .records())
    }

    /// Stores a chunk's embedding (little-endian f32s) and the model that produced it.
    pub async fn set_embedding(&self, tenant: TenantId, chunk_id: Uuid, vector: &[f32], model: &str) -> Result<(), StoreError> {
        let row = policy_chunk::Entity::find_by_id(chunk_id)
            .filter(policy_chunk::Column::TenantId.eq(tenant.0))
            .one(self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("chunk {chunk_id}")))?;
        let mut active: policy_chunk::ActiveModel = row.into();
        active.embedding = Set(Some(vector.iter().flat_map(|f| f.to_le_bytes()).collect()));
        active.embedding_model = Set(Some(model.to_owned()));
        active.update(self.db).await?;
        Ok(())
    }
}
