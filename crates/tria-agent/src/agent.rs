//! The [`Agent`]: its parts, how it is built, and its entry points; the stages a chat message
//! goes through are `pipeline/`.

use std::sync::Arc;

use tria_core::{ChatReply, ChatRequest, ConversationId, CustomerId, ErrorCode, InputError, TenantContext, TenantId};
use tria_guard::InputScreen;
use tria_intent::{Classification, IntentClassifier, RuleClassifier};
use tria_rag::{Embedder, EmbedderStatus};
use tria_store::Store;
use tria_store::repo::NewCustomer;

use crate::AgentError;
use crate::cached::{CacheParts, Generated};
use crate::components::IntentParts;
use crate::context::{DEFAULT_HISTORY_TOKENS, HistoryMessage};
use crate::generation::{LlmParts, LlmSource};
use crate::group_commit::ExchangeWriter;
use crate::handoff::{HandoffNotifier, NoNotifier};
use crate::input::ChatLimits;
use crate::message_facts::MessageFacts;
use crate::routing::Ask;
use crate::semantic::SemanticParts;
use crate::session::Caller;
use crate::tenant_indexes::TenantIndexes;
use crate::trace::{ChatDebug, StageClock};

/// Messages whose classification is remembered.
const CLASSIFICATION_MEMO: usize = 8192;

/// Builds an [`Agent`]; every part has a default except the store.
pub struct AgentBuilder {
    store: Store,
    classifier: Arc<dyn IntentClassifier>,
    limits: ChatLimits,
    pub(crate) cache: CacheParts,
    semantic: SemanticParts,
    pub(crate) llm: Option<LlmSource>,
    pub(crate) llm_guard: Arc<crate::llm_guard::LlmGuard>,
    pub(crate) screen: Arc<InputScreen>,
    pub(crate) notifier: Arc<dyn HandoffNotifier>,
    pub(crate) orders: crate::orders::OrderParts,
    history_tokens: u32,
    pub(crate) intent: IntentParts,
    knowledge_check: std::time::Duration,
    turns: Arc<dyn tria_store::TurnLocks>,
}

impl AgentBuilder {
    /// How often each tenant's knowledge version is read from the store (at most once per
    /// this, per tenant, off the request path): the bound on how long this replica serves a
    /// knowledge version another replica replaced. Default one second.
    pub fn knowledge_check_interval(mut self, every: std::time::Duration) -> Self {
        self.knowledge_check = every;
        self
    }

    /// How turns on one conversation wait for each other (default: within this process only).
    /// Several replicas on PostgreSQL share [`tria_store::Store::turn_locks`]'s advisory locks.
    pub fn turn_locks(mut self, locks: Arc<dyn tria_store::TurnLocks>) -> Self {
        self.turns = locks;
        self
    }

    /// The turn deadline, first-token deadline and per-provider breaker settings of LLM calls
    /// (default: [`LlmResilience::default`](crate::LlmResilience)).
    pub fn llm_resilience(mut self, config: crate::LlmResilience) -> Self {
        let shared = self.llm_guard.shared_hold_off();
        self.llm_guard = Arc::new(crate::llm_guard::LlmGuard::new(config).with_shared_hold_off(shared));
        self
    }

    /// Shares LLM providers' 429 hold-offs with the other replicas through `store` (Redis):
    /// a `Retry-After` one replica is given holds them all back (default: this process only).
    pub fn llm_shared_hold_off(mut self, store: Arc<dyn tria_llm::SharedHoldOff>) -> Self {
        let config = self.llm_guard.config().clone();
        self.llm_guard = Arc::new(crate::llm_guard::LlmGuard::new(config).with_shared_hold_off(Some(store)));
        self
    }

    /// Prompt tokens (cl100k) earlier turns may take; older turns are summarised or dropped to
    /// stay within it.
    pub fn history_tokens(mut self, budget: u32) -> Self {
        self.history_tokens = budget;
        self
    }

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
            self.intent.model = Some(model.clone());
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
        // Not the intent model: no version to cache its verdicts under, no fallback to ask.
        self.intent.model = None;
        self
    }

    pub fn limits(mut self, limits: ChatLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn build(self) -> Agent {
        // The learned safety layer comes with the embedder that feeds it.
        let screen = match (&self.semantic.safety, self.screen.learned()) {
            (Some(learned), None) => Arc::new((*self.screen).clone().with_learned(learned.clone())),
            _ => self.screen,
        };
        let intent = self.intent.with_guard(&self.llm_guard);
        Agent {
            writer: ExchangeWriter::new(self.store.clone()),
            classifications: quick_cache::sync::Cache::new(CLASSIFICATION_MEMO),
            facts: MessageFacts::new(screen.clone()),
            indexes: TenantIndexes::new(self.store.clone(), self.semantic.embedder.clone(), self.knowledge_check),
            orders: self.orders.desk(self.store.clone()),
            store: self.store,
            classifier: self.classifier,
            limits: self.limits,
            cache: self.cache,
            semantic: self.semantic,
            llm: self.llm,
            llm_guard: self.llm_guard,
            screen,
            notifier: self.notifier,
            history_tokens: self.history_tokens,
            turns: self.turns,
            intent,
        }
    }
}

