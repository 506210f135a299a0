//! The answer cache in the chat pipeline: the conversation context that keys an answer, the
//! L1→L2 lookup before anything is computed, L3 (paraphrases) after classification with the
//! message's answer evidence (the tenant's policy sentences and products nearest to it) as a
//! second signal, single-flight for identical concurrent misses, and cache warming.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tria_cache::{AnswerBasis, AnswerCache, AnswerContext, AnswerQuery, Component, Fill, count_tokens, semantic_text};
use tria_core::{Answer, CacheLevel, IntentLabel, MessageRole, OrderStatus, TenantContext, TenantId};
use tria_intent::Classification;
use tria_rag::{Embedder, EvidenceIndex, TenantIndex};

use crate::context::MAX_LOADED_MESSAGES;
use crate::session::Session;
use crate::tenant_indexes::LoadedKnowledge;
use crate::{Agent, AgentBuilder, AgentError};

/// The cache and what L3 needs: an embedder for queries (without one, L3 is skipped) and each
/// tenant's evidence passages.
#[derive(Clone)]
pub(crate) struct CacheParts {
    pub(crate) cache: Arc<AnswerCache>,
    pub(crate) embedder: Option<Arc<dyn Embedder>>,
    /// Where the evidence passages' vectors are kept between starts (from [`crate::SemanticParts`]).
    pub(crate) vector_cache_dir: Option<PathBuf>,
    evidence: Arc<EvidenceIndexes>,
}

impl Default for CacheParts {
    /// Memory only, no L3: `Agent::builder(store)` works with nothing else configured.
    fn default() -> Self {
        Self { cache: Arc::new(AnswerCache::memory_only()), embedder: None, vector_cache_dir: None, evidence: Arc::default() }
    }
}

/// An evidence index and the policy index it was built from.
type BuiltEvidence = (Arc<TenantIndex>, Arc<EvidenceIndex>);

/// Each tenant's [`EvidenceIndex`], built on first use from the policy index it belongs to and
/// rebuilt when that index is replaced (re-index), so its passages always match what
/// retrieval and the responder read.
#[derive(Default)]
struct EvidenceIndexes {
    built: RwLock<HashMap<TenantId, BuiltEvidence>>,
    /// One build at a time: concurrent first lookups wait for it instead of embedding twice.
    building: tokio::sync::Mutex<()>,
}

impl EvidenceIndexes {
    fn current(&self, tenant: TenantId, index: &Arc<TenantIndex>) -> Option<Arc<EvidenceIndex>> {
        let built = self.built.read().ok()?;
        built.get(&tenant).filter(|(of, _)| Arc::ptr_eq(of, index)).map(|(_, e)| e.clone())
    }
}

impl AgentBuilder {
    /// The answer cache to use (e.g. Redis-backed, built from settings).
    pub fn answer_cache(mut self, cache: Arc<AnswerCache>) -> Self {
        self.cache.cache = cache;
        self
    }

    /// The embedder for L3 lookups; query vectors are themselves cached (L4).
    pub fn cache_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.cache.embedder = Some(embedder);
        self
    }
}

/// An answer just generated, before it is cached.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) answer: Answer,
    /// What generating it cost (zeros when the offline responder wrote it).
    pub(crate) usage: tria_core::ReplyUsage,
    /// A safety refusal: never cached, so a retrained screen never serves an old verdict.
    pub(crate) refused: bool,
}

/// Answers the cache must not keep: hand-offs and complaints (about one person's experience),
/// order placement and changes (they act on state),
/// and policy or product replies that found nothing to cite (a negative result).
fn cacheable(answer: &Answer) -> bool {
    match answer.intent {
        // Order placement and changes act on state (drafts, confirmations): never replayed.
        IntentLabel::HumanHandoff | IntentLabel::Complaint | IntentLabel::OrderPlacement | IntentLabel::OrderChange => false,
        IntentLabel::PolicyQuestion | IntentLabel::ProductInquiry => !answer.sources.is_empty(),
        _ => true,
    }
}

/// What a tenant's cached answers depend on: its knowledge version and the chunks serving.
/// An answer citing a policy chunk holds while that chunk serves (a replaced or deleted
/// document's chunks do not, any other document's still do); an answer citing nothing holds
/// only under the knowledge version it was computed from (what could not be found before may
/// be found now); catalogue citations are left to the catalogue's own invalidation.
struct KnowledgeBasis(Option<Arc<LoadedKnowledge>>);

