//! The [`Agent`]: what a chat message goes through, from request to stored reply.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tria_core::{
    ChatReply, ChatRequest, ConversationId, CustomerId, ErrorCode, InputError, IntentLabel, IntentVerdict, MessageRole, TenantContext,
    TenantId,
};
use tria_intent::{Classification, IntentClassifier, RuleClassifier};
use tria_rag::{Embedder, EmbedderStatus, ProductIndex, TenantIndex};
use tria_store::Store;
use tria_store::repo::{Exchange, NewConversation, NewCustomer, NewMessage};

use crate::cached::{CacheParts, Generated};
use crate::generation::{self, LlmParts};
use crate::input::{ChatLimits, validate};
use crate::semantic::SemanticParts;
use crate::{AgentError, catalogue, responder};
use tria_guard::{InputScreen, ScreenVerdict, adapt_tone, refusal_message};

/// How many chunks a reply may cite.
pub(crate) const TOP_K: usize = 3;

/// Builds an [`Agent`]; every part has a default except the store.
pub struct AgentBuilder {
    store: Store,
    classifier: Arc<dyn IntentClassifier>,
    limits: ChatLimits,
    pub(crate) cache: CacheParts,
    semantic: SemanticParts,
    pub(crate) llm: Option<LlmParts>,
    pub(crate) screen: Arc<InputScreen>,
}

impl AgentBuilder {
    /// The input screen (prompt-injection and abuse refusals); e.g. one that knows the other
    /// tenants' names so cross-tenant probing is refused.
    pub fn input_screen(mut self, screen: InputScreen) -> Self {
        self.screen = Arc::new(screen);
        self
    }

    /// The embedder and intent model (see [`crate::semantic::load_semantic`]). With an embedder,
    /// retrieval is hybrid and intents use the model; the cache's L3 uses the same embedder
    /// unless [`AgentBuilder::cache_embedder`] set another.
    pub fn semantic(mut self, parts: SemanticParts) -> Self {
        if let Some(model) = &parts.intent_model {
            self.classifier = model.clone();
        }
        if self.cache.embedder.is_none() {
            self.cache.embedder.clone_from(&parts.embedder);
        }
        self.cache.vector_cache_dir.clone_from(&parts.vector_cache_dir);
        self.semantic = parts;
        self
    }

    pub fn classifier(mut self, classifier: Arc<dyn IntentClassifier>) -> Self {
        self.classifier = classifier;
        self
    }

    pub fn limits(mut self, limits: ChatLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn build(self) -> Agent {
        Agent {
            store: self.store,
            classifier: self.classifier,
            limits: self.limits,
            indexes: RwLock::new(HashMap::new()),
            catalogues: RwLock::new(HashMap::new()),
            cache: self.cache,
            semantic: self.semantic,
            llm: self.llm,
            screen: self.screen,
        }
    }
}

/// One stored message as shown in conversation history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryMessage {
    pub role: String,
    pub content: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub sources: serde_json::Value,
    pub cache: Option<String>,
    pub latency_ms: i64,
    pub created_at: chrono::DateTime<Utc>,
}

