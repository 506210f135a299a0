//! A stateful fake of the Xero Accounting API on a loopback port, for tests and the chaos run.
//! It stores contacts and invoices, honours `Idempotency-Key` like Xero (a repeated key gets the
//! first answer back, nothing is created twice), checks the bearer token and `xero-tenant-id`,
//! answers validation errors in Xero's `Error`/`Elements`/`ValidationErrors` shape, emails
//! approved sales invoices (`POST /Invoices/{InvoiceID}/Email`: recorded, not sent), and serves an
//! OAuth2 token endpoint and Xero's identity side (`identity`: consent, code and refresh grants with
//! rotation, connections) for several organisations, each with its own books (`orgs`). Faults are
//! injected per request, scripted or at random:
//! 5xx, 429 with `Retry-After`, slow answers (client timeouts), connection resets, and
//! "committed, then the answer was lost".
//!
//! Bodies follow the spec's schemas; `tests/it/contract.rs` validates them against
//! `xero_accounting.yaml`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

mod identity;
mod orgs;

pub use identity::{Consent, FakeConnection, FakeOrganisation};

const API_PREFIX: &str = "/api.xro/2.0";

/// A fault the fake applies to one API request (the token endpoint is never faulted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No fault for this request (to line scripted faults up with later requests).
    Pass,
    /// Answer this status without doing anything.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after_secs: u64 },
    /// Wait this long, then process normally (the client has usually given up by then).
    Slow(Duration),
    /// Drop the connection without an answer, doing nothing.
    Reset,
    /// Process (commit) the request, then answer 500: the client cannot know it worked.
    CommitThenFail,
    /// Process (commit) the request, then drop the connection.
    CommitThenReset,
}

/// Credentials and identity the fake expects.
#[derive(Clone, Debug)]
pub struct FakeXeroConfig {
    pub client_id: String,
    pub client_secret: String,
    pub xero_tenant_id: String,
    /// The name of that organisation in `GET /connections`.
    pub org_name: String,
    /// `expires_in` of issued tokens, in seconds.
    pub token_lifetime_secs: u64,
    /// How long a refresh token still works after it was exchanged (Xero: 30 minutes).
    pub refresh_grace: Duration,
}

impl Default for FakeXeroConfig {
    fn default() -> Self {
        Self {
            client_id: "fake-client".into(),
            client_secret: "fake-secret".into(),
            xero_tenant_id: "00000000-0000-0000-0000-00000000f4ce".into(),
            org_name: "Demo Company (Fake)".into(),
            token_lifetime_secs: 1800,
            refresh_grace: Duration::from_secs(30 * 60),
        }
    }
}

/// One request the fake answered, with both bodies (for the contract test).
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub request: Option<Value>,
    pub status: u16,
    pub response: Value,
}

#[derive(Debug)]
struct RandomFaults {
    rate: f64,
    rng: StdRng,
    slow: Duration,
}

#[derive(Debug, Default)]
struct FakeState {
    /// Client-credentials tokens (a custom connection: the configured organisation only).
    tokens: HashSet<String>,
    issued_tokens: u64,
    contacts: Vec<Value>,
    invoices: Vec<Value>,
    /// `InvoiceID` of each invoice emailed, once per email sent.
    emailed: Vec<String>,
    /// `METHOD path key` → the first answer.
    idempotency: HashMap<String, (u16, Value)>,
    faults: VecDeque<Fault>,
    random: Option<RandomFaults>,
    faults_injected: u64,
    exchanges: Vec<Exchange>,
    record_exchanges: bool,
    identity: identity::IdentityState,
    /// Identity endpoints' answers (`/connect/token`, `/connections`), for the contract test.
    identity_exchanges: Vec<Exchange>,
    /// Contact and invoice id → the organisation (`xero-tenant-id`) it lives in.
    org_of: HashMap<String, String>,
}

#[derive(Debug)]
struct Shared {
    config: FakeXeroConfig,
    state: Mutex<FakeState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake; the server stops when this is dropped.
#[derive(Debug)]
pub struct FakeXero {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeXero {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeXero {
    /// Starts on `127.0.0.1` at a free port.
    pub async fn start(config: FakeXeroConfig) -> std::io::Result<Self> {
        let org = FakeOrganisation { id: config.xero_tenant_id.clone(), name: config.org_name.clone() };
        let identity = identity::IdentityState::new(org, config.refresh_grace);
        let shared = Arc::new(Shared { config, state: Mutex::new(FakeState { record_exchanges: true, identity, ..FakeState::default() }) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::warn!(error = %err, "fake Xero stopped");
            }
        });
        Ok(Self { addr, shared, server })
    }

