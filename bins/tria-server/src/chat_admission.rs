//! The one admission path of the three chat encoders (`POST /api/chat`, `/api/v1/chat/stream`,
//! `/v1/chat/completions`): after the gate has authenticated the caller and counted the tenant's
//! rate, the caller's claims are checked ([`admit_chat`], a whole reply) or the turn begins
//! ([`admit_turn`], a streamed reply: the request validated and its session read once, before
//! the first event), then the customer's rate and the tenant's spend budget
//! (`tria_admission::admit`), and the tenant and client are named for the pipeline's calls. The
//! handlers only encode what the agent answers.

use std::future::Future;
use std::sync::Arc;

use tria_agent::{BegunTurn, Caller, ChatClient};
use tria_core::{ChatRequest, TenantContext};
use tria_llm::CallContext;

use crate::ApiError;
use crate::auth::ChatAuth;
use crate::state::AppState;

/// Who sends a chat request, as the agent and admission see it.
#[derive(Clone, Debug)]
pub(crate) struct ChatCaller {
    pub tenant: Arc<TenantContext>,
    pub caller: Caller,
    /// The widget client's address (failed customer verifications are limited per client).
    pub client: Option<ChatClient>,
}

impl ChatCaller {
    /// A tenant key (the OpenAI surface accepts no other).
    pub(crate) fn tenant(tenant: Arc<TenantContext>) -> Self {
        Self { tenant, caller: Caller::TENANT, client: None }
    }
}

impl From<ChatAuth> for ChatCaller {
    fn from(auth: ChatAuth) -> Self {
        let caller = crate::web::caller_of(&auth);
        Self { tenant: auth.tenant, caller, client: auth.client }
    }
}

/// A whole-reply chat request that passed admission: what the encoder hands to the agent.
#[derive(Debug)]
pub(crate) struct AdmittedChat {
    pub tenant: Arc<TenantContext>,
    pub request: ChatRequest,
    pub caller: Caller,
    pub scope: ChatScope,
}

/// A streamed chat request that passed admission: its turn has begun (validated, the
/// session's lock held, the conversation read and found to be the caller's).
#[derive(Debug)]
pub(crate) struct AdmittedTurn {
    pub tenant: Arc<TenantContext>,
    pub turn: BegunTurn,
    pub scope: ChatScope,
}

/// The task-locals the pipeline's calls read: the tenant of the LLM calls (metrics, budget
/// records) and the widget client. Spawned work must carry them explicitly.
#[derive(Debug)]
pub(crate) struct ChatScope {
    context: CallContext,
    client: Option<ChatClient>,
    /// Where the turn's cache hit is recorded (the cost ledger).
    ledger: Option<Arc<tria_agent::ledger::LlmLedger>>,
}

impl ChatScope {
    /// Runs `pipeline` inside the scope.
    pub(crate) async fn run<F: Future>(self, pipeline: F) -> F::Output {
        let ledger = self.ledger.map(|l| l as Arc<dyn tria_llm::LlmObserver>);
        tria_llm::with_turn(self.context, ledger, tria_agent::with_chat_client(self.client, pipeline)).await
    }
}

/// A whole reply: the caller's claims → customer rate → spend budget → call context. The
/// pipeline's own validation becomes the HTTP error, so only what must come before the limits
/// is checked first (a widget's claims: a widget must not spend a customer's rate it may not
/// speak for).
pub(crate) async fn admit_chat(state: &AppState, from: ChatCaller, request: ChatRequest) -> Result<AdmittedChat, ApiError> {
    let ChatCaller { tenant, caller, client } = from;
    state.agent().check_caller(&tenant, &request, caller).await?;
    let scope = admit_spend(state, &tenant, request.customer_id.as_deref(), client).await?;
    Ok(AdmittedChat { tenant, request, caller, scope })
}

/// A streamed reply (events after a 200): whatever can be refused (input, session) is refused
/// before the first event, as a plain HTTP error, so the turn begins first
/// ([`tria_agent::Agent::begin_turn`]: validated once, the conversation read once under the
/// session's lock) → customer rate → spend budget → call context. The pipeline answers the
/// begun turn without checking it again.
pub(crate) async fn admit_turn(state: &AppState, from: ChatCaller, request: ChatRequest) -> Result<AdmittedTurn, ApiError> {
    let ChatCaller { tenant, caller, client } = from;
    // The customer's rate is counted under the id as sent, as for a whole reply.
    let customer = request.customer_id.clone();
    // Boxed: it reads the store, and only streams carry it. The begun turn (its lock guard
    // included) is held across the limits' awaits, so it waits on the heap, not in this future.
    let turn = Box::new(Box::pin(state.agent().begin_turn(&tenant, request, caller)).await?);
    let scope = admit_spend(state, &tenant, customer.as_deref(), client).await?;
    Ok(AdmittedTurn { tenant, turn: *turn, scope })
}

/// The customer's rate and the tenant's spend budget (`tria_admission::admit`), then the
/// scope of the pipeline's calls.
async fn admit_spend(
    state: &AppState,
    tenant: &TenantContext,
    customer: Option<&str>,
    client: Option<ChatClient>,
) -> Result<ChatScope, ApiError> {
    tria_admission::admit(state.rate_limiter(), state.budget(), tenant, customer).await?;
    let ledger = state.ledger().cloned();
    Ok(ChatScope { context: tria_admission::llm_context(tenant), client, ledger })
}
