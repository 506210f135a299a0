//! Knowledge versions across replicas and the cache (issue 25): a replica that did not publish
//! a new version picks it up on its own within the configured check interval, and a version
//! change retires only the cached answers that cited a changed document (and those citing
//! nothing), on every cache level and every replica.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tria_agent::Agent;
use tria_cache::{AnswerCache, CacheConfig};
use tria_core::{CacheLevel, ChatReply, ChatRequest, TenantContext, TenantId};
use tria_store::Store;
use tria_store::repo::{KnowledgeChange, NewChunk, NewDocumentVersion};

const RETURNS: &str = "Kestrel widget returns";
const GIFTS: &str = "Osprey gift wrapping";
// The two documents share no word with each other's question, so each answer cites one.
const Q_RETURNS: &str = "What is the restocking fee on a returned kestrel widget?";
const Q_GIFTS: &str = "Can osprey mugs be gift wrapped?";
/// Short, so the tests wait little; production's default is one second.
const CHECK: Duration = Duration::from_millis(50);

fn returns_text(fee: &str) -> String {
    format!("A returned kestrel widget carries a restocking fee of {fee} of its price, deducted from the refund.")
}

const GIFTS_TEXT: &str = "Osprey mugs can be gift wrapped in recycled paper for 4 dollars each.";

/// A tenant no fixture knows: it has no policies until one is uploaded.
async fn seed_into(store: &Store) -> TenantContext {
    let new = tria_store::repo::NewTenant {
        name: "Kestrel Supply".into(),
        slug: format!("kestrel-{}", uuid::Uuid::new_v4().simple()),
        currency: "USD".into(),
        tone: tria_core::ToneProfile::default(),
        settings: serde_json::json!({}),
    };
    store.tenants().create(new).await.expect("tenant")
}

fn request(message: &str) -> ChatRequest {
    ChatRequest { message: message.into(), session_id: None, customer_id: None }
}

/// Indexes one document version the way the index job does (stage, then publish) through
/// `store`, and returns the new knowledge version.
async fn publish(store: &Store, tenant: TenantId, doc_id: &str, title: &str, text: &str) -> i32 {
    let new = NewDocumentVersion {
        doc_id: doc_id.into(),
        title: title.into(),
        content_type: "text/markdown".into(),
        size_bytes: i64::try_from(text.len()).expect("size"),
        sha256: format!("{:0>64}", text.len()),
        job_id: uuid::Uuid::new_v4(),
    };
    let chunk = NewChunk { ordinal: 0, heading_path: title.into(), text: text.into(), token_count: 24 };
    let staged = store.knowledge().stage(tenant, new, vec![chunk]).await.expect("stage");
    store.knowledge().publish(tenant, KnowledgeChange::Put(staged.id)).await.expect("publish")
}

fn cites(reply: &ChatReply, title: &str) -> bool {
    reply.sources.iter().any(|s| s.title == title)
}

