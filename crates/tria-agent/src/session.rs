//! The session stage: which conversation a message belongs to (a new one, or the caller's,
//! checked to be the caller's), whether a person has it, and its recent turns — trimmed to the
//! history budget for the prompt and read for the subject a follow-up refers to. Who may use a
//! session (tenant, customer, widget key) is decided here and nowhere else ([`Caller`]).

use tria_core::{ApiRole, ChatRequest, ConversationId, ConversationStatus, CustomerId, ErrorCode, InputError, TenantContext};
use tria_store::records::Conversation;
use tria_store::repo::NewConversation;

use crate::context::{MAX_LOADED_MESSAGES, Subject, TrimmedHistory, Turn, subject, trim_history};
use crate::input::CleanRequest;
use crate::language::{self, Language};
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

/// Who sends a customer's message or reads their session: a tenant's own server (a tenant key)
/// or the web widget (a publishable widget key, which is public — it is in the page's source).
/// It decides the channel a conversation it opens is recorded under, and what it may touch:
/// a widget may use only sessions the widget opened (channel `web`) and may not name a
/// customer, since a `customer_id` from a public key would let anyone read, change and place
/// that customer's orders; who the customer is only the business's server can vouch for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    role: ApiRole,
}

impl Default for Caller {
    fn default() -> Self {
        Self::TENANT
    }
}

impl Caller {
    /// A tenant key: the tenant's own server, the OpenAI-compatible API, tools.
    pub const TENANT: Caller = Caller { role: ApiRole::Tenant };
    /// A publishable widget key.
    pub const WIDGET: Caller = Caller { role: ApiRole::Widget };

    /// The caller for a chat key of `role` (anything but a widget key speaks for the tenant).
    pub fn for_role(role: ApiRole) -> Self {
        if role == ApiRole::Widget { Self::WIDGET } else { Self::TENANT }
    }

    pub fn role(self) -> ApiRole {
        self.role
    }

    pub fn is_widget(self) -> bool {
        self.role == ApiRole::Widget
    }

    /// The channel a conversation this caller opens is recorded under.
    pub fn channel(self) -> Channel {
        if self.is_widget() { Channel::Web } else { Channel::Api }
    }

    /// A widget may not name a customer; a blank `customer_id` names no one.
    pub(crate) fn check_customer_claim(self, customer_id: Option<&str>) -> Result<(), AgentError> {
        if self.is_widget() && customer_id.is_some_and(|c| !c.trim().is_empty()) {
            return Err(InputError::new(
                ErrorCode::Forbidden,
                "a publishable widget key cannot act for a named customer; drop `customer_id`, or send the request from your server with a tenant key",
            )
            .into());
        }
        Ok(())
    }

    /// Whether the caller may see and continue the tenant's stored conversation `row`.
    pub(crate) fn may_use(self, row: &Conversation) -> bool {
        !self.is_widget() || row.channel == self.channel().as_str()
    }
}

pub(crate) fn session_not_found() -> AgentError {
    InputError::new(ErrorCode::NotFound, "session not found").into()
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
    /// The customer's language for this turn: the message's own when it says enough, else the
    /// language of their newest earlier message that did (`language::of_turn`), else English.
    /// Kept as session state derived from the stored messages, so it needs no column of its own.
    pub(crate) language: Language,
}

impl Agent {
    /// The caller's rights over a chat request, before anything is spent on it (the rate
    /// limits, the budget): a widget naming a customer is refused (403) and one naming a session
    /// it did not open is told the session does not exist (404). A tenant key's session is
    /// checked when the message is answered ([`Agent::load_session`]), which costs no read here.
    pub async fn check_caller(&self, tenant: &TenantContext, request: &ChatRequest, caller: Caller) -> Result<(), AgentError> {
        if !caller.is_widget() {
            return Ok(());
        }
        caller.check_customer_claim(request.customer_id.as_deref())?;
        if let Some(id) = request.session_id.as_deref() {
            // Boxed: store futures are kilobytes, and every widget request carries this one.
            Box::pin(self.session_for(tenant, caller, id)).await?;
        }
        Ok(())
    }

    /// The caller's conversation `id`: the tenant's, and for a widget one the widget opened.
    /// Anything else is "not found", so a widget cannot even learn that a session exists.
    pub async fn session_for(&self, tenant: &TenantContext, caller: Caller, id: &str) -> Result<Conversation, AgentError> {
        let id: ConversationId = id.parse().map_err(|_| session_not_found())?;
        let row = self.store().conversations().get(tenant.id, id).await?.ok_or_else(session_not_found)?;
        if !caller.may_use(&row) {
            return Err(session_not_found());
        }
        Ok(row)
    }

    /// The session of a turn that has begun ([`crate::BegunTurn`]: the caller's claims checked,
    /// `row` read under the turn lock); a message without a session opens one on the caller's
    /// channel.
    pub(crate) async fn load_session(
        &self,
        tenant: &TenantContext,
        req: &CleanRequest,
        caller: Caller,
        row: Option<Conversation>,
    ) -> Result<Session, AgentError> {
        let Some(id) = req.session else {
            let customer = match &req.customer_external_id {
                Some(external) => Some(Box::pin(self.customer(tenant, external)).await?),
                None => None,
            };
            return Ok(Session {
                conversation: ConversationId::new_ordered(),
                opens: Some(NewConversation { customer, channel: caller.channel().as_str().into() }),
                customer,
                handed_off: false,
                turns: Vec::new(),
                history: TrimmedHistory::default(),
                subject: None,
                language: language::of_turn(&req.message, []),
            });
        };
        let row = row.ok_or_else(session_not_found)?;
        // The store's futures are boxed here and below: each is kilobytes, and inline they would
        // sit in every chat request's future, first messages and cache hits included.
        //
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
        let earlier = turns.iter().rev().filter(|t| t.role == tria_core::MessageRole::User).map(|t| t.text.as_str());
        let language = language::of_turn(&req.message, earlier);
        Ok(Session {
            conversation: id,
            opens: None,
            customer: row.customer_id.map(CustomerId),
            handed_off: ConversationStatus::parse(&row.status) == Some(ConversationStatus::HandedOff),
            subject: subject(&turns),
            turns,
            history,
            language,
        })
    }
}