/// The chat pipeline. Cheap to share behind an `Arc`; all state is per tenant.
pub struct Agent {
    store: Store,
    pub(crate) writer: ExchangeWriter,
    /// Recent messages' classifications: the order check and the cache both need the intent,
    /// and repeated questions are most of the traffic; the classifier is the same for every
    /// tenant and for the process's life.
    classifications: quick_cache::sync::Cache<String, Classification>,
    /// Recent messages' screen verdicts and tone.
    pub(crate) facts: MessageFacts,
    classifier: Arc<dyn IntentClassifier>,
    pub(crate) limits: ChatLimits,
    /// Each tenant's policy index and catalogue (see `tenant_indexes.rs`).
    pub(crate) indexes: TenantIndexes,
    pub(crate) cache: CacheParts,
    semantic: SemanticParts,
    llm: Option<LlmSource>,
    llm_guard: Arc<crate::llm_guard::LlmGuard>,
    screen: Arc<InputScreen>,
    pub(crate) notifier: Arc<dyn HandoffNotifier>,
    pub(crate) orders: tria_orders::OrderDesk,
    pub(crate) history_tokens: u32,
    /// One change at a time per session: a customer's turn, an operator's take-over, message
    /// or hand-back (see `conversation.rs`).
    pub(crate) turns: Arc<dyn tria_store::TurnLocks>,
    /// The intent model and its fallback (see `components.rs`).
    pub(crate) intent: IntentParts,
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
            llm_guard: Arc::default(),
            screen: Arc::new(InputScreen::new()),
            notifier: Arc::new(NoNotifier),
            orders: crate::orders::OrderParts::default(),
            history_tokens: DEFAULT_HISTORY_TOKENS,
            intent: IntentParts::default(),
            knowledge_check: crate::tenant_indexes::DEFAULT_KNOWLEDGE_CHECK,
            turns: Arc::new(tria_store::turn_locks::InProcessTurnLocks::default()),
        }
    }

    /// The LLM providers' breakers and the fallbacks counted (for `/health`, `/metrics` and
    /// `/admin/integrations`).
    pub fn llm_guard(&self) -> &Arc<crate::llm_guard::LlmGuard> {
        &self.llm_guard
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

    pub(crate) fn screen(&self) -> &InputScreen {
        &self.screen
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// (Re)loads a tenant's policy index from the store, e.g. after re-indexing. With an
    /// embedder, chunks without a current vector are embedded first and the index is hybrid.
    pub async fn reload_index(&self, tenant: TenantId) -> Result<usize, AgentError> {
        self.indexes.reload(tenant).await
    }

    /// Answers one customer message for `tenant` and stores both sides of the exchange.
    pub async fn chat(&self, tenant: &TenantContext, request: ChatRequest) -> Result<ChatReply, AgentError> {
        Ok(self.chat_traced(tenant, request).await?.0)
    }

    /// [`Agent::chat`] with per-stage timings and what the context stage decided (for
    /// `?debug=true`). Each stage is also a `tracing` span.
    pub async fn chat_traced(&self, tenant: &TenantContext, request: ChatRequest) -> Result<(ChatReply, ChatDebug), AgentError> {
        self.chat_traced_on(tenant, request, Caller::TENANT).await
    }

    /// [`Agent::chat_traced`] for a message from `caller`: the session must be one it may use,
    /// and a conversation it opens is recorded under its channel.
    pub async fn chat_traced_on(
        &self,
        tenant: &TenantContext,
        request: ChatRequest,
        caller: Caller,
    ) -> Result<(ChatReply, ChatDebug), AgentError> {
        self.chat_inner(tenant, request, caller, None).await
    }

    /// The intent of one message: remembered, else from the tenant's L4 intent cache, else the
    /// classifier (and the intent fallback for an unsure verdict), see `components.rs`.
    pub(crate) async fn classify(&self, tenant: TenantId, message: &str) -> Classification {
        if let Some(known) = self.classifications.get(message) {
            return known;
        }
        // Boxed: a cache lookup and a fallback's question are kilobytes of future that every
        // chat future would carry, though most messages are remembered.
        let classification = Box::pin(self.classify_through_l4(tenant, message)).await;
        self.classifications.insert(message.to_owned(), classification.clone());
        classification
    }

    /// The classifier's verdict, computed now.
    pub(crate) fn classify_now(&self, message: &str) -> Classification {
        let vector = self.query_embedding(message);
        self.classifier.classify_embedded(message, vector.as_deref())
    }

    /// The reply to a stand-alone message (no conversation), e.g. for cache warming.
    pub(crate) async fn generate(
        &self,
        tenant: &TenantContext,
        message: &str,
        classification: Classification,
    ) -> Result<Generated, AgentError> {
        let clock = StageClock::default();
        // Cache warming asks a tenant's FAQ as an English-speaking customer would.
        let language = crate::language::Language::English;
        let ask = Ask { message, history: &[], conversation: None, customer: None, clock: &clock, sink: None, language };
        self.respond(tenant, ask, classification).await
    }

    /// The LLM `tenant`'s reply is written with (`None`: the offline responder).
    pub(crate) async fn llm_for(&self, tenant: &TenantContext) -> Option<LlmParts> {
        self.llm.as_ref()?.for_tenant(tenant).await
    }

    /// The prompt sets a tenant's `settings.prompt_set` may name: those loaded with the LLM, or
    /// the built-in `default` when replies are composed offline.
    pub fn prompt_sets(&self) -> Vec<String> {
        match &self.llm {
            Some(llm) => llm.prompts.sets().map(str::to_owned).collect(),
            None => vec![tria_llm::prompt::DEFAULT_SET.to_owned()],
        }
    }

    pub(crate) async fn customer(&self, tenant: &TenantContext, external_id: &str) -> Result<CustomerId, AgentError> {
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
        Ok(rows.iter().map(HistoryMessage::from).collect())
    }
}
