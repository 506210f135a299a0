//! The identity side of the fake Xero: the consent page (`GET /identity/connect/authorize`, which
//! answers at once with the redirect a user's consent would produce), the token endpoint's
//! `authorization_code` and `refresh_token` grants with Xero's rotation, the Identity API's
//! `GET /connections` and `DELETE /connections/{id}`, and token revocation.
//!
//! What is modelled from Xero's documentation: a code works once, within minutes, for the
//! `redirect_uri` it was issued for; every refresh returns a new refresh token, and the one used
//! stays usable only for a grace period (30 minutes at Xero, configurable here) in case the
//! answer was lost; a revoked authorization (the user disconnected the app) answers
//! `400 {"error": "invalid_grant"}`. Each authorization is one Xero user's consent, with its own
//! `authEventId`, connections and tokens; an access token reaches only the organisations its
//! authorization connected.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{FakeState, Shared, base64_lite, form_value, json_response};

/// What the (simulated) user answers on Xero's consent page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Consent {
    /// Connect these organisations (ids), in this order.
    Allow(Vec<String>),
    /// The user pressed "Cancel": the redirect carries `error=access_denied`.
    #[default]
    Deny,
}

/// An organisation the fake hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeOrganisation {
    pub id: String,
    pub name: String,
}

/// One connection as the Identity API lists it.
#[derive(Clone, Debug)]
pub struct FakeConnection {
    pub id: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub auth_event_id: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug)]
struct PendingCode {
    grant: String,
    client_id: String,
    redirect_uri: String,
    expires: Instant,
}

#[derive(Debug)]
struct Authorization {
    client_id: String,
    revoked: bool,
    connections: Vec<FakeConnection>,
}

#[derive(Debug)]
struct RefreshToken {
    grant: String,
    /// When it was first exchanged; afterwards it works only within the grace period.
    used_at: Option<Instant>,
}

/// The identity state, inside the fake's one lock.
#[derive(Debug, Default)]
pub(super) struct IdentityState {
    pub(super) organisations: Vec<FakeOrganisation>,
    consent: Consent,
    /// Client id → secret, besides the configured one (tenants bringing their own Xero app).
    clients: HashMap<String, String>,
    codes: HashMap<String, PendingCode>,
    /// By `authEventId`.
    grants: HashMap<String, Authorization>,
    refresh: HashMap<String, RefreshToken>,
    /// Exchanges per refresh token, including refused ones (the "used once" check of tests).
    refresh_uses: HashMap<String, u32>,
    /// Access token → its authorization.
    access: HashMap<String, String>,
    pub(super) grace: Duration,
}

impl IdentityState {
    pub(super) fn new(default_org: FakeOrganisation, grace: Duration) -> Self {
        Self {
            consent: Consent::Allow(vec![default_org.id.clone()]),
            organisations: vec![default_org],
            clients: HashMap::new(),
            codes: HashMap::new(),
            grants: HashMap::new(),
            refresh: HashMap::new(),
            refresh_uses: HashMap::new(),
            access: HashMap::new(),
            grace,
        }
    }

    /// Whether `token` is an authorization's access token that reaches organisation `org`;
    /// `None` when it is not such a token at all.
    pub(super) fn reaches(&self, token: &str, org: Option<&str>) -> Option<bool> {
        let grant = self.grants.get(self.access.get(token)?)?;
        if grant.revoked {
            return None;
        }
        Some(org.is_some_and(|org| grant.connections.iter().any(|c| c.tenant_id == org)))
    }

    pub(super) fn expire_access_tokens(&mut self) {
        self.access.clear();
    }
}

/// Test hooks on [`super::FakeXero`] for the identity side.
impl super::FakeXero {
    /// Adds an organisation users can connect; returns its id (`xero-tenant-id`).
    pub fn add_organisation(&self, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.shared.lock().identity.organisations.push(FakeOrganisation { id: id.clone(), name: name.to_owned() });
        id
    }

    pub fn organisations(&self) -> Vec<FakeOrganisation> {
        self.shared.lock().identity.organisations.clone()
    }

    /// What the next authorizations consent to (default: the configured organisation).
    pub fn set_consent(&self, consent: Consent) {
        self.shared.lock().identity.consent = consent;
    }

    /// Accepts another OAuth client (a tenant's own Xero app).
    pub fn register_client(&self, client_id: &str, client_secret: &str) {
        self.shared.lock().identity.clients.insert(client_id.to_owned(), client_secret.to_owned());
    }

    /// `GET /identity/connect/authorize` (Xero: `https://login.xero.com/identity/connect/authorize`).
    pub fn authorize_url(&self) -> String {
        format!("http://{}/identity/connect/authorize", self.addr)
    }

    /// The Identity API's `GET /connections` (Xero: `https://api.xero.com/connections`).
    pub fn connections_url(&self) -> String {
        format!("http://{}/connections", self.addr)
    }

    /// Token revocation (Xero: `https://identity.xero.com/connect/revocation`).
    pub fn revocation_url(&self) -> String {
        format!("http://{}/connect/revocation", self.addr)
    }

