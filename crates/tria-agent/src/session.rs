//! The session stage: which conversation a message belongs to (a new one, or the caller's,
//! checked to be the tenant's), whether a person has it, and its recent turns — trimmed to the
//! history budget for the prompt and read for the subject a follow-up refers to.

use tria_core::{ConversationId, ConversationStatus, CustomerId, ErrorCode, InputError, TenantContext};
use tria_store::repo::NewConversation;

use crate::context::{MAX_LOADED_MESSAGES, Subject, TrimmedHistory, Turn, subject, trim_history};
use crate::input::CleanRequest;
use crate::{Agent, AgentError};

/// Where a conversation's messages arrive from, recorded by the write that opens it. The web
/// widget may continue only web conversations, so a later write could come too late: a widget
/// client that goes away mid-reply still holds the session it was told about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Channel {
    /// A tenant's own server (tenant keys), the OpenAI-compatible API, tools.
    #[default]
    Api,
    /// The web chat widget (publishable widget keys).
    Web,
}

impl Channel {
    /// The stored `conversations.channel`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Web => "web",
        }
    }
}

/// What the pipeline knows about the conversation before answering.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) conversation: ConversationId,
    /// `Some` when this message opens the conversation.
    pub(crate) opens: Option<NewConversation>,
    pub(crate) customer: Option<CustomerId>,
    /// A person has the conversation: the bot does not answer.
    pub(crate) handed_off: bool,
    /// Recent turns, oldest first.
    pub(crate) turns: Vec<Turn>,
    pub(crate) history: TrimmedHistory,
    pub(crate) subject: Option<Subject>,
}

impl Agent {
    /// A message without a session opens one on `channel`.
    pub(crate) async fn load_session(&self, tenant: &TenantContext, req: &CleanRequest, channel: Channel) -> Result<Session, AgentError> {
        let Some(id) = req.session else {
            let customer = match &req.customer_external_id {
                Some(external) => Some(Box::pin(self.customer(tenant, external)).await?),
                None => None,
            };
            return Ok(Session {
                conversation: ConversationId::new_ordered(),
                opens: Some(NewConversation { customer, channel: channel.as_str().into() }),
                customer,
                handed_off: false,
                turns: Vec::new(),
                history: TrimmedHistory::default(),
                subject: None,
            });
        };
        // The store's futures are boxed here and below: each is kilobytes, and inline they would
        // sit in every chat request's future, first messages and cache hits included.
        let Some(row) = Box::pin(self.store().conversations().get(tenant.id, id)).await? else {
            return Err(InputError::new(ErrorCode::NotFound, "session not found").into());
        };
        // A session is one customer's: a request naming another must not act for either.
        if let (Some(external), Some(owner)) = (&req.customer_external_id, row.customer_id) {
            let named = Box::pin(self.store().customers().find_by_external_id(tenant.id, external)).await?;
            if named.map(|c| c.id) != Some(owner) {
                return Err(InputError::new(
                    ErrorCode::InvalidField,
                    "customer_id: this session belongs to another customer; start a new session (no session_id) for this one",
                )
                .into());
            }
        }
        let rows = Box::pin(self.store().conversations().recent_messages(tenant.id, id, MAX_LOADED_MESSAGES)).await?;
        let turns: Vec<Turn> = rows.iter().filter_map(Turn::from_row).collect();
        let pairs: Vec<_> = turns.iter().map(|t| (t.role, t.text.clone())).collect();
        let history = trim_history(&pairs, self.history_tokens);
        Ok(Session {
            conversation: id,
            opens: None,
            customer: row.customer_id.map(CustomerId),
            handed_off: ConversationStatus::parse(&row.status) == Some(ConversationStatus::HandedOff),
            subject: subject(&turns),
            turns,
            history,
        })
    }
}