/// Asks until the reply satisfies `done`, for at most `bound`; every reply on the way must pass
/// `never_mixed`. Returns the first reply that was done.
async fn answered_within(
    agent: &Agent,
    tenant: &TenantContext,
    question: &str,
    bound: Duration,
    done: impl Fn(&ChatReply) -> bool,
    never_mixed: impl Fn(&ChatReply) -> bool,
) -> ChatReply {
    let started = Instant::now();
    loop {
        let reply = agent.chat(tenant, request(question)).await.expect("chat");
        assert!(never_mixed(&reply), "a reply mixing knowledge versions: {reply:?}");
        if done(&reply) {
            return reply;
        }
        assert!(started.elapsed() < bound, "not picked up within {bound:?}; last reply {reply:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A reply citing the returns document quotes the fee of the version it cites, never the other.
fn consistent(reply: &ChatReply) -> bool {
    !cites(reply, RETURNS) || (reply.reply.contains("15%") != reply.reply.contains("35%"))
}

#[tokio::test]
async fn a_replica_picks_up_a_knowledge_version_published_by_another_without_a_reload_call() {
    for db in tria_testkit::all_backends().await {
        let tenant = seed_into(&db.store).await;
        // Two replicas: their own connection pools and caches, one database.
        let other_store = db.connect_again().await;
        let one = Agent::builder(db.store.clone()).knowledge_check_interval(CHECK).build();
        let two = Agent::builder(other_store.clone()).knowledge_check_interval(CHECK).build();
        let before = two.chat(&tenant, request(Q_RETURNS)).await.expect("chat");
        assert!(!cites(&before, RETURNS), "{}: nothing uploaded yet: {before:?}", db.label);

        let v1 = publish(&db.store, tenant.id, "kestrel-returns", RETURNS, &returns_text("15%")).await;
        assert_eq!(one.knowledge_changed(tenant.id).await.expect("reload"), v1);
        // Replica two was told nothing: it reads the version itself.
        let seen = answered_within(&two, &tenant, Q_RETURNS, Duration::from_secs(10), |r| cites(r, RETURNS), consistent).await;
        assert!(seen.reply.contains("15%"), "{}: {seen:?}", db.label);

        let v2 = publish(&db.store, tenant.id, "kestrel-returns", RETURNS, &returns_text("35%")).await;
        assert!(v2 > v1);
        let replaced = answered_within(&two, &tenant, Q_RETURNS, Duration::from_secs(10), |r| r.reply.contains("35%"), consistent).await;
        assert!(cites(&replaced, RETURNS), "{}: {replaced:?}", db.label);

        // A rollback is a version change too.
        db.store.knowledge().rollback(tenant.id, v1).await.expect("rollback");
        answered_within(&two, &tenant, Q_RETURNS, Duration::from_secs(10), |r| r.reply.contains("15%"), consistent).await;
        other_store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_replaced_document_retires_only_the_answers_that_cited_it() {
    let db = tria_testkit::sqlite().await;
    let tenant = seed_into(&db.store).await;
    let agent = Agent::builder(db.store.clone()).knowledge_check_interval(CHECK).build();
    publish(&db.store, tenant.id, "kestrel-returns", RETURNS, &returns_text("15%")).await;
    publish(&db.store, tenant.id, "kestrel-gifts", GIFTS, GIFTS_TEXT).await;
    agent.knowledge_changed(tenant.id).await.expect("reload");

    let a = agent.chat(&tenant, request(Q_RETURNS)).await.expect("chat");
    let b = agent.chat(&tenant, request(Q_GIFTS)).await.expect("chat");
    let hello = agent.chat(&tenant, request("Hello")).await.expect("chat");
    assert!(cites(&a, RETURNS) && a.reply.contains("15%"), "{a:?}");
    assert!(cites(&b, GIFTS), "{b:?}");
    assert!(hello.sources.is_empty(), "{hello:?}");
    for q in [Q_RETURNS, Q_GIFTS, "Hello"] {
        assert_eq!(agent.chat(&tenant, request(q)).await.expect("chat").cache, CacheLevel::L1, "{q} is cached");
    }

    publish(&db.store, tenant.id, "kestrel-returns", RETURNS, &returns_text("35%")).await;
    agent.knowledge_changed(tenant.id).await.expect("reload");
    let a2 = agent.chat(&tenant, request(Q_RETURNS)).await.expect("chat");
    assert_eq!(a2.cache, CacheLevel::None, "the answer citing the replaced document is recomputed: {a2:?}");
    assert!(a2.reply.contains("35%") && cites(&a2, RETURNS), "{a2:?}");
    let b2 = agent.chat(&tenant, request(Q_GIFTS)).await.expect("chat");
    assert_eq!(b2.cache, CacheLevel::L1, "the answer citing the unchanged document stays: {b2:?}");
    assert_eq!(b2.reply, b.reply);
    let hello2 = agent.chat(&tenant, request("Hello")).await.expect("chat");
    assert_eq!(hello2.cache, CacheLevel::None, "an answer citing nothing may differ under new knowledge: {hello2:?}");
    // Recomputed answers are cached again, under the new version.
    assert_eq!(agent.chat(&tenant, request(Q_RETURNS)).await.expect("chat").cache, CacheLevel::L1);

    // Deleting a document retires its answers the same way.
    db.store.knowledge().publish(tenant.id, KnowledgeChange::Delete("kestrel-gifts".into())).await.expect("delete");
    agent.knowledge_changed(tenant.id).await.expect("reload");
    let b3 = agent.chat(&tenant, request(Q_GIFTS)).await.expect("chat");
    assert!(b3.cache == CacheLevel::None && !cites(&b3, GIFTS), "{b3:?}");
    assert_eq!(agent.chat(&tenant, request(Q_RETURNS)).await.expect("chat").cache, CacheLevel::L1);
}

/// The same rule through Redis (L2) across two replicas: replica two reads replica one's
/// answers from L2; after a replacement only the changed document's answer is recomputed there.
#[tokio::test]
async fn across_replicas_sharing_redis_only_answers_citing_the_changed_document_are_recomputed() {
    let url = std::env::var("TRIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let config = CacheConfig {
        redis_url: Some(url.clone()),
        key_prefix: format!("tria-test-{}", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    };
    let connect = || async {
        let cache = AnswerCache::connect(config.clone(), Duration::from_secs(3)).await.expect("cache");
        assert_eq!(cache.health().await.as_str(), "ok", "Redis is not reachable at {url}; these tests need it (CI has it)");
        Arc::new(cache)
    };
    let db = tria_testkit::sqlite().await;
    let tenant = seed_into(&db.store).await;
    publish(&db.store, tenant.id, "kestrel-returns", RETURNS, &returns_text("15%")).await;
    publish(&db.store, tenant.id, "kestrel-gifts", GIFTS, GIFTS_TEXT).await;
    let other_store = db.connect_again().await;
    let one = Agent::builder(db.store.clone()).answer_cache(connect().await).knowledge_check_interval(CHECK).build();
    let two = Agent::builder(other_store).answer_cache(connect().await).knowledge_check_interval(CHECK).build();
    for q in [Q_RETURNS, Q_GIFTS] {
        assert_eq!(one.chat(&tenant, request(q)).await.expect("chat").cache, CacheLevel::None);
        assert_eq!(two.chat(&tenant, request(q)).await.expect("chat").cache, CacheLevel::L2, "{q}");
    }

    publish(&db.store, tenant.id, "kestrel-returns", RETURNS, &returns_text("35%")).await;
    one.knowledge_changed(tenant.id).await.expect("reload");
    let fresh = one.chat(&tenant, request(Q_RETURNS)).await.expect("chat");
    assert!(fresh.cache == CacheLevel::None && fresh.reply.contains("35%"), "{fresh:?}");
    // Replica two serves the old version until its own check, then the new one: never a mix.
    answered_within(&two, &tenant, Q_RETURNS, Duration::from_secs(10), |r| r.reply.contains("35%"), consistent).await;
    let gifts = two.chat(&tenant, request(Q_GIFTS)).await.expect("chat");
    assert_eq!(gifts.cache, CacheLevel::L1, "the unchanged document's answer is still cached on replica two: {gifts:?}");
    let _ = one.answer_cache().invalidate_pattern(&format!("{}:*", config.key_prefix)).await;
}
