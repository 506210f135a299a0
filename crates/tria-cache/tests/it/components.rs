//! L4: component caches keyed by tenant, text and model/prompt version.

use std::time::Duration;

use tria_cache::Component;
use tria_core::TenantId;

use crate::support::*;

#[tokio::test]
async fn components_hit_by_version_and_expire() {
    let cache = redis_cache(|c| c.l4_intent_ttl = Duration::from_millis(400)).await;
    let tenant = TenantId::new_random();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let classify = || async {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, ()>(("policy_question".to_owned(), 0.93f32))
    };
    let first = cache.component_or(tenant, Component::Intent, "rules-v1", "What is net 30?", classify).await.expect("computed");
    let second = cache.component_or(tenant, Component::Intent, "rules-v1", "what is net 30", classify).await.expect("cached");
    assert_eq!(first, second);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A model change never serves the old verdict.
    assert!(cache.component::<(String, f32)>(tenant, Component::Intent, "rules-v2", "what is net 30").await.is_none());
    // Other tenants and other component kinds are separate.
    assert!(cache.component::<(String, f32)>(TenantId::new_random(), Component::Intent, "rules-v1", "what is net 30").await.is_none());
    assert!(cache.component::<(String, f32)>(tenant, Component::Retrieval, "rules-v1", "what is net 30").await.is_none());
    // Embeddings round-trip exactly.
    let v = vec![0.25f32, -1.5, 3.0];
    cache.put_component(tenant, Component::Embedding, "minilm-l6-v2", "hello", &v).await;
    assert_eq!(cache.component::<Vec<f32>>(tenant, Component::Embedding, "minilm-l6-v2", "hello").await, Some(v));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cache.component::<(String, f32)>(tenant, Component::Intent, "rules-v1", "what is net 30").await.is_none(), "expired");
    // Errors are not cached.
    let failed: Result<u32, &str> = cache.component_or(tenant, Component::Retrieval, "v1", "q", || async { Err("down") }).await;
    assert!(failed.is_err());
    assert!(cache.component::<u32>(tenant, Component::Retrieval, "v1", "q").await.is_none());
    cleanup(&cache).await;
}
