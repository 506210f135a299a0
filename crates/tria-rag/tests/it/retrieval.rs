use tria_rag::{ProductIndex, RetrievalMode, TenantIndex, embed_missing_chunks};

use crate::support::{embedder, seeded, tenant};

#[tokio::test]
async fn indexing_embeds_each_chunk_once_and_loads_a_hybrid_index() {
    let (db, tenants) = seeded().await;
    let e = embedder();
    let northwind = tenant(&tenants, "northwind");
    let first = embed_missing_chunks(&db.store, northwind.id, e.as_ref()).await.expect("index");
    assert!(first.chunks_embedded > 20, "{first:?}");
    let second = embed_missing_chunks(&db.store, northwind.id, e.as_ref()).await.expect("index");
    assert_eq!(second.chunks_embedded, 0);
    assert_eq!(second.chunks_current, first.chunks_total);

    let index = TenantIndex::load(&db.store, northwind.id, Some(e.as_ref())).await.expect("load");
    assert!(index.is_hybrid());
    let lexical_only = TenantIndex::load(&db.store, northwind.id, None).await.expect("load");
    assert!(!lexical_only.is_hybrid());
    assert_eq!(lexical_only.len(), index.len());
    db.cleanup().await;
}

#[tokio::test]
async fn hybrid_retrieval_answers_paraphrases_bm25_misses() {
    let (db, tenants) = seeded().await;
    let e = embedder();
    let northwind = tenant(&tenants, "northwind");
    let index = TenantIndex::load(&db.store, northwind.id, Some(e.as_ref())).await.expect("load");
    let question = "my package showed up smashed, what now?";
    let q = e.embed_one(question).expect("embed");
    let hits = index.hybrid_search(question, Some(&q), 5);
    assert!(!hits.is_empty());
    assert!(
        hits.iter().any(|h| h.chunk.source_path.contains("shipping") || h.chunk.heading_path.to_lowercase().contains("damage")),
        "{:#?}",
        hits.iter().map(|h| &h.chunk.heading_path).collect::<Vec<_>>()
    );
    assert!(hits.iter().all(|h| h.similarity.is_some()));
    // Without a query vector the same call is BM25.
    let lexical = index.hybrid_search(question, None, 5);
    assert!(lexical.iter().all(|h| h.similarity.is_none()));
    let by_mode = index.search_with(RetrievalMode::Vector, question, Some(&q), 3);
    assert_eq!(by_mode.len(), 3);
    db.cleanup().await;
}

#[tokio::test]
async fn a_tenant_index_never_returns_another_tenants_chunks() {
    let (db, tenants) = seeded().await;
    let e = embedder();
    let northwind = tenant(&tenants, "northwind");
    let velo = tenant(&tenants, "velo");
    let nw = TenantIndex::load(&db.store, northwind.id, Some(e.as_ref())).await.expect("load");
    let vp = TenantIndex::load(&db.store, velo.id, Some(e.as_ref())).await.expect("load");
    let nw_ids: Vec<_> = nw.chunks().iter().map(|c| c.id).collect();
    for question in ["What is the return window?", "How long is the warranty?", "What are the payment terms?"] {
        let q = e.embed_one(question).expect("embed");
        for hit in vp.hybrid_search(question, Some(&q), 10) {
            assert!(!nw_ids.contains(&hit.chunk.id), "velo search returned a northwind chunk for {question}");
        }
    }
    let velo_products = ProductIndex::load(&db.store, velo.id, Some(e.as_ref())).await.expect("products");
    assert!(velo_products.search("12 oz hot cups", None, 5).iter().all(|h| h.product.sku.starts_with("VP-")));
    db.cleanup().await;
}

#[tokio::test]
async fn catalogue_search_finds_products_by_description_and_sku() {
    let (db, tenants) = seeded().await;
    let e = embedder();
    let northwind = tenant(&tenants, "northwind");
    let products = ProductIndex::load(&db.store, northwind.id, Some(e.as_ref())).await.expect("products");
    assert!(products.is_hybrid());
    let query = "plant based milk for lattes";
    let q = e.embed_one(query).expect("embed");
    let hits = products.search(query, Some(&q), 3);
    assert!(hits.iter().any(|h| h.product.sku.starts_with("NW-MLK")), "{hits:#?}");
    let hits = products.search("is NW-TNR-HP26A in stock?", None, 3);
    assert_eq!(hits[0].product.sku, "NW-TNR-HP26A");
    db.cleanup().await;
}