    pub fn config(&self) -> &FakeXeroConfig {
        &self.shared.config
    }

    /// The Accounting API base URL (`…/api.xro/2.0`).
    pub fn base_url(&self) -> String {
        format!("http://{}{API_PREFIX}", self.addr)
    }

    /// The OAuth2 token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/connect/token", self.addr)
    }

    /// A real [`XeroClient`] pointed at this fake: OAuth2 client credentials against its token
    /// endpoint, its `xero-tenant-id`, sales account `200` (invoices `AUTHORISED`), and the given
    /// in-call retries and per-request timeout. The one place tests, the chaos run and the
    /// server's demo mode build it.
    pub fn client(&self, retry: crate::resilience::RetryPolicy, timeout: std::time::Duration) -> super::XeroClient {
        let http = reqwest::Client::new();
        let tokens = super::OAuthTokens::new(
            http.clone(),
            super::OAuthConfig {
                token_url: self.token_url(),
                client_id: self.config().client_id.clone(),
                client_secret: self.config().client_secret.clone(),
                grant: super::Grant::ClientCredentials { scopes: "accounting.transactions accounting.contacts".into() },
                refresh_skew: std::time::Duration::from_secs(60),
            },
        );
        let mut config = super::XeroConfig::new(self.base_url(), self.config().xero_tenant_id.clone());
        config.retry = retry;
        config.timeout = timeout;
        config.sales_account_code = Some("200".into());
        super::XeroClient::new(http, config, Arc::new(tokens))
    }

    /// The Xero app ([`super::tenant::XeroApp`]) tenants authorize against this fake: its client
    /// and identity endpoints, Xero's default scopes, sales account `200`, the given per-request
    /// timeout, and `redirect_uri` as the callback its consent sends the browser back to. The one
    /// place tests and the server's demo mode build it.
    pub fn xero_app(&self, redirect_uri: impl Into<String>, timeout: Duration) -> super::tenant::XeroApp {
        super::tenant::XeroApp {
            client: super::tenant::ClientCredentials {
                client_id: self.config().client_id.clone(),
                client_secret: self.config().client_secret.clone(),
            },
            authorize_url: self.authorize_url(),
            token_url: self.token_url(),
            revocation_url: self.revocation_url(),
            connections_url: self.connections_url(),
            api_base_url: self.base_url(),
            redirect_uri: redirect_uri.into(),
            scopes: super::tenant::XeroApp::DEFAULT_SCOPES.into(),
            sales_account_code: Some("200".into()),
            timeout,
        }
    }

    /// Issues a valid token directly (for clients built with a static token).
    pub fn issue_token(&self) -> String {
        issue_token(&mut self.shared.lock())
    }

    /// Revokes every issued token: the next API call gets 401 until the client refreshes.
    pub fn expire_tokens(&self) {
        let mut state = self.shared.lock();
        state.tokens.clear();
        state.identity.expire_access_tokens();
    }

    /// Tokens issued so far by the token endpoint or [`FakeXero::issue_token`].
    pub fn tokens_issued(&self) -> u64 {
        self.shared.lock().issued_tokens
    }

    /// Queues faults for the next API requests, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.extend(faults);
    }

    /// From now on, each API request (after the scripted ones) fails with probability `rate`,
    /// with a fault drawn from every kind, deterministically from `seed`. `slow` is the delay of
    /// a slow answer (set it above the client's timeout).
    pub fn set_random_faults(&self, rate: f64, seed: u64, slow: Duration) {
        self.shared.lock().random = Some(RandomFaults { rate, rng: StdRng::seed_from_u64(seed), slow });
    }

    pub fn clear_random_faults(&self) {
        self.shared.lock().random = None;
    }

    pub fn faults_injected(&self) -> u64 {
        self.shared.lock().faults_injected
    }

