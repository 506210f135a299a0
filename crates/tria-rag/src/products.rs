//! Catalogue search: products by SKU, name and description with the same hybrid machinery as
//! policies. An exact SKU in the query always ranks that product first.

use tria_core::TenantId;
use tria_store::Store;
use uuid::Uuid;

use crate::RagError;
use crate::bm25::Bm25Index;
use crate::embed::Embedder;
use crate::flat::FlatVectors;
use crate::hybrid::{HybridIndex, RetrievalMode};

/// What catalogue search knows about a product.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductDoc {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub unit_price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub active: bool,
}

impl ProductDoc {
    fn search_text(&self) -> String {
        format!("{} {} {}", self.sku, self.name, self.description)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProductHit {
    pub product: ProductDoc,
    pub score: f32,
}

/// One tenant's catalogue, searchable.
#[derive(Clone, Debug, Default)]
pub struct ProductIndex {
    products: Vec<ProductDoc>,
    index: HybridIndex,
}

impl ProductIndex {
    /// Builds the index, embedding every product when an embedder is given (a catalogue of a
    /// hundred products takes well under a second).
    pub fn build(products: Vec<ProductDoc>, embedder: Option<&dyn Embedder>) -> Result<Self, RagError> {
        let texts: Vec<String> = products.iter().map(ProductDoc::search_text).collect();
        let lexical = Bm25Index::build(texts.iter().map(String::as_str));
        let vectors = match embedder {
            Some(embedder) if !products.is_empty() => {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let mut flat = FlatVectors::with_capacity(embedder.dimension(), products.len());
                for v in crate::embed::blocking_embed(|| embedder.embed_batch(&refs))? {
                    flat.push(&v);
                }
                Some(flat)
            }
            _ => None,
        };
        Ok(Self { products, index: HybridIndex::new(lexical, vectors) })
    }

    /// Loads and indexes the tenant's catalogue from the store.
    pub async fn load(store: &Store, tenant: TenantId, embedder: Option<&dyn Embedder>) -> Result<Self, RagError> {
        let products = store
            .catalogue()
            .list(tenant)
            .await?
            .into_iter()
            .map(|p| ProductDoc {
                id: p.id,
                sku: p.sku,
                name: p.name,
                description: p.description,
                unit: p.unit,
                unit_price_minor: p.unit_price_minor,
                currency: p.currency,
                stock: p.stock,
                active: p.active,
            })
            .collect();
        Self::build(products, embedder)
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    pub fn is_hybrid(&self) -> bool {
        self.index.has_vectors()
    }

    /// Every product, in catalogue order.
    pub fn products(&self) -> &[ProductDoc] {
        &self.products
    }

    /// The best `k` products for `query`; SKUs written in the query come first.
    pub fn search(&self, query: &str, query_vector: Option<&[f32]>, k: usize) -> Vec<ProductHit> {
        let upper = query.to_uppercase();
        let mut hits: Vec<ProductHit> = self
            .products
            .iter()
            .filter(|p| contains_token(&upper, &p.sku.to_uppercase()))
            .map(|p| ProductHit { product: p.clone(), score: f32::INFINITY })
            .collect();
        for ranked in self.index.search(RetrievalMode::Hybrid, query, query_vector, k) {
            if hits.len() >= k {
                break;
            }
            let Some(product) = self.products.get(ranked.doc) else { continue };
            if !hits.iter().any(|h| h.product.id == product.id) {
                hits.push(ProductHit { product: product.clone(), score: ranked.score });
            }
        }
        hits.truncate(k);
        hits
    }
}

/// `needle` occurs in `haystack` not glued to other SKU characters (letters, digits, dashes).
fn contains_token(haystack: &str, needle: &str) -> bool {
    let is_sku_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(is_sku_char) && !after.is_some_and(is_sku_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(sku: &str, name: &str, description: &str) -> ProductDoc {
        ProductDoc {
            id: Uuid::new_v4(),
            sku: sku.into(),
            name: name.into(),
            description: description.into(),
            unit: "case".into(),
            unit_price_minor: 100,
            currency: "USD".into(),
            stock: 1,
            active: true,
        }
    }

    #[test]
    fn exact_skus_win_and_names_are_searchable() {
        let index = ProductIndex::build(
            vec![
                product("NW-CUP-12OZ", "Hot Cup 12 oz", "single wall paper cup"),
                product("NW-CUP-12OZ-DW", "Double-Wall Hot Cup 12 oz", "insulated kraft cup"),
                product("NW-SYR-VAN", "Vanilla Syrup 750 ml", "sweet vanilla syrup"),
            ],
            None,
        )
        .expect("lexical index");
        let hits = index.search("price of nw-cup-12oz?", None, 2);
        assert_eq!(hits[0].product.sku, "NW-CUP-12OZ");
        assert_eq!(index.search("vanilla syrup", None, 1)[0].product.sku, "NW-SYR-VAN");
        assert!(index.search("zebra", None, 3).is_empty());
        assert!(!contains_token("NW-CUP-12OZ-DW", "NW-CUP-12OZ"));
    }
}