impl AnswerBasis for KnowledgeBasis {
    fn current(&self) -> u64 {
        // 0 is "no basis": version 0 (nothing uploaded) stamps 1.
        self.0.as_ref().map_or(0, |k| u64::from(k.version.unsigned_abs()) + 1)
    }

    fn still_holds(&self, answer: &Answer, stamped: u64) -> bool {
        let Some(knowledge) = &self.0 else { return true };
        if answer.sources.is_empty() {
            return stamped == self.current();
        }
        answer.sources.iter().all(|s| uuid::Uuid::parse_str(&s.id).map_or(true, |chunk| knowledge.serves_chunk(chunk)))
    }
}

/// Orders whose state changes what "my order" means.
fn is_open(status: &str) -> bool {
    [OrderStatus::Draft, OrderStatus::Confirmed, OrderStatus::Invoiced].iter().any(|s| s.as_str() == status)
}

impl Agent {
    /// The answer cache (for stats, health and invalidation).
    pub fn answer_cache(&self) -> &Arc<AnswerCache> {
        &self.cache.cache
    }

    /// Picks up the tenant's current knowledge version now (an upload, delete or rollback just
    /// published): reloads its index if the version is not the loaded one and prepares its
    /// evidence. Cached answers are not flushed: each hit is checked against the index
    /// serving ([`KnowledgeBasis`]), so only answers citing changed documents, and answers
    /// citing nothing, are recomputed. Other replicas do the same on their next version check.
    /// Returns the knowledge version serving.
    pub async fn knowledge_changed(&self, tenant: TenantId) -> Result<i32, AgentError> {
        let loaded = self.indexes.refresh(tenant).await?;
        self.prepare_evidence(tenant).await;
        Ok(loaded.version)
    }

    /// Reloads the tenant's policy index and retires its cached answers and components; call
    /// after re-seeding or re-indexing a tenant.
    pub async fn reindexed(&self, tenant: TenantId) -> Result<usize, AgentError> {
        let chunks = self.reload_index(tenant).await?;
        if let Err(e) = self.cache.cache.invalidate_tenant(tenant).await {
            tracing::warn!(%tenant, error = %e, "cache invalidation after re-index failed");
        }
        // The caller (an admin, a seed) waits for the new index's evidence, not the next customer.
        self.prepare_evidence(tenant).await;
        Ok(chunks)
    }

    /// What keys this message's answer besides its text. `None` when the context could not be
    /// read: then the cache is bypassed rather than risk a wrong key.
    pub(crate) async fn cache_context(&self, tenant: TenantId, session: &Session) -> Option<AnswerContext> {
        let turns = self.cache.cache.config().context_turns;
        let (customer, recent_intents) = match &session.opens {
            Some(new) => (new.customer, Vec::new()),
            None => {
                // The session stage read the latest messages already; a second read would
                // cost two queries on every continuing turn. Read again only when the
                // configured context reaches further back than that.
                let wanted = turns * 2;
                let intents: Vec<IntentLabel> = if wanted as u64 <= MAX_LOADED_MESSAGES {
                    let latest = &session.turns[session.turns.len().saturating_sub(wanted)..];
                    latest.iter().filter(|t| t.role == MessageRole::User).filter_map(|t| t.intent).collect()
                } else {
                    let recent =
                        Box::pin(self.store().conversations().recent_messages(tenant, session.conversation, wanted as u64)).await.ok()?;
                    recent.iter().filter(|m| m.role == "user").filter_map(|m| m.intent.as_deref().and_then(|i| i.parse().ok())).collect()
                };
                (session.customer, intents)
            }
        };
        let customer_state = match customer {
            Some(customer) => {
                // Boxed, as the session stage's reads: kilobytes that every chat future would carry.
                let orders = Box::pin(self.store().orders().list_for_customer(tenant, customer)).await.ok()?;
                orders.iter().filter(|o| is_open(&o.status)).map(|o| format!("{}:{}", o.number, o.status)).collect()
            }
            None => Vec::new(),
        };
        let scope = match (customer, &session.opens) {
            (Some(c), _) => Some(format!("customer:{c}")),
            (None, None) => Some(format!("conversation:{}", session.conversation)),
            (None, Some(_)) => None,
        };
        Some(AnswerContext { recent_intents, scope, customer_state })
    }