    /// Turns the exchange log off (the chaos run makes thousands of requests).
    pub fn record_exchanges(&self, on: bool) {
        self.shared.lock().record_exchanges = on;
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.lock().exchanges.clone()
    }

    pub fn invoices(&self) -> Vec<Value> {
        self.shared.lock().invoices.clone()
    }

    /// The invoices created in organisation `org` (`xero-tenant-id`).
    pub fn invoices_in(&self, org: &str) -> Vec<Value> {
        let state = self.shared.lock();
        state.invoices.iter().filter(|i| in_org(&state, i, "InvoiceID", org)).cloned().collect()
    }

    /// Answers of the identity endpoints (token, connections), for the contract test.
    pub fn identity_exchanges(&self) -> Vec<Exchange> {
        self.shared.lock().identity_exchanges.clone()
    }

    pub fn contacts(&self) -> Vec<Value> {
        self.shared.lock().contacts.clone()
    }

    /// The `InvoiceID` of every invoice emailed, in order, once per email Xero would have sent
    /// (a replayed `Idempotency-Key` sends nothing).
    pub fn emailed_invoices(&self) -> Vec<String> {
        self.shared.lock().emailed.clone()
    }

    /// How many invoices carry each `Reference` (an order number); more than one is a duplicate.
    pub fn invoices_per_reference(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for invoice in &self.shared.lock().invoices {
            let reference = invoice.get("Reference").and_then(Value::as_str).unwrap_or_default().to_owned();
            *counts.entry(reference).or_insert(0) += 1;
        }
        counts
    }
}

fn issue_token(state: &mut FakeState) -> String {
    state.issued_tokens += 1;
    let token = format!("fake-token-{}-{}", state.issued_tokens, uuid::Uuid::new_v4().simple());
    state.tokens.insert(token.clone());
    token
}

/// Logs an identity endpoint's answer.
fn record(state: &mut FakeState, method: &str, path: &str, request: Option<Value>, status: u16, response: &Value) {
    if state.record_exchanges {
        state.identity_exchanges.push(Exchange {
            method: method.to_owned(),
            path: path.to_owned(),
            idempotency_key: None,
            request,
            status,
            response: response.clone(),
        });
    }
}

/// Whether the contact or invoice `item` (its id under `id_field`) lives in organisation `org`.
fn in_org(state: &FakeState, item: &Value, id_field: &str, org: &str) -> bool {
    item[id_field].as_str().and_then(|id| state.org_of.get(id)).is_some_and(|o| o == org)
}

fn next_fault(state: &mut FakeState) -> Option<Fault> {
    let fault = state.faults.pop_front().or_else(|| {
        let random = state.random.as_mut()?;
        if !random.rng.random_bool(random.rate.clamp(0.0, 1.0)) {
            return None;
        }
        Some(match random.rng.random_range(0..7) {
            0 => Fault::Status(500),
            1 => Fault::Status(503),
            2 => Fault::RateLimited { retry_after_secs: 1 },
            3 => Fault::Slow(random.slow),
            4 => Fault::Reset,
            5 => Fault::CommitThenFail,
            _ => Fault::CommitThenReset,
        })
    });
    match fault {
        Some(Fault::Pass) => None,
        Some(fault) => {
            state.faults_injected += 1;
            Some(fault)
        }
        None => None,
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

/// Headers go out, then the body fails: hyper drops the connection mid-answer.
fn reset_response() -> Response {
    let failing = futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("connection reset")) });
    Response::new(Body::from_stream(failing))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(answer) = identity::handle(&shared, &method, &uri, &headers, &body) {
        return answer;
    }
    let fault = next_fault(&mut shared.lock());
    match &fault {
        Some(Fault::Status(status)) => {
            return json_response(*status, &json!({"Title": "Service Unavailable", "Status": status}));
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut response = json_response(429, &json!({"Title": "Too Many Requests", "Status": 429}));
            if let Ok(value) = retry_after_secs.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
                response.headers_mut().insert("x-rate-limit-problem", header::HeaderValue::from_static("minute"));
            }
            return response;
        }
        Some(Fault::Reset) => return reset_response(),
        Some(Fault::Slow(delay)) => tokio::time::sleep(*delay).await,
        _ => {}
    }
    let request: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, response) = {
        let mut state = shared.lock();
        let answer = process(&shared.config, &mut state, &method, uri.path(), &headers, &query, request.as_ref(), key.as_deref());
        if state.record_exchanges {
            state.exchanges.push(Exchange {
                method: method.to_string(),
                path: uri.path().to_owned(),
                idempotency_key: key,
                request,
                status: answer.0,
                response: answer.1.clone(),
            });
        }
        answer
    };
    match fault {
        Some(Fault::CommitThenFail) => json_response(500, &json!({"Title": "Internal Server Error", "Status": 500})),
        Some(Fault::CommitThenReset) => reset_response(),
        _ => json_response(status, &response),
    }
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Xero's `/Date(ms+0000)/` form.
fn ms_date(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("/Date({}+0000)/", at.timestamp_millis())
}

