//! A loopback fake of the Gorgias REST API for tests and demos: HTTP Basic auth, tickets with
//! their messages, cursor pagination (`limit` ≤ 100, `meta.next_cursor`/`prev_cursor`), and
//! Gorgias-shaped answers and errors (`{"error": {"msg"}}`, 400 on missing fields, 404 unknown
//! ids). Shapes follow developers.gorgias.com: `POST /api/tickets`, `GET /api/tickets`,
//! `GET /api/tickets/{id}`, `PUT /api/tickets/{id}`, `GET|POST /api/tickets/{id}/messages`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};

#[derive(Default)]
struct FakeState {
    next_id: u64,
    tickets: Vec<Value>,
    /// Ticket id → its messages.
    messages: Vec<(u64, Value)>,
}

struct Shared {
    authorization: String,
    state: Mutex<FakeState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake; stops when dropped.
pub struct FakeGorgias {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGorgias {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "error": { "msg": msg } }))).into_response()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl FakeGorgias {
    /// Starts on `127.0.0.1` at a free port, accepting `username`/`api_key`.
    pub async fn start(username: &str, api_key: &str) -> std::io::Result<Self> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{api_key}"));
        let shared = Arc::new(Shared { authorization: format!("Basic {token}"), state: Mutex::new(FakeState::default()) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/api/tickets", get(list_tickets).post(create_ticket))
            .route("/api/tickets/{id}", get(get_ticket).put(update_ticket))
            .route("/api/tickets/{id}/messages", get(list_messages).post(create_message))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::warn!(error = %err, "fake Gorgias stopped");
            }
        });
        Ok(Self { addr, shared, server })
    }

    /// `http://127.0.0.1:PORT/api`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Every ticket, oldest first.
    pub fn tickets(&self) -> Vec<Value> {
        self.shared.lock().tickets.clone()
    }

    pub fn messages_of(&self, id: &str) -> Vec<Value> {
        let id: u64 = id.parse().unwrap_or_default();
        self.shared.lock().messages.iter().filter(|(t, _)| *t == id).map(|(_, m)| m.clone()).collect()
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(shared.authorization.as_str())
}

fn message_value(state: &mut FakeState, ticket: u64, body: &Value) -> Result<Value, &'static str> {
    for field in ["channel", "via", "sender"] {
        if body.get(field).is_none() {
            return Err("a message needs channel, via and sender");
        }
    }
    if body.get("from_agent").and_then(Value::as_bool).is_none() {
        return Err("a message needs from_agent");
    }
    state.next_id += 1;
    let message = json!({
        "id": state.next_id,
        "ticket_id": ticket,
        "channel": body["channel"],
        "via": body["via"],
        "from_agent": body["from_agent"],
        "sender": body["sender"],
        "subject": body.get("subject").cloned().unwrap_or(Value::Null),
        "body_text": body.get("body_text").cloned().unwrap_or(json!("")),
        "created_datetime": now(),
    });
    state.messages.push((ticket, message.clone()));
    Ok(message)
}

