//! Helpdesk tickets for human handoff: the [`Ticketing`] seam and a Gorgias-compatible REST
//! client ([`GorgiasClient`]); with feature `fake`, a loopback fake that follows Gorgias' API
//! shapes (`fake.rs`).

#[cfg(feature = "fake")]
pub mod fake;
mod gorgias;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use gorgias::{GorgiasClient, GorgiasConfig};

/// A ticket to open, e.g. for a conversation handed to a person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewTicket {
    pub subject: String,
    pub customer_email: String,
    pub customer_name: String,
    /// The conversation so far, `(role, text)`, oldest first; becomes the first message.
    pub transcript: Vec<(String, String)>,
    pub tags: Vec<String>,
}

/// A ticket as the helpdesk reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub subject: String,
    /// `open` or `closed`.
    pub status: String,
    pub customer_email: Option<String>,
    pub created_at: Option<String>,
}

/// One message (comment) on a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketMessage {
    pub id: String,
    pub body_text: String,
    pub from_agent: bool,
    pub created_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketWithComments {
    pub ticket: Ticket,
    pub messages: Vec<TicketMessage>,
}

/// Which tickets to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketFilter {
    /// The helpdesk's customer id.
    pub customer_id: Option<String>,
    /// Our own customer id, as stored on the helpdesk customer (`external_id`).
    pub external_id: Option<String>,
    /// Page size (the helpdesk caps it; 30 when `None`).
    pub limit: Option<u32>,
}

/// One page of tickets; `next_cursor` fetches the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TicketingError {
    /// Wrong credentials.
    #[error("the helpdesk refused the credentials ({0})")]
    Unauthorized(u16),
    #[error("ticket {0} not found")]
    NotFound(String),
    /// The request was wrong; the helpdesk's message is kept.
    #[error("the helpdesk rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the helpdesk failed ({status})")]
    Server { status: u16 },
    #[error("cannot reach the helpdesk: {0}")]
    Transport(String),
    #[error("unexpected answer from the helpdesk: {0}")]
    Protocol(String),
}

/// A helpdesk. Consumers see only this trait.
#[async_trait]
pub trait Ticketing: Send + Sync {
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, TicketingError>;
    async fn list_tickets(&self, filter: &TicketFilter, cursor: Option<&str>) -> Result<TicketPage, TicketingError>;
    async fn get_ticket_with_comments(&self, id: &str) -> Result<TicketWithComments, TicketingError>;
    /// Adds a message to the ticket; `from_agent` for a person of the tenant, else the customer.
    async fn add_message(&self, id: &str, body_text: &str, from_agent: bool) -> Result<TicketMessage, TicketingError>;
    async fn close_ticket(&self, id: &str) -> Result<(), TicketingError>;
}

/// The transcript as the first message's text: one `Role: text` paragraph per turn.
pub fn transcript_text(transcript: &[(String, String)]) -> String {
    transcript
        .iter()
        .map(|(role, text)| {
            let who = match role.as_str() {
                "user" => "Customer",
                "assistant" => "Assistant",
                other => other,
            };
            format!("{who}: {text}")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
