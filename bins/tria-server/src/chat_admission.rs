//! The one admission path of the three chat encoders (`POST /api/chat`, `/api/v1/chat/stream`,
//! `/v1/chat/completions`): after the gate has authenticated the caller and counted the tenant's
//! rate, [`admit_chat`] checks the caller's claims (a streamed reply: the whole request), then the
//! customer's rate and the tenant's spend budget (`tria_admission::admit`), and names the tenant
//! and client for the pipeline's calls. The handlers only encode what the agent answers.

use std::future::Future;
use std::sync::Arc;

use tria_agent::{Caller, ChatClient};
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

/// How the reply goes out, which decides how much is checked before the pipeline runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyShape {
    /// One JSON body: the pipeline's own validation becomes the HTTP error, so only what must
    /// come before the limits is checked here (a widget's claims: a widget must not spend a
    /// customer's rate it may not speak for).
    Whole,
    /// Events after a 200: whatever can be refused (input, session) must be refused before the
    /// first event, as a plain HTTP error.
    Streamed,
}

/// A chat request that passed admission: what the encoder hands to the agent.
#[derive(Debug)]
pub(crate) struct AdmittedChat {
    pub tenant: Arc<TenantContext>,
    pub request: ChatRequest,
    pub caller: Caller,
    pub scope: ChatScope,
}

/// The task-locals the pipeline's calls read: the tenant of the LLM calls (metrics, budget
/// records) and the widget client. Spawned work must carry them explicitly.
#[derive(Debug)]
pub(crate) struct ChatScope {
    context: CallContext,
    client: Option<ChatClient>,
}

impl ChatScope {
    /// Runs `pipeline` inside the scope.
    pub(crate) async fn run<F: Future>(self, pipeline: F) -> F::Output {
        tria_llm::with_call_context(self.context, tria_agent::with_chat_client(self.client, pipeline)).await
    }
}

/// Caller's claims (or the whole request, for a streamed reply) → customer rate → spend budget
/// → call context, once for every chat encoder.
pub(crate) async fn admit_chat(
    state: &AppState,
    from: ChatCaller,
    request: ChatRequest,
    shape: ReplyShape,
) -> Result<AdmittedChat, ApiError> {
    let ChatCaller { tenant, caller, client } = from;
    match shape {
        ReplyShape::Whole => state.agent().check_caller(&tenant, &request, caller).await?,
        // Boxed: it reads the store, and only streams carry it.
        ReplyShape::Streamed => Box::pin(state.agent().check_request(&tenant, &request, caller)).await?,
    }
    tria_admission::admit(state.rate_limiter(), state.budget(), &tenant, request.customer_id.as_deref()).await?;
    let scope = ChatScope { context: tria_admission::llm_context(&tenant), client };
    Ok(AdmittedChat { tenant, request, caller, scope })
}
