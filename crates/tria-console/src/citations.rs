//! What a stored reply cites, readably: the chunk ids in a message's `sources` and, for each, the
//! policy's title, heading and opening words (catalogue entries, `product:SKU`, are labelled
//! from the SKU).

use std::collections::HashMap;

use serde::Serialize;
use tria_core::TenantId;
use tria_store::Store;
use uuid::Uuid;

use crate::ConsoleError;
use crate::rows::StoredMessage;

/// One cited source as the console and the widget show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Citation {
    pub id: String,
    pub title: String,
    pub heading: String,
    pub excerpt: String,
}

impl Citation {
    /// A source no label was found for (a deleted chunk): its id stands in for the title.
    pub fn unlabelled(id: &str) -> Self {
        Self { id: id.to_owned(), title: id.to_owned(), heading: String::new(), excerpt: String::new() }
    }
}

/// Cited chunk ids of a stored message (`product:SKU` for catalogue entries).
pub fn source_ids(m: &StoredMessage) -> Vec<String> {
    m.sources.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// The citations of every source `messages` cite, by source id (the tenant's chunks only).
pub async fn citation_labels(
    store: &Store,
    tenant: TenantId,
    messages: &[StoredMessage],
) -> Result<HashMap<String, Citation>, ConsoleError> {
    let ids: Vec<Uuid> = messages.iter().flat_map(source_ids).filter_map(|s| s.parse().ok()).collect();
    let mut labels: HashMap<String, Citation> = store
        .console()
        .chunk_labels(tenant, &ids)
        .await?
        .into_iter()
        .map(|l| (l.id.to_string(), Citation { id: l.id.to_string(), title: l.title, heading: l.heading, excerpt: l.excerpt }))
        .collect();
    for id in messages.iter().flat_map(source_ids) {
        if let Some(sku) = id.strip_prefix("product:") {
            let label = Citation { id: id.clone(), title: sku.to_owned(), heading: "Catalogue".to_owned(), excerpt: String::new() };
            labels.entry(id).or_insert(label);
        }
    }
    Ok(labels)
}
