//! A Gorgias REST API client (`https://{account}.gorgias.com/api`): HTTP Basic auth with the
//! account's username and API key; tickets are created with their first message (the
//! transcript), listed with cursor pagination (`cursor`, `limit`, `meta.next_cursor`), read with
//! their messages, answered and closed.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{NewTicket, Ticket, TicketFilter, TicketMessage, TicketPage, TicketWithComments, Ticketing, TicketingError, transcript_text};

#[derive(Clone, Debug)]
pub struct GorgiasConfig {
    /// `https://{account}.gorgias.com/api` (no trailing slash).
    pub base_url: String,
    pub username: String,
    pub api_key: String,
    /// The address our messages are sent from (the integration's sender).
    pub sender_email: String,
    pub timeout: Duration,
}

impl GorgiasConfig {
    pub fn new(base_url: impl Into<String>, username: impl Into<String>, api_key: impl Into<String>) -> Self {
        let username = username.into();
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            sender_email: username.clone(),
            username,
            api_key: api_key.into(),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GorgiasClient {
    http: reqwest::Client,
    config: GorgiasConfig,
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn ticket_from(v: &Value) -> Result<Ticket, TicketingError> {
    Ok(Ticket {
        id: v.get("id").and_then(id_string).ok_or_else(|| TicketingError::Protocol("ticket without id".into()))?,
        subject: v.get("subject").and_then(Value::as_str).unwrap_or_default().to_owned(),
        status: v.get("status").and_then(Value::as_str).unwrap_or("open").to_owned(),
        customer_email: v.pointer("/customer/email").and_then(Value::as_str).map(str::to_owned),
        created_at: v.get("created_datetime").and_then(Value::as_str).map(str::to_owned),
    })
}

fn message_from(v: &Value) -> Result<TicketMessage, TicketingError> {
    Ok(TicketMessage {
        id: v.get("id").and_then(id_string).ok_or_else(|| TicketingError::Protocol("message without id".into()))?,
        body_text: v.get("body_text").and_then(Value::as_str).unwrap_or_default().to_owned(),
        from_agent: v.get("from_agent").and_then(Value::as_bool).unwrap_or(false),
        created_at: v.get("created_datetime").and_then(Value::as_str).map(str::to_owned),
    })
}

impl GorgiasClient {
    pub fn new(http: reqwest::Client, config: GorgiasConfig) -> Self {
        Self { http, config }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, TicketingError> {
        let response = request
            .basic_auth(&self.config.username, Some(&self.config.api_key))
            .timeout(self.config.timeout)
            .send()
            .await
            .map_err(|e| TicketingError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(TicketingError::Unauthorized(status)),
            404 => Err(TicketingError::NotFound(what.to_owned())),
            400..=499 => {
                let message =
                    body.pointer("/error/msg").or_else(|| body.get("message")).and_then(Value::as_str).unwrap_or("no details").to_owned();
                Err(TicketingError::Rejected { status, message })
            }
            _ => Err(TicketingError::Server { status }),
        }
    }

    fn message_body(&self, body_text: &str, from_agent: bool, customer_email: Option<&str>) -> Value {
        let sender = if from_agent { self.config.sender_email.as_str() } else { customer_email.unwrap_or(&self.config.sender_email) };
        json!({
            "channel": "api",
            "via": "api",
            "from_agent": from_agent,
            "sender": { "email": sender },
            "body_text": body_text,
        })
    }
}

#[async_trait]
impl Ticketing for GorgiasClient {
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, TicketingError> {
        let mut message = self.message_body(&transcript_text(&new.transcript), false, Some(&new.customer_email));
        message["subject"] = json!(new.subject);
        let body = json!({
            "customer": { "email": new.customer_email, "name": new.customer_name },
            "channel": "api",
            "via": "api",
            "subject": new.subject,
            "status": "open",
            "tags": new.tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
            "messages": [message],
        });
        let answer = self.send(self.http.post(self.url("/tickets")).json(&body), "ticket").await?;
        ticket_from(&answer)
    }

    async fn list_tickets(&self, filter: &TicketFilter, cursor: Option<&str>) -> Result<TicketPage, TicketingError> {
        let mut query: Vec<(&str, String)> =
            vec![("limit", filter.limit.unwrap_or(30).to_string()), ("order_by", "created_datetime:desc".into())];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        if let Some(id) = &filter.customer_id {
            query.push(("customer_id", id.clone()));
        }
        if let Some(id) = &filter.external_id {
            query.push(("external_id", id.clone()));
        }
        let answer = self.send(self.http.get(self.url("/tickets")).query(&query), "tickets").await?;
        let tickets = answer
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| TicketingError::Protocol("list without data".into()))?
            .iter()
            .map(ticket_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = answer.pointer("/meta/next_cursor").and_then(Value::as_str).map(str::to_owned);
        Ok(TicketPage { tickets, next_cursor })
    }

    async fn get_ticket_with_comments(&self, id: &str) -> Result<TicketWithComments, TicketingError> {
        let ticket = self.send(self.http.get(self.url(&format!("/tickets/{id}"))), id).await?;
        let messages = self.send(self.http.get(self.url(&format!("/tickets/{id}/messages"))), id).await?;
        let messages = messages
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| TicketingError::Protocol("messages without data".into()))?
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TicketWithComments { ticket: ticket_from(&ticket)?, messages })
    }

    async fn add_message(&self, id: &str, body_text: &str, from_agent: bool) -> Result<TicketMessage, TicketingError> {
        let body = self.message_body(body_text, from_agent, None);
        let answer = self.send(self.http.post(self.url(&format!("/tickets/{id}/messages"))).json(&body), id).await?;
        message_from(&answer)
    }

    async fn close_ticket(&self, id: &str) -> Result<(), TicketingError> {
        self.send(self.http.put(self.url(&format!("/tickets/{id}"))).json(&json!({ "status": "closed" })), id).await?;
        Ok(())
    }
}