fn ms_date_of(day: &str) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(format!("/Date({})/", date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis()))
}

fn validation_error(messages: &[String], element: Value) -> (u16, Value) {
    let mut element = element;
    element["ValidationErrors"] = Value::Array(messages.iter().map(|m| json!({"Message": m})).collect());
    (
        400,
        json!({
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [element],
        }),
    )
}

fn equals_filter(filter: &str, field: &str) -> Option<String> {
    let rest = filter.trim().strip_prefix(field)?.trim_start().strip_prefix("==")?.trim();
    let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

#[allow(clippy::too_many_arguments)] // one request's parts, taken apart once
fn process(
    config: &FakeXeroConfig,
    state: &mut FakeState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> (u16, Value) {
    let org = match orgs::organisation(config, state, headers) {
        Ok(org) => org,
        Err(refused) => return refused,
    };
    let Some(resource) = path.strip_prefix(API_PREFIX) else {
        return (404, json!({"Title": "Not Found", "Status": 404}));
    };
    let writes = *method == Method::PUT || *method == Method::POST;
    // Idempotency keys are per organisation, like everything else in it.
    let replay_key = idempotency_key.filter(|_| writes).map(|k| format!("{org} {method} {resource} {k}"));
    if let Some(replay_key) = &replay_key
        && let Some(stored) = state.idempotency.get(replay_key)
    {
        return stored.clone();
    }
    if let Some(refused) = orgs::check(state, &org, method, resource, body) {
        return refused;
    }
    let answer = match (method.clone(), resource) {
        (Method::GET, "/Contacts") => get_contacts(state, query),
        (m, "/Contacts") if m == Method::PUT || m == Method::POST => create_contacts(state, body),
        (Method::GET, "/Invoices") => get_invoices(state, query),
        (Method::GET, r) if r.starts_with("/Invoices/") => {
            let id = &r["/Invoices/".len()..];
            match state.invoices.iter().find(|i| i["InvoiceID"] == id) {
                Some(invoice) => (200, json!({"Invoices": [invoice]})),
                None => (404, json!({"Title": "Not Found", "Status": 404})),
            }
        }
        (m, "/Invoices") if m == Method::PUT || m == Method::POST => create_invoices(state, body, query),
        (Method::POST, r) if r.starts_with("/Invoices/") && r.ends_with("/Email") => {
            email_invoice(state, &r["/Invoices/".len()..r.len() - "/Email".len()])
        }
        (Method::POST, r) if r.starts_with("/Invoices/") => update_invoice_status(state, &r["/Invoices/".len()..], body),
        _ => (404, json!({"Title": "Not Found", "Status": 404})),
    };
    let mut answer = answer;
    orgs::scope_answer(state, &org, &mut answer);
    if let Some(replay_key) = replay_key {
        state.idempotency.insert(replay_key, answer.clone());
    }
    answer
}

fn get_contacts(state: &FakeState, query: &HashMap<String, String>) -> (u16, Value) {
    let email = query.get("where").and_then(|w| equals_filter(w, "EmailAddress"));
    let found: Vec<&Value> = state
        .contacts
        .iter()
        .filter(|c| email.as_deref().is_none_or(|e| c["EmailAddress"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(e))))
        .collect();
    (200, json!({"Contacts": found}))
}

fn get_invoices(state: &FakeState, query: &HashMap<String, String>) -> (u16, Value) {
    let reference = query.get("where").and_then(|w| equals_filter(w, "Reference"));
    let found: Vec<&Value> = state.invoices.iter().filter(|i| reference.as_deref().is_none_or(|r| i["Reference"] == r)).collect();
    (200, json!({"Invoices": found}))
}

fn create_contacts(state: &mut FakeState, body: Option<&Value>) -> (u16, Value) {
    let Some(items) = body.and_then(|b| b.get("Contacts")).and_then(Value::as_array) else {
        return validation_error(&["The request body must contain Contacts".into()], json!({}));
    };
    let mut created = Vec::new();
    for item in items {
        let name = item.get("Name").and_then(Value::as_str).unwrap_or_default().trim();
        if name.is_empty() {
            return validation_error(&["The contact name must be specified.".into()], json!({}));
        }
        let contact = json!({
            "ContactID": uuid::Uuid::new_v4().to_string(),
            "ContactStatus": "ACTIVE",
            "Name": name,
            "EmailAddress": item.get("EmailAddress").and_then(Value::as_str).unwrap_or_default(),
            "IsCustomer": true,
            "IsSupplier": false,
            "UpdatedDateUTC": ms_date(chrono::Utc::now()),
            "HasValidationErrors": false,
        });
        state.contacts.push(contact.clone());
        created.push(contact);
    }
    (200, json!({"Contacts": created}))
}

fn create_invoices(state: &mut FakeState, body: Option<&Value>, query: &HashMap<String, String>) -> (u16, Value) {
    let Some(items) = body.and_then(|b| b.get("Invoices")).and_then(Value::as_array) else {
        return validation_error(&["The request body must contain Invoices".into()], json!({}));
    };
    // Unit amounts keep two decimals unless the caller opts in to four (`unitdp=4`), as in Xero.
    let unit_scale = if query.get("unitdp").map(String::as_str) == Some("4") { 10_000.0 } else { 100.0 };
    let mut created = Vec::new();
    for item in items {
        let mut errors = Vec::new();
        let kind = item.get("Type").and_then(Value::as_str).unwrap_or_default();
        if kind != "ACCREC" && kind != "ACCPAY" {
            errors.push("Invoice Type must be specified.".to_owned());
        }
        let contact_id = item.pointer("/Contact/ContactID").and_then(Value::as_str).unwrap_or_default();
        let contact = state.contacts.iter().find(|c| c["ContactID"] == contact_id).cloned();
        if contact.is_none() {
            errors.push(format!("The Contact with ContactID '{contact_id}' could not be found."));
        }
        let status = item.get("Status").and_then(Value::as_str).unwrap_or("DRAFT").to_owned();
        let lines = item.get("LineItems").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut subtotal = 0.0;
        let mut line_items = Vec::new();
        for line in &lines {
            let quantity = line.get("Quantity").and_then(Value::as_f64).unwrap_or(1.0);
            let unit = (line.get("UnitAmount").and_then(Value::as_f64).unwrap_or(0.0) * unit_scale).round() / unit_scale;
            if quantity <= 0.0 {
                errors.push("Quantity must be greater than zero.".to_owned());
            }
            if status == "AUTHORISED" && line.get("AccountCode").and_then(Value::as_str).is_none_or(str::is_empty) {
                errors.push("Account code '' is not a valid code for this document.".to_owned());
            }
            let amount = (quantity * unit * 100.0).round() / 100.0;
            subtotal += amount;
            let mut stored = json!({
                "LineItemID": uuid::Uuid::new_v4().to_string(),
                "Description": line.get("Description").cloned().unwrap_or(json!("")),
                "Quantity": quantity,
                "UnitAmount": unit,
                "TaxAmount": 0.0,
                "LineAmount": amount,
            });
            if let Some(code) = line.get("AccountCode") {
                stored["AccountCode"] = code.clone();
            }
            line_items.push(stored);
        }
        let date = item.get("Date").and_then(Value::as_str).and_then(ms_date_of);
        let due = item.get("DueDate").and_then(Value::as_str).and_then(ms_date_of);
        if !errors.is_empty() {
            return validation_error(&errors, json!({}));
        }
        let number = format!("INV-{:04}", state.invoices.len() + 1);
        let subtotal = (subtotal * 100.0).round() / 100.0;
        let mut invoice = json!({
            "Type": kind,
            "InvoiceID": uuid::Uuid::new_v4().to_string(),
            "InvoiceNumber": number,
            "Reference": item.get("Reference").cloned().unwrap_or(json!("")),
            "Contact": contact.map(|c| json!({"ContactID": c["ContactID"], "Name": c["Name"]})),
            "LineItems": line_items,
            "LineAmountTypes": item.get("LineAmountTypes").cloned().unwrap_or(json!("Exclusive")),
            "CurrencyCode": item.get("CurrencyCode").cloned().unwrap_or(json!("USD")),
            "Status": status,
            "SubTotal": subtotal,
            "TotalTax": 0.0,
            "Total": subtotal,
            "AmountDue": subtotal,
            "AmountPaid": 0.0,
            "UpdatedDateUTC": ms_date(chrono::Utc::now()),
            "HasErrors": false,
        });
        if let Some(date) = date {
            invoice["Date"] = json!(date);
        }
        if let Some(due) = due {
            invoice["DueDate"] = json!(due);
        }
        state.invoices.push(invoice.clone());
        created.push(invoice);
    }
    (200, json!({"Invoices": created}))
}

/// `POST /Invoices/{InvoiceID}/Email`: Xero emails only sales invoices (`ACCREC`) that are
/// `SUBMITTED`, `AUTHORISED` or `PAID`, to a contact with an email address; 204 with no body.
/// Nothing is sent: the invoice's id is recorded ([`FakeXero::emailed_invoices`]).
fn email_invoice(state: &mut FakeState, id: &str) -> (u16, Value) {
    let Some(invoice) = state.invoices.iter().find(|i| i["InvoiceID"] == id) else {
        return (404, json!({"Title": "Not Found", "Status": 404}));
    };
    let status = invoice["Status"].as_str().unwrap_or_default();
    let element = json!({"InvoiceID": id});
    if invoice["Type"] != "ACCREC" || !matches!(status, "SUBMITTED" | "AUTHORISED" | "PAID") {
        return validation_error(&[format!("Invoice of status {status} cannot be emailed.")], element);
    }
    let contact_id = invoice.pointer("/Contact/ContactID").cloned().unwrap_or_default();
    let has_address = state
        .contacts
        .iter()
        .find(|c| c["ContactID"] == contact_id)
        .and_then(|c| c["EmailAddress"].as_str())
        .is_some_and(|e| !e.trim().is_empty());
    if !has_address {
        return validation_error(&["The contact of this invoice has no email address.".to_owned()], element);
    }
    state.emailed.push(id.to_owned());
    (204, Value::Null)
}

/// `POST /Invoices/{InvoiceID}` with a new `Status` (VOIDED for approved, DELETED for drafts).
fn update_invoice_status(state: &mut FakeState, id: &str, body: Option<&Value>) -> (u16, Value) {
    let wanted = body.and_then(|b| b.pointer("/Invoices/0/Status")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(invoice) = state.invoices.iter_mut().find(|i| i["InvoiceID"] == id) else {
        return (404, json!({"Title": "Not Found", "Status": 404}));
    };
    let current = invoice["Status"].as_str().unwrap_or_default().to_owned();
    let allowed = match wanted.as_str() {
        "VOIDED" => matches!(current.as_str(), "AUTHORISED" | "VOIDED"),
        "DELETED" => matches!(current.as_str(), "DRAFT" | "SUBMITTED" | "DELETED"),
        _ => false,
    };
    if !allowed {
        let element = json!({"InvoiceID": id});
        return validation_error(&[format!("Invoice of status {current} cannot be changed to {wanted}.")], element);
    }
    invoice["Status"] = json!(wanted);
    invoice["UpdatedDateUTC"] = json!(ms_date(chrono::Utc::now()));
    (200, json!({"Invoices": [invoice.clone()]}))
}

/// Just enough base64 to read a Basic `Authorization` header (no extra dependency).
mod base64_lite {
    pub(super) fn decode_basic(encoded: &str) -> Option<(String, String)> {
        let bytes = decode(encoded.trim())?;
        let text = String::from_utf8(bytes).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some((user.to_owned(), pass.to_owned()))
    }

    fn decode(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let mut buf = 0u32;
        let mut bits = 0;
        for c in s.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => break,
                _ => return None,
            };
            buf = (buf << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push(u8::try_from((buf >> bits) & 0xff).ok()?);
            }
        }
        Some(out)
    }
}
