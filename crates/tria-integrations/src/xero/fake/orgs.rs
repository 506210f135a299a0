//! Organisations keep their own books: a contact or invoice belongs to the organisation
//! (`xero-tenant-id`) it was created in, and a request in another organisation neither sees it
//! nor can use it — as with two Xero organisations. Applied around the API handlers, which stay
//! unaware of organisations.

use axum::http::{HeaderMap, Method, header};
use serde_json::{Value, json};

use super::{FakeState, FakeXeroConfig};

fn forbidden() -> (u16, Value) {
    (403, json!({"Type": null, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"}))
}

/// The organisation a request may act in: a client-credentials token reaches the configured
/// one; an authorization's token the organisations it connected. 401 / 403 otherwise.
pub(super) fn organisation(config: &FakeXeroConfig, state: &FakeState, headers: &HeaderMap) -> Result<String, (u16, Value)> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let tenant = headers.get("xero-tenant-id").and_then(|v| v.to_str().ok());
    let custom = bearer.is_some_and(|t| state.tokens.contains(t));
    let reaches =
        if custom { Some(tenant == Some(config.xero_tenant_id.as_str())) } else { bearer.and_then(|t| state.identity.reaches(t, tenant)) };
    match (reaches, tenant) {
        (None, _) => Err((401, json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"}))),
        (Some(true), Some(org)) => Ok(org.to_owned()),
        _ => Err(forbidden()),
    }
}

fn belongs(state: &FakeState, id: &str, org: &str) -> bool {
    state.org_of.get(id).is_some_and(|o| o == org)
}

/// Refuses, before it runs, a request naming another organisation's invoice or contact.
pub(super) fn check(state: &FakeState, org: &str, method: &Method, resource: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    if let Some(rest) = resource.strip_prefix("/Invoices/") {
        let id = rest.split('/').next().unwrap_or_default();
        if !belongs(state, id, org) {
            return Some((404, json!({"Title": "Not Found", "Status": 404})));
        }
    }
    if resource == "/Invoices" && (*method == Method::PUT || *method == Method::POST) {
        let foreign = body
            .and_then(|b| b.get("Invoices"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| i.pointer("/Contact/ContactID").and_then(Value::as_str))
            .find(|id| state.org_of.contains_key(*id) && !belongs(state, id, org));
        if let Some(id) = foreign {
            let message = format!("The Contact with ContactID '{id}' could not be found.");
            return Some(super::validation_error(&[message], json!({})));
        }
    }
    None
}

/// Tags what a request created with its organisation and hides other organisations' records
/// from what it reads.
pub(super) fn scope_answer(state: &mut FakeState, org: &str, answer: &mut (u16, Value)) {
    for (list, id_field) in [("Contacts", "ContactID"), ("Invoices", "InvoiceID")] {
        let Some(items) = answer.1.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for item in items.iter() {
            if let Some(id) = item[id_field].as_str() {
                state.org_of.entry(id.to_owned()).or_insert_with(|| org.to_owned());
            }
        }
        items.retain(|item| item[id_field].as_str().is_some_and(|id| state.org_of.get(id).is_some_and(|o| o == org)));
    }
}