    /// Every live connection, of every authorization.
    pub fn connections(&self) -> Vec<FakeConnection> {
        let state = self.shared.lock();
        state.identity.grants.values().filter(|g| !g.revoked).flat_map(|g| g.connections.iter().cloned()).collect()
    }

    /// How often each refresh token was presented to the token endpoint.
    pub fn refresh_token_uses(&self) -> HashMap<String, u32> {
        self.shared.lock().identity.refresh_uses.clone()
    }

    /// The user disconnects the app from organisation `org` in Xero: every authorization that
    /// reached it is revoked (its refresh tokens answer `invalid_grant`, its access tokens 401).
    pub fn revoke_access_to(&self, org: &str) {
        let mut state = self.shared.lock();
        for grant in state.identity.grants.values_mut() {
            if grant.connections.iter().any(|c| c.tenant_id == org) {
                grant.revoked = true;
                grant.connections.clear();
            }
        }
    }
}

fn xero_time(at: DateTime<Utc>) -> String {
    // Xero's form: no offset, seven fractional digits (`2019-12-07T18:46:19.5165400`).
    format!("{}0", at.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

fn connection_json(c: &FakeConnection) -> Value {
    json!({
        "id": c.id,
        "authEventId": c.auth_event_id,
        "tenantId": c.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": c.tenant_name,
        "createdDateUtc": xero_time(c.created),
        "updatedDateUtc": xero_time(c.updated),
    })
}

fn query_value(uri: &axum::http::Uri, name: &str) -> Option<String> {
    form_value(uri.query().unwrap_or_default(), name)
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse(base).unwrap_or_else(|_| reqwest::Url::parse("http://invalid/").expect("static URL"));
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// Routes the identity endpoints; `None` for any other path.
pub(super) fn handle(shared: &Shared, method: &Method, uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let path = uri.path();
    let answer = match (method.as_str(), path) {
        ("GET", "/identity/connect/authorize") => authorize(shared, uri),
        ("POST", "/connect/token") => token(shared, headers, body),
        ("POST", "/connect/revocation") => revoke(shared, headers, body),
        ("GET", p) if p.eq_ignore_ascii_case("/connections") => list_connections(shared, uri, headers),
        ("DELETE", p) if p.len() > "/connections/".len() && p[.."/connections/".len()].eq_ignore_ascii_case("/connections/") => {
            delete_connection(shared, &p["/connections/".len()..], headers)
        }
        _ => return None,
    };
    Some(answer)
}

fn authorize(shared: &Shared, uri: &axum::http::Uri) -> Response {
    let (client_id, redirect_uri, state_param) =
        (query_value(uri, "client_id"), query_value(uri, "redirect_uri"), query_value(uri, "state").unwrap_or_default());
    let mut state = shared.lock();
    let known = client_id.as_deref().is_some_and(|id| id == shared.config.client_id || state.identity.clients.contains_key(id));
    let (Some(client_id), Some(redirect_uri), true) = (client_id, redirect_uri, known) else {
        // Xero shows an error page, not a redirect, for an unknown client or a missing redirect.
        return json_response(400, &json!({"error": "invalid_request"}));
    };
    if query_value(uri, "response_type").as_deref() != Some("code") {
        let location = with_query(&redirect_uri, &[("error", "unsupported_response_type"), ("state", &state_param)]);
        return redirect(&location);
    }
    let orgs = match state.identity.consent.clone() {
        Consent::Deny => return redirect(&with_query(&redirect_uri, &[("error", "access_denied"), ("state", &state_param)])),
        Consent::Allow(orgs) => orgs,
    };
    let grant = uuid::Uuid::new_v4().to_string();
    let now = Utc::now();
    let connections = orgs
        .iter()
        .filter_map(|id| state.identity.organisations.iter().find(|o| &o.id == id))
        .map(|org| FakeConnection {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: org.id.clone(),
            tenant_name: org.name.clone(),
            auth_event_id: grant.clone(),
            created: now,
            updated: now,
        })
        .collect();
    state.identity.grants.insert(grant.clone(), Authorization { client_id: client_id.clone(), revoked: false, connections });
    let code = uuid::Uuid::new_v4().simple().to_string();
    state.identity.codes.insert(
        code.clone(),
        PendingCode { grant, client_id, redirect_uri: redirect_uri.clone(), expires: Instant::now() + Duration::from_secs(300) },
    );
    redirect(&with_query(&redirect_uri, &[("code", &code), ("state", &state_param)]))
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// The client a Basic `Authorization` header names, if its secret is right.
fn client_of(shared: &Shared, state: &FakeState, headers: &HeaderMap) -> Option<String> {
    let (id, secret) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(base64_lite::decode_basic)?;
    let expected = if id == shared.config.client_id { Some(&shared.config.client_secret) } else { state.identity.clients.get(&id) };
    (expected == Some(&secret)).then_some(id)
}

fn issue_pair(shared: &Shared, state: &mut FakeState, grant: &str) -> (u16, Value) {
    state.issued_tokens += 1;
    let access = format!("fake-access-{}-{}", state.issued_tokens, uuid::Uuid::new_v4().simple());
    let refresh = format!("fake-refresh-{}", uuid::Uuid::new_v4().simple());
    state.identity.access.insert(access.clone(), grant.to_owned());
    state.identity.refresh.insert(refresh.clone(), RefreshToken { grant: grant.to_owned(), used_at: None });
    (
        200,
        json!({
            "access_token": access,
            "expires_in": shared.config.token_lifetime_secs,
            "token_type": "Bearer",
            "refresh_token": refresh,
        }),
    )
}

fn token(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut state = shared.lock();
    let (status, answer) = token_answer(shared, &mut state, headers, &String::from_utf8_lossy(body));
    super::record(&mut state, "POST", "/connect/token", None, status, &answer);
    json_response(status, &answer)
}

fn token_answer(shared: &Shared, state: &mut FakeState, headers: &HeaderMap, body: &str) -> (u16, Value) {
    let invalid_grant = || (400, json!({"error": "invalid_grant"}));
    let Some(client) = client_of(shared, state, headers) else {
        return (400, json!({"error": "invalid_client"}));
    };
    match form_value(body, "grant_type").as_deref() {
        Some("client_credentials") if client == shared.config.client_id => {
            let access_token = super::issue_token(state);
            (200, json!({"access_token": access_token, "expires_in": shared.config.token_lifetime_secs, "token_type": "Bearer"}))
        }
        Some("authorization_code") => {
            let code = form_value(body, "code").unwrap_or_default();
            // Single use: taken out whether or not the rest checks out.
            let Some(pending) = state.identity.codes.remove(&code) else { return invalid_grant() };
            let redirect_uri = form_value(body, "redirect_uri").unwrap_or_default();
            if pending.expires < Instant::now() || pending.client_id != client || pending.redirect_uri != redirect_uri {
                return invalid_grant();
            }
            issue_pair(shared, state, &pending.grant)
        }
        Some("refresh_token") => {
            let presented = form_value(body, "refresh_token").unwrap_or_default();
            *state.identity.refresh_uses.entry(presented.clone()).or_insert(0) += 1;
            let grace = state.identity.grace;
            let Some(token) = state.identity.refresh.get_mut(&presented) else { return invalid_grant() };
            if token.used_at.is_some_and(|at| at.elapsed() > grace) {
                return invalid_grant();
            }
            token.used_at.get_or_insert_with(Instant::now);
            let grant_id = token.grant.clone();
            let usable = state.identity.grants.get(&grant_id).is_some_and(|g| !g.revoked && g.client_id == client);
            if !usable {
                return invalid_grant();
            }
            issue_pair(shared, state, &grant_id)
        }
        _ => (400, json!({"error": "unsupported_grant_type"})),
    }
}

/// `POST /connect/revocation` with `token=<refresh token>`: the authorization ends.
fn revoke(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let body = String::from_utf8_lossy(body);
    let mut state = shared.lock();
    if client_of(shared, &state, headers).is_none() {
        return json_response(400, &json!({"error": "invalid_client"}));
    }
    let presented = form_value(&body, "token").unwrap_or_default();
    if let Some(grant) = state.identity.refresh.get(&presented).map(|t| t.grant.clone())
        && let Some(grant) = state.identity.grants.get_mut(&grant)
    {
        grant.revoked = true;
        grant.connections.clear();
    }
    // RFC 7009: 200 whether or not the token was known.
    StatusCode::OK.into_response()
}

fn grant_of_bearer(state: &FakeState, headers: &HeaderMap) -> Option<String> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))?;
    let grant = state.identity.access.get(bearer)?;
    state.identity.grants.get(grant).filter(|g| !g.revoked).map(|_| grant.clone())
}

fn unauthorized() -> Response {
    json_response(401, &json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"}))
}

fn list_connections(shared: &Shared, uri: &axum::http::Uri, headers: &HeaderMap) -> Response {
    let mut state = shared.lock();
    let Some(grant) = grant_of_bearer(&state, headers) else { return unauthorized() };
    let event = query_value(uri, "authEventId");
    let list: Vec<Value> = state.identity.grants[&grant]
        .connections
        .iter()
        .filter(|c| event.as_deref().is_none_or(|e| c.auth_event_id == e))
        .map(connection_json)
        .collect();
    let body = Value::Array(list);
    super::record(&mut state, "GET", uri.path(), None, 200, &body);
    json_response(200, &body)
}

fn delete_connection(shared: &Shared, id: &str, headers: &HeaderMap) -> Response {
    let mut state = shared.lock();
    let Some(grant) = grant_of_bearer(&state, headers) else { return unauthorized() };
    let connections = &mut state.identity.grants.get_mut(&grant).expect("grant of a live token").connections;
    let before = connections.len();
    connections.retain(|c| c.id != id);
    let status = if connections.len() < before { 204 } else { 404 };
    super::record(&mut state, "DELETE", &format!("/connections/{id}"), None, status, &Value::Null);
    StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND).into_response()
}
