//! Concurrent identical misses compute once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tria_cache::{AnswerContext, Fill};
use tria_core::{Answer, CacheLevel, IntentLabel, TenantId};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_misses_compute_once() {
    let cache = Arc::new(redis_cache(|_| {}).await);
    let tenant = TenantId::new_random();
    let computations = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (cache, computations) = (cache.clone(), computations.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = AnswerContext::default();
            let q = query(tenant, "what are your payment terms", &ctx);
            cache
                .get_or_compute(&q, || async {
                    computations.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, ()>(Fill {
                        answer: Arc::new(Answer::new("Net 30.", IntentLabel::PolicyQuestion, 0.9)),
                        level: CacheLevel::None,
                        vector: None,
                        cacheable: true,
                        evidence: Vec::new(),
                    })
                })
                .await
                .expect("answer")
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task").0.reply, "Net 30.");
    }
    assert_eq!(computations.load(Ordering::SeqCst), 1);
    cleanup(&cache).await;
}

#[tokio::test]
async fn uncacheable_results_are_not_stored() {
    let cache = redis_cache(|_| {}).await;
    let tenant = TenantId::new_random();
    let ctx = AnswerContext::default();
    let q = query(tenant, "asdf qwerty", &ctx);
    let fill = || async {
        Ok::<_, ()>(Fill {
            answer: Arc::new(Answer::new("I don't know.", IntentLabel::OutOfScope, 0.2)),
            level: CacheLevel::None,
            vector: None,
            cacheable: false,
            evidence: Vec::new(),
        })
    };
    cache.get_or_compute(&q, fill).await.expect("answer");
    assert!(cache.lookup_exact(&q).await.is_none(), "negative results are not cached");
    cleanup(&cache).await;
}