/// The chat pipeline. Cheap to share behind an `Arc`; all state is per tenant.
pub struct Agent {
    store: Store,
    classifier: Arc<dyn IntentClassifier>,
    limits: ChatLimits,
    indexes: RwLock<HashMap<TenantId, Arc<TenantIndex>>>,
    catalogues: RwLock<HashMap<TenantId, Arc<ProductIndex>>>,
    pub(crate) cache: CacheParts,
    semantic: SemanticParts,
    llm: Option<LlmParts>,
    screen: Arc<InputScreen>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Agent {
    pub fn builder(store: Store) -> AgentBuilder {
        AgentBuilder {
            store,
            classifier: Arc::new(RuleClassifier),
            limits: ChatLimits::default(),
            cache: CacheParts::default(),
            semantic: SemanticParts::unavailable("no embedder configured"),
            llm: None,
            screen: Arc::new(InputScreen::new()),
        }
    }

    /// For `/health`: `Ready` when retrieval is hybrid and intents use the model, otherwise why
    /// not (e.g. the command that fetches the model files).
    pub fn embedder_status(&self) -> &EmbedderStatus {
        &self.semantic.status
    }

    fn embedder(&self) -> Option<&dyn Embedder> {
        self.semantic.embedder.as_deref()
    }

    /// The message's vector, or `None` (no embedder, or it failed: BM25 and rules still answer).
    /// Memoized, so intent, retrieval and the cache share one model call (a few ms of CPU).
    pub(crate) fn query_embedding(&self, message: &str) -> Option<Vec<f32>> {
        let embedder = self.embedder()?;
        match embedder.embed_one(message) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "query embedding failed; falling back to BM25 and rules");
                None
            }
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// (Re)loads a tenant's policy index from the store, e.g. after re-indexing. With an
    /// embedder, chunks without a current vector are embedded first and the index is hybrid.
    pub async fn reload_index(&self, tenant: TenantId) -> Result<usize, AgentError> {
        let index = match TenantIndex::load(&self.store, tenant, self.embedder()).await {
            Ok(index) => index,
            Err(tria_rag::RagError::Embed(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding chunks failed; loading a BM25-only index");
                TenantIndex::load(&self.store, tenant, None).await?
            }
            Err(e) => return Err(e.into()),
        };
        let index = Arc::new(index);
        let len = index.len();
        let products = match ProductIndex::load(&self.store, tenant, self.embedder()).await {
            Ok(products) => products,
            Err(tria_rag::RagError::Embed(e)) => {
                tracing::warn!(%tenant, error = %e, "embedding the catalogue failed; loading a BM25-only catalogue");
                ProductIndex::load(&self.store, tenant, None).await?
            }
            Err(e) => return Err(e.into()),
        };
        self.catalogues.write().map_err(|_| AgentError::Internal("catalogue lock poisoned".into()))?.insert(tenant, Arc::new(products));
        self.indexes.write().map_err(|_| AgentError::Internal("index lock poisoned".into()))?.insert(tenant, index);
        Ok(len)
    }

    pub(crate) fn catalogue(&self, tenant: TenantId) -> Option<Arc<ProductIndex>> {
        self.catalogues.read().ok()?.get(&tenant).cloned()
    }

    pub(crate) async fn index(&self, tenant: TenantId) -> Result<Arc<TenantIndex>, AgentError> {
        if let Some(index) = self.indexes.read().map_err(|_| AgentError::Internal("index lock poisoned".into()))?.get(&tenant) {
            return Ok(index.clone());
        }
        self.reload_index(tenant).await?;
        self.indexes
            .read()
            .map_err(|_| AgentError::Internal("index lock poisoned".into()))?
            .get(&tenant)
            .cloned()
            .ok_or_else(|| AgentError::Internal("index vanished after load".into()))
    }

    /// The checks `chat` starts with — the message and ids are valid, the session is the
    /// tenant's — without answering; a streaming endpoint calls it so bad input gets a plain
    /// error response instead of an event stream.
    pub async fn check_request(&self, tenant: &TenantContext, request: &ChatRequest) -> Result<(), AgentError> {
        let req = validate(request.clone(), self.limits)?;
        if let Some(id) = req.session
            && self.store.conversations().get(tenant.id, id).await?.is_none()
        {
            return Err(InputError::new(ErrorCode::NotFound, "session not found").into());
        }
        Ok(())
    }

    /// Answers one customer message for `tenant` and stores both sides of the exchange.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
    pub async fn chat(&self, tenant: &TenantContext, request: ChatRequest) -> Result<ChatReply, AgentError> {
        let started = Instant::now();
        let received_at = Utc::now();
        let req = validate(request, self.limits)?;

        let (conversation, opens) = match req.session {
            Some(id) => {
                if self.store.conversations().get(tenant.id, id).await?.is_none() {
                    return Err(InputError::new(ErrorCode::NotFound, "session not found").into());
                }
                (id, None)
            }
            None => {
                let customer = match &req.customer_external_id {
                    Some(external) => Some(self.customer(tenant, external).await?),
                    None => None,
                };
                (ConversationId::new_random(), Some(NewConversation { customer, channel: "api".into() }))
            }
        };

        // L1 → L2 before anything is computed; L3 between classification and retrieval.
        let context = self.cache_context(tenant.id, conversation, opens.as_ref()).await;
        let message = req.message.as_str();
        let (answer, cache) = match self.screen.screen(message) {
            // Prompt-injection and abuse attempts get a fixed refusal: never cached, never
            // shown to a model.
            ScreenVerdict::Refuse(refusal) => {
                tracing::warn!(tenant = %tenant.slug, rule = %refusal.rule, category = ?refusal.category, "input refused by the safety screen");
                let reply = refusal_message(refusal.category, &tenant.name);
                (Arc::new(tria_cache::CachedAnswer::new(reply, IntentLabel::OutOfScope, 1.0)), tria_core::CacheLevel::None)
            }
            ScreenVerdict::Allow => {
                self.answer_through_cache(tenant, message, context, || self.classify(message), |c| self.generate(tenant, message, c))
                    .await?
            }
        };
        let (reply, sources) = (answer.reply.clone(), answer.sources.clone());
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let mut user = NewMessage::new(MessageRole::User, req.message.clone());
        user.created_at = received_at;
        user.intent = Some((answer.intent, answer.confidence));
        let mut assistant = NewMessage::new(MessageRole::Assistant, reply.clone());
        assistant.intent = Some((answer.intent, answer.confidence));
        assistant.sources = sources.iter().map(|s| s.id.clone()).collect();
        assistant.latency_ms = i64::try_from(latency_ms).unwrap_or(i64::MAX);
        assistant.cache_level = Some(cache);
        self.store
            .conversations()
            .record_exchange(tenant.id, Exchange { conversation, opens_conversation: opens, user, assistant })
            .await?;

        Ok(ChatReply {
            reply,
            session_id: conversation.to_string(),
            intent: IntentVerdict { label: answer.intent, confidence: answer.confidence },
            sources,
            cache,
            latency_ms,
        })
    }

    /// The intent of one message.
    pub(crate) fn classify(&self, message: &str) -> Classification {
        let vector = self.query_embedding(message);
        self.classifier.classify_embedded(message, vector.as_deref())
    }

    /// Retrieval and the reply for a classified message (what a cache hit skips).
    pub(crate) async fn generate(
        &self,
        tenant: &TenantContext,
        message: &str,
        classification: Classification,
    ) -> Result<Generated, AgentError> {
        let index = self.index(tenant.id).await?;
        let vector = self.query_embedding(message);
        if classification.label == IntentLabel::ProductInquiry
            && let Some(products) = self.catalogue(tenant.id)
        {
            let found = products.search(message, vector.as_deref(), TOP_K);
            let relevant = catalogue::relevant(message, &found);
            if !relevant.is_empty() {
                let sources = relevant.iter().map(|h| catalogue::source(h)).collect();
                let offline = catalogue::compose(&relevant);
                let grounding: Vec<(String, String)> = vec![("catalogue".into(), offline.clone())];
                let (reply, tokens) = self.with_llm(tenant, &classification, message, &grounding, offline).await;
                let answer = tria_cache::CachedAnswer::new(reply, classification.label, classification.confidence)
                    .with_sources(sources)
                    .with_tokens(tokens);
                return Ok(Generated { answer });
            }
        }
        let hits = index.hybrid_search(message, vector.as_deref(), TOP_K);
        let offline = responder::compose(tenant, classification.label, message, &hits);
        let sources: Vec<_> = hits.iter().map(|h| h.source_ref()).collect();
        let grounding: Vec<(String, String)> =
            hits.iter().map(|h| (format!("{} › {}", h.chunk.title, h.chunk.heading_path), h.chunk.text.clone())).collect();
        let (reply, tokens) = self.with_llm(tenant, &classification, message, &grounding, offline).await;
        let answer =
            tria_cache::CachedAnswer::new(reply, classification.label, classification.confidence).with_sources(sources).with_tokens(tokens);
        Ok(Generated { answer })
    }

    /// The LLM's reply when one is configured, the intent is one it writes, there is grounding
    /// and the reply passes the checks; otherwise `offline`. Then the tone is adapted to the
    /// tenant and the customer's mood. Returns the reply and the tokens it cost.
    async fn with_llm(
        &self,
        tenant: &TenantContext,
        classification: &Classification,
        message: &str,
        grounding: &[(String, String)],
        offline: String,
    ) -> (String, u32) {
        let mut reply = offline;
        let mut tokens = 0;
        if let Some(llm) = &self.llm
            && generation::uses_llm(classification.label)
            && !grounding.is_empty()
        {
            match llm.generate(tenant, classification.label, message, grounding).await {
                Ok((text, info)) => {
                    tracing::debug!(prompt = %info.prompt_version, tokens_in = info.tokens_in, tokens_out = info.tokens_out, cost_usd = info.cost_usd, "llm reply accepted");
                    tokens = info.tokens_in + info.tokens_out;
                    reply = text;
                }
                Err(reason) => tracing::warn!(%reason, "llm reply not used; the grounded responder answers"),
            }
        }
        (adapt_tone(&reply, &tenant.tone, classification.label, classification.tone), tokens)
    }

    async fn customer(&self, tenant: &TenantContext, external_id: &str) -> Result<CustomerId, AgentError> {
        // Customers first seen in chat are recorded with what we know: their id.
        let row = self
            .store
            .customers()
            .upsert(
                tenant.id,
                NewCustomer { external_id: external_id.to_owned(), name: String::new(), email: String::new(), company: String::new() },
            )
            .await?;
        Ok(CustomerId(row.id))
    }

    /// The messages of a session, oldest first; another tenant's session is not found.
    pub async fn history(&self, tenant: &TenantContext, session_id: &str) -> Result<Vec<HistoryMessage>, AgentError> {
        let id: ConversationId = session_id.parse().map_err(|_| InputError::new(ErrorCode::NotFound, "session not found"))?;
        if self.store.conversations().get(tenant.id, id).await?.is_none() {
            return Err(InputError::new(ErrorCode::NotFound, "session not found").into());
        }
        let rows = self.store.conversations().messages(tenant.id, id).await?;
        Ok(rows
            .into_iter()
            .map(|m| HistoryMessage {
                role: m.role,
                content: m.content,
                intent: m.intent,
                confidence: m.confidence,
                sources: m.sources,
                cache: m.cache_level,
                latency_ms: m.latency_ms,
                created_at: m.created_at,
            })
            .collect())
    }
}