async fn create_ticket(State(shared): State<Arc<Shared>>, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "messages: a ticket needs at least one message");
    };
    if body.pointer("/customer/email").and_then(Value::as_str).is_none_or(str::is_empty) {
        return error(StatusCode::BAD_REQUEST, "customer: an email or id is required");
    }
    let mut state = shared.lock();
    state.next_id += 1;
    let id = state.next_id;
    let mut created = Vec::new();
    for m in messages {
        match message_value(&mut state, id, m) {
            Ok(m) => created.push(m),
            Err(msg) => {
                state.messages.retain(|(t, _)| *t != id);
                return error(StatusCode::BAD_REQUEST, msg);
            }
        }
    }
    let ticket = json!({
        "id": id,
        "uri": format!("/api/tickets/{id}/"),
        "external_id": body.get("external_id").cloned().unwrap_or(Value::Null),
        "subject": body.get("subject").cloned().unwrap_or(Value::Null),
        "status": body.get("status").cloned().unwrap_or(json!("open")),
        "channel": body.get("channel").cloned().unwrap_or(json!("api")),
        "via": body.get("via").cloned().unwrap_or(json!("api")),
        "customer": body["customer"],
        "tags": body.get("tags").cloned().unwrap_or(json!([])),
        "messages_count": created.len(),
        "created_datetime": now(),
        "updated_datetime": now(),
        "closed_datetime": null,
    });
    state.tickets.push(ticket.clone());
    let mut answer = ticket;
    answer["messages"] = json!(created);
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn list_tickets(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let limit: usize = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 30,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => return error(StatusCode::BAD_REQUEST, "limit: must be between 1 and 100"),
    };
    let state = shared.lock();
    // Newest first, like `order_by=created_datetime:desc`.
    let mut tickets: Vec<&Value> = state.tickets.iter().rev().collect();
    if let Some(customer) = query.get("customer_id") {
        tickets.retain(|t| t.pointer("/customer/id").and_then(|v| v.as_u64()).map(|v| v.to_string()).as_deref() == Some(customer));
    }
    if let Some(external) = query.get("external_id") {
        tickets.retain(|t| t.pointer("/customer/external_id").and_then(Value::as_str) == Some(external));
    }
    // The cursor is opaque to clients; here it is the offset of the page.
    let start: usize = match query.get("cursor") {
        None => 0,
        Some(c) => match c.strip_prefix("o").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return error(StatusCode::BAD_REQUEST, "cursor: invalid"),
        },
    };
    let page: Vec<Value> = tickets.iter().skip(start).take(limit).map(|t| (*t).clone()).collect();
    let next = (start + limit < tickets.len()).then(|| format!("o{}", start + limit));
    let prev = (start > 0).then(|| format!("o{}", start.saturating_sub(limit)));
    axum::Json(json!({ "data": page, "meta": { "next_cursor": next, "prev_cursor": prev } })).into_response()
}

fn find(state: &FakeState, id: &str) -> Option<(u64, usize)> {
    let id: u64 = id.parse().ok()?;
    state.tickets.iter().position(|t| t["id"] == id).map(|at| (id, at))
}

async fn get_ticket(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let state = shared.lock();
    match find(&state, &id) {
        Some((_, at)) => axum::Json(state.tickets[at].clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not found"),
    }
}

async fn update_ticket(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let mut state = shared.lock();
    let Some((_, at)) = find(&state, &id) else { return error(StatusCode::NOT_FOUND, "Not found") };
    if let Some(status) = body.get("status") {
        if !matches!(status.as_str(), Some("open" | "closed")) {
            return error(StatusCode::BAD_REQUEST, "status: must be open or closed");
        }
        state.tickets[at]["status"] = status.clone();
        state.tickets[at]["closed_datetime"] = if status == "closed" { json!(now()) } else { Value::Null };
    }
    state.tickets[at]["updated_datetime"] = json!(now());
    axum::Json(state.tickets[at].clone()).into_response()
}

async fn list_messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let state = shared.lock();
    let Some((ticket, _)) = find(&state, &id) else { return error(StatusCode::NOT_FOUND, "Not found") };
    let data: Vec<Value> = state.messages.iter().filter(|(t, _)| *t == ticket).map(|(_, m)| m.clone()).collect();
    axum::Json(json!({ "data": data, "meta": { "next_cursor": null, "prev_cursor": null } })).into_response()
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&shared, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let mut state = shared.lock();
    let Some((ticket, at)) = find(&state, &id) else { return error(StatusCode::NOT_FOUND, "Not found") };
    match message_value(&mut state, ticket, &body) {
        Ok(message) => {
            let count = state.tickets[at]["messages_count"].as_u64().unwrap_or(0) + 1;
            state.tickets[at]["messages_count"] = json!(count);
            (StatusCode::CREATED, axum::Json(message)).into_response()
        }
        Err(msg) => error(StatusCode::BAD_REQUEST, msg),
    }
}
