//! L4 through `Agent::chat`: intent verdicts and hybrid retrievals come from the component cache
//! when another instance (sharing the cache) computed them, with the same reply; a re-index
//! retires them; the intent fallback is asked for unsure verdicts only, once per message.
//! A small hashing embedder stands in for the model, so the intent model and hybrid retrieval
//! run without `models/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tria_agent::{Agent, SemanticParts};
use tria_cache::{AnswerCache, CacheConfig, LevelConfig, LevelStats};
use tria_core::{CacheLevel, ChatReply, ChatRequest, IntentLabel, TenantContext};
use tria_intent::{Classification, IntentFallback};
use tria_rag::{EmbedError, Embedder};

use crate::seeded;

/// Words hashed into 64 buckets, unit length: deterministic and instant.
pub(crate) struct Hashing;

impl Embedder for Hashing {
    fn model_id(&self) -> &str {
        "hashing-test-1"
    }
    fn dimension(&self) -> usize {
        64
    }
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut v = vec![0.0f32; 64];
                for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                    let h = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                    v[(h % 64) as usize] += 1.0;
                }
                v[63] += 0.1;
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }
}

/// Answers `label` for every unsure verdict (or declines), counting the questions.
struct Fixed {
    label: Option<IntentLabel>,
    asked: AtomicUsize,
}

impl Fixed {
    fn new(label: Option<IntentLabel>) -> Arc<Self> {
        Arc::new(Self { label, asked: AtomicUsize::new(0) })
    }
    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl IntentFallback for Fixed {
    async fn classify(&self, _message: &str, _first: &Classification) -> Option<(IntentLabel, f32)> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.label.map(|l| (l, 0.95))
    }
    fn version(&self) -> &str {
        if self.label.is_some() { "fixed" } else { "declines" }
    }
}

pub(crate) fn parts() -> SemanticParts {
    SemanticParts::from_embedder(Arc::new(Hashing), &tria_testkit::fixtures_dir().join("intents"))
}

/// Only L4 on, as a second instance would see it: the answer levels never answer.
fn components_only() -> Arc<AnswerCache> {
    let off = LevelConfig { enabled: false, ttl: Duration::from_secs(60) };
    let mut config = CacheConfig { l1: off, l2: off, ..CacheConfig::default() };
    config.l3.enabled = false;
    Arc::new(AnswerCache::in_memory(config))
}

/// A new instance (nothing remembered in-process) over `cache`.
fn instance(db: &tria_testkit::TestDb, parts: &SemanticParts, cache: &Arc<AnswerCache>, fallback: Option<Arc<Fixed>>) -> Agent {
    let builder = Agent::builder(db.store.clone()).semantic(parts.clone()).answer_cache(cache.clone());
    match fallback {
        Some(f) => builder.intent_fallback(f).build(),
        None => builder.build(),
    }
}

async fn l4(cache: &AnswerCache, tenant: &TenantContext) -> (u64, u64) {
    let stats = cache.stats(tenant.id).await;
    let l4: &LevelStats = stats.levels.iter().find(|l| l.level == "l4").expect("l4 stats");
    (l4.hits, l4.misses)
}

async fn ask(agent: &Agent, tenant: &TenantContext, message: &str) -> ChatReply {
    agent.chat(tenant, ChatRequest::new(message)).await.expect("chat")
}

fn answer(reply: &ChatReply) -> (&str, IntentLabel, f32, Vec<String>, CacheLevel) {
    (
        &reply.reply,
        reply.intent.label,
        reply.intent.confidence,
        reply.sources.iter().map(|s| format!("{}@{}", s.id, s.score)).collect(),
        reply.cache,
    )
}

#[tokio::test]
async fn a_verdict_and_a_retrieval_from_l4_give_the_reply_computing_them_gives() {
    let (db, tenant) = seeded().await;
    let (parts, cache) = (parts(), components_only());
    let question = "What is the restocking fee on returns?";

    let computed = ask(&instance(&db, &parts, &cache, None), &tenant, question).await;
    assert!(!computed.sources.is_empty(), "a policy answer with its chunks: {computed:?}");
    assert_eq!(l4(&cache, &tenant).await, (0, 2), "intent and retrieval computed and stored");

    let served = ask(&instance(&db, &parts, &cache, None), &tenant, question).await;
    assert_eq!(l4(&cache, &tenant).await, (2, 2), "intent and retrieval from L4");
    assert_eq!(answer(&served), answer(&computed));

    // Another spelling is another message: its tone and embedding may differ.
    ask(&instance(&db, &parts, &cache, None), &tenant, "WHAT is the restocking fee on returns??").await;
    assert_eq!(l4(&cache, &tenant).await, (2, 4));

    // A re-index retires them: the next instance computes again, and gets the same reply.
    let agent = instance(&db, &parts, &cache, None);
    agent.reindexed(tenant.id).await.expect("reindex");
    let again = ask(&agent, &tenant, question).await;
    assert_eq!(l4(&cache, &tenant).await, (2, 6));
    assert_eq!(answer(&again), answer(&computed));
}

#[tokio::test]
async fn without_a_model_nothing_is_looked_up_in_l4() {
    let (db, tenant) = seeded().await;
    let cache = components_only();
    let agent = Agent::builder(db.store.clone()).answer_cache(cache.clone()).build();
    let reply = ask(&agent, &tenant, "What is the restocking fee on returns?").await;
    assert!(!reply.sources.is_empty(), "{reply:?}");
    // Rules and a lexical search are cheaper than a lookup.
    assert_eq!(l4(&cache, &tenant).await, (0, 0));
}

#[tokio::test]
async fn an_unsure_verdict_is_resolved_by_the_fallback_once_and_the_answer_cached() {
    let (db, tenant) = seeded().await;
    let mut parts = parts();
    // Every verdict of the model is unsure; rules stay sure.
    let model = parts.intent_model.as_ref().expect("intent model");
    parts.intent_model = Some(Arc::new((**model).clone().with_fallback_threshold(1.01)));
    let cache = components_only();
    let question = "What is the restocking fee on returns?";

    let billing = Fixed::new(Some(IntentLabel::Billing));
    let first = ask(&instance(&db, &parts, &cache, Some(billing.clone())), &tenant, question).await;
    assert_eq!((first.intent.label, first.intent.confidence, billing.asked()), (IntentLabel::Billing, 0.95, 1), "{first:?}");
    let second = ask(&instance(&db, &parts, &cache, Some(billing.clone())), &tenant, question).await;
    assert_eq!(billing.asked(), 1, "the second instance read the fallback's verdict from L4");
    assert_eq!(answer(&second), answer(&first));
    // A rule's verdict is never second-guessed.
    let human = ask(&instance(&db, &parts, &cache, Some(billing.clone())), &tenant, "let me talk to a human").await;
    assert_eq!((human.intent.label, billing.asked()), (IntentLabel::HumanHandoff, 1));

    // A declined question keeps the model's verdict and is not cached: the next instance asks.
    let declines = Fixed::new(None);
    let kept = ask(&instance(&db, &parts, &cache, Some(declines.clone())), &tenant, question).await;
    let unaided = ask(&instance(&db, &parts, &components_only(), None), &tenant, question).await;
    assert_eq!((kept.intent.label, kept.intent.confidence), (unaided.intent.label, unaided.intent.confidence));
    ask(&instance(&db, &parts, &cache, Some(declines.clone())), &tenant, question).await;
    assert_eq!(declines.asked(), 2);
}