    /// The query vector for L3: the embedding of the message without its politeness
    /// ([`semantic_text`]), from the L4 embedding cache or the embedder (off the reactor).
    async fn query_vector(&self, tenant: TenantId, message: &str) -> Option<Vec<f32>> {
        let embedder = self.cache.embedder.clone()?;
        let cache = &self.cache.cache;
        // The version names the text transformation too, so a change to it never reuses vectors.
        let model = format!("{}+semantic-text-1", embedder.model_id());
        let text = semantic_text(message);
        if let Some(v) = cache.component::<Vec<f32>>(tenant, Component::Embedding, &model, &text).await {
            return Some(v);
        }
        let key_text = text.clone();
        let vector = tokio::task::spawn_blocking(move || embedder.embed_one(&text)).await.ok()?.ok()?;
        cache.put_component(tenant, Component::Embedding, &model, &key_text, &vector).await;
        Some(vector)
    }

    /// Embeds the tenant's L3 evidence passages for its current policy index and catalogue now,
    /// so that no customer's message waits for them (a few hundred passages: seconds of CPU on
    /// a first start or after a re-index; later starts read them from the vector cache). The
    /// server runs it for every tenant right after start-up. Returns whether they are ready
    /// (`false` without an embedder or when embedding failed).
    pub async fn prepare_evidence(&self, tenant: TenantId) -> bool {
        self.evidence_index_built(tenant, true).await.is_some()
    }

    /// The tenant's evidence passages; built on first use, unless another build is running
    /// (say, [`Agent::prepare_evidence`] after start-up): then this message goes without —
    /// L3 uses its plain threshold, which only ever finds fewer matches — instead of waiting.
    async fn evidence_index(&self, tenant: TenantId) -> Option<Arc<EvidenceIndex>> {
        self.evidence_index_built(tenant, false).await
    }

    /// `None` without an embedder or when embedding fails: L3 then uses its plain threshold.
    async fn evidence_index_built(&self, tenant: TenantId, wait: bool) -> Option<Arc<EvidenceIndex>> {
        let embedder = self.cache.embedder.clone()?;
        let memo = &self.cache.evidence;
        let index = self.indexes.get(tenant).await.ok()?;
        if let Some(found) = memo.current(tenant, &index) {
            return Some(found);
        }
        let _building = match memo.building.try_lock() {
            Ok(guard) => guard,
            Err(_) if wait => memo.building.lock().await,
            Err(_) => return None,
        };
        if let Some(found) = memo.current(tenant, &index) {
            return Some(found);
        }
        let products = self.indexes.catalogue(tenant).map(|c| c.products().to_vec()).unwrap_or_default();
        let for_build = index.clone();
        let cache_dir = self.cache.vector_cache_dir.clone();
        // The tenant's evidence before this re-index: its passages' vectors are reused, so
        // adding one document embeds that document's sentences only (issue 25's 1,000 uploads).
        let previous = memo.built.read().ok().and_then(|built| built.get(&tenant).map(|(_, e)| e.clone())).filter(|e| !e.is_empty());
        let built = tokio::task::spawn_blocking(move || {
            let texts = tria_rag::evidence::passage_texts(for_build.chunks(), &products);
            if let Some(previous) = previous {
                return EvidenceIndex::rebuild(&previous, &texts, |missing| embedder.embed_batch(missing));
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = match &cache_dir {
                _ if refs.is_empty() => Ok(Vec::new()),
                Some(dir) => tria_rag::embed_batch_cached(embedder.as_ref(), &refs, dir),
                None => embedder.embed_batch(&refs),
            };
            vectors.map(|v| EvidenceIndex::from_vectors(&texts, &v))
        })
        .await;
        match built {
            Ok(Ok(evidence)) => {
                let evidence = Arc::new(evidence);
                if let Ok(mut map) = memo.built.write() {
                    map.insert(tenant, (index, evidence.clone()));
                }
                Some(evidence)
            }
            Ok(Err(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding the evidence passages failed; L3 uses its plain threshold");
                None
            }
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "evidence build task failed");
                None
            }
        }
    }

    /// The message's answer evidence: the tenant's policy sentences and products nearest to
    /// its embedding (the same vector retrieval uses), best first with their cosine. Empty when
    /// there is no model or index; L3 then uses its plain threshold. Retrieval itself is not
    /// run here, so a miss retrieves once, in [`Agent::generate`].
    async fn answer_evidence(&self, tenant: TenantId, message: &str) -> Vec<(String, f32)> {
        let Some(evidence) = self.evidence_index(tenant).await else { return Vec::new() };
        self.query_embedding(message).map(|v| evidence.nearest(&v)).unwrap_or_default()
    }

