//! L4, the component caches: intent verdicts, retrievals and embeddings under model/prompt versions.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tria_core::TenantId;

use super::{AnswerCache, elapsed, jitter};
use crate::envelope::{self, Kind};
use crate::keys::{self, digest, normalize};
use crate::stats::Level;

/// The component caches of L4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    Intent,
    Retrieval,
    Embedding,
}

impl Component {
    fn level(self) -> &'static str {
        match self {
            Component::Intent => "l4-intent",
            Component::Retrieval => "l4-retrieval",
            Component::Embedding => "l4-embedding",
        }
    }
}

impl AnswerCache {
    fn component_key(&self, tenant: TenantId, kind: Component, version: &str, text: &str, generation: u64) -> String {
        keys::key(&self.config.key_prefix, tenant, kind.level(), generation, &digest([version, &normalize(text)]))
    }

    fn component_ttl(&self, kind: Component) -> Duration {
        match kind {
            Component::Intent => self.config.l4_intent_ttl,
            Component::Retrieval => self.config.l4_retrieval_ttl,
            Component::Embedding => self.config.l4_embedding_ttl,
        }
    }

    /// A cached component for `text` under `version` (model or prompt version).
    pub async fn component<T: DeserializeOwned>(&self, tenant: TenantId, kind: Component, version: &str, text: &str) -> Option<T> {
        if !self.config.l4_enabled {
            return None;
        }
        let started = Instant::now();
        let generation = self.generation(tenant).await;
        let key = self.component_key(tenant, kind, version, text, generation);
        if self.backend().is_degraded() {
            self.stats.fallback(tenant, Level::L4);
        }
        let value = match self.backend().get(&key).await {
            Ok(Some(bytes)) => match envelope::decode::<T>(Kind::Component, &bytes) {
                Ok(v) => Some(v),
                Err(_) => {
                    let _ = self.backend().delete(&key).await;
                    None
                }
            },
            _ => None,
        };
        self.stats.lookup(tenant, Level::L4, value.is_some(), elapsed(started));
        value
    }

    pub async fn put_component<T: Serialize>(&self, tenant: TenantId, kind: Component, version: &str, text: &str, value: &T) {
        if !self.config.l4_enabled {
            return;
        }
        let generation = self.generation(tenant).await;
        let key = self.component_key(tenant, kind, version, text, generation);
        if let Ok(bytes) = envelope::encode(Kind::Component, value) {
            self.note_written(Level::L4, bytes.len());
            let _ = self.backend().set(&key, bytes, jitter(self.component_ttl(kind))).await;
        }
    }

    /// Cached component or `compute` (errors are returned and not cached).
    pub async fn component_or<T, F, Fut, E>(&self, tenant: TenantId, kind: Component, version: &str, text: &str, compute: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.component(tenant, kind, version, text).await {
            return Ok(v);
        }
        let value = compute().await?;
        self.put_component(tenant, kind, version, text, &value).await;
        Ok(value)
    }
}