    /// L1 → L2, else classify, L3, else `generate` — once for identical concurrent misses. The
    /// level that answered comes back with the answer (`None`: generated now).
    pub(crate) async fn answer_through_cache<C, CFut, G, Fut>(
        &self,
        tenant: &TenantContext,
        message: &str,
        context: Option<AnswerContext>,
        classify: C,
        generate: G,
    ) -> Result<(Arc<Answer>, CacheLevel), AgentError>
    where
        C: FnOnce() -> CFut,
        CFut: Future<Output = Classification>,
        G: FnOnce(Classification) -> Fut,
        Fut: Future<Output = Result<Generated, AgentError>>,
    {
        let cache = &self.cache.cache;
        let basis = KnowledgeBasis(self.indexes.knowledge(tenant.id).await.ok());
        let basis = &basis;
        // Without a context (unreadable, or a reply in another language) nothing is shared: L3 is skipped too.
        let shared = context.is_some();
        // Boxed: classification, L3 and generation hold kilobytes of state that a hit never
        // needs; unboxed, every chat future (hits included) would be that large.
        let compute = || {
            Box::pin(async {
                let classification = classify().await;
                let label = classification.label;
                let wants_l3 = shared && cache.config().l3.enabled && !label.is_customer_specific();
                let vector = if wants_l3 { self.query_vector(tenant.id, message).await } else { None };
                let evidence = if vector.is_some() { self.answer_evidence(tenant.id, message).await } else { Vec::new() };
                if let Some(v) = &vector
                    && let Some(answer) = cache.lookup_semantic_on(tenant.id, label, message, v, &evidence, basis).await
                {
                    return Ok(Fill { answer, level: CacheLevel::L3, vector: None, evidence: Vec::new(), cacheable: true });
                }
                let generated = generate(classification).await?;
                let mut answer = generated.answer;
                // What an LLM would have been sent and would have written; a hit saves it again.
                // Only an answer a model wrote saves anything when it is served again.
                let (model, cost_micro_usd) = tria_llm::observe::turn_model_spend().unwrap_or_default();
                answer.tokens = if model.is_empty() { 0 } else { count_tokens(message).saturating_add(count_tokens(&answer.reply)) };
                answer.model = Some(model).filter(|m| !m.is_empty());
                answer.cost_micro_usd = cost_micro_usd;
                // A stand-in for a failing provider is not kept: once it is back, the model answers.
                let cacheable = cacheable(&answer) && !generated.refused && !crate::llm_guard::stood_in_for_outage(&generated.usage);
                Ok(Fill { answer: Arc::new(answer), level: CacheLevel::None, vector, evidence, cacheable })
            })
        };
        match context {
            Some(context) => {
                let query = AnswerQuery { tenant: tenant.id, message, context: &context };
                cache.get_or_compute_on(&query, basis, compute).await
            }
            None => {
                let fill = compute().await?;
                cache.record_answer(tenant.id, fill.level != CacheLevel::None);
                Ok((fill.answer, fill.level))
            }
        }
    }

    /// Pre-computes answers for `questions` (a tenant's FAQ) as a fresh, anonymous conversation
    /// would ask them, without recording conversations. Returns how many were already cached.
    pub async fn warm_cache(&self, tenant: &TenantContext, questions: &[String]) -> Result<WarmReport, AgentError> {
        let mut report = WarmReport::default();
        let context = AnswerContext::default();
        for question in questions {
            let question = question.trim();
            if question.is_empty() {
                continue;
            }
            let (answer, level) = self
                .answer_through_cache(
                    tenant,
                    question,
                    Some(context.clone()),
                    || self.intent(tenant.id, question, None),
                    |c| self.generate(tenant, question, c),
                )
                .await?;
            // Customer-specific answers are never shared, so an anonymous warm-up cannot store them.
            let storable = cacheable(&answer) && !answer.intent.is_customer_specific();
            match level {
                CacheLevel::None if storable => report.computed += 1,
                CacheLevel::None => report.not_cacheable += 1,
                _ => report.already_cached += 1,
            }
        }
        Ok(report)
    }
}

/// What [`Agent::warm_cache`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WarmReport {
    pub computed: usize,
    pub already_cached: usize,
    /// Hand-offs, complaints, replies with nothing to cite, and customer-specific questions.
    pub not_cacheable: usize,
}
