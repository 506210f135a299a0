//! `GET /api/v1/customers/{id}/profile` and `/churn`: what the tenant knows about one of its
//! customers (by the tenant's own customer id), and an explainable churn-risk score. Both are
//! tenant-scoped (another tenant's customer is 404), cached per instance (profile 1 h, churn
//! 30 min) and recomputed as soon as the customer's orders or tickets change (the cache entry
//! carries a fingerprint of them, checked on every read).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tria_core::{CustomerId, OrderStatus, TenantContext, TenantId};
use tria_store::entity::order;

use crate::ApiError;
use crate::auth::TenantAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

pub(crate) const PROFILE_TTL: Duration = Duration::from_secs(3600);
pub(crate) const CHURN_TTL: Duration = Duration::from_secs(1800);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Profile,
    Churn,
}

struct Entry {
    at: Instant,
    fingerprint: String,
    value: Value,
}

/// Computed profiles and scores, keyed by tenant, customer and kind.
#[derive(Default)]
pub(crate) struct InsightCache {
    entries: Mutex<HashMap<(TenantId, String, Kind), Entry>>,
}

impl InsightCache {
    fn get(&self, key: &(TenantId, String, Kind), fingerprint: &str, ttl: Duration) -> Option<Value> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        (entry.at.elapsed() < ttl && entry.fingerprint == fingerprint).then(|| entry.value.clone())
    }

    fn put(&self, key: (TenantId, String, Kind), fingerprint: String, value: Value) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, Entry { at: Instant::now(), fingerprint, value });
        }
    }
}

/// The facts both endpoints are computed from.
struct Facts {
    customer: tria_store::entity::customer::Model,
    orders: Vec<order::Model>,
    open_tickets: u64,
    signals: tria_store::repo::CustomerSignals,
}

async fn facts(state: &AppState, tenant: &TenantContext, external_id: &str) -> Result<(Facts, String), ApiError> {
    let store = state.store();
    let customer =
        store.customers().find_by_external_id(tenant.id, external_id).await?.ok_or_else(|| ApiError::not_found("customer not found"))?;
    let id = CustomerId(customer.id);
    let fingerprint = store.insights().fingerprint(tenant.id, id).await?;
    let orders = store.orders().list_for_customer(tenant.id, id).await?;
    let open_tickets = store.ticket_links().open_for_customer(tenant.id, id).await?;
    let signals = store.insights().customer_signals(tenant.id, id).await?;
    Ok((Facts { customer, orders, open_tickets, signals }, fingerprint))
}

/// Orders that count towards what the customer is worth (not cancelled, failed or unapproved).
fn counts(order: &order::Model) -> bool {
    matches!(OrderStatus::parse(&order.status), Some(OrderStatus::Confirmed | OrderStatus::Invoiced))
}

fn sentiment_summary(sentiments: &[String]) -> Value {
    let count = |s: &str| sentiments.iter().filter(|x| x.as_str() == s).count();
    let (negative, neutral, positive) = (count("negative"), count("neutral"), count("positive"));
    let overall = if sentiments.is_empty() {
        "unknown"
    } else if negative * 2 > sentiments.len() || (negative > positive && negative >= 2) {
        "negative"
    } else if positive > negative {
        "positive"
    } else {
        "neutral"
    };
    json!({ "messages": sentiments.len(), "negative": negative, "neutral": neutral, "positive": positive, "overall": overall })
}

fn profile_of(f: &Facts) -> Value {
    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for o in &f.orders {
        *by_status.entry(o.status.as_str()).or_default() += 1;
    }
    let lifetime: i64 = f.orders.iter().filter(|o| counts(o)).map(|o| o.total_minor).sum();
    let currency = f.orders.first().map(|o| o.currency.clone());
    let last = f.orders.first().map(|o| {
        json!({ "order_number": o.number, "status": o.status, "total_minor": o.total_minor, "currency": o.currency, "created_at": o.created_at })
    });
    json!({
        "customer_id": f.customer.external_id,
        "name": f.customer.name,
        "company": f.customer.company,
        "email": f.customer.email,
        "orders": { "count": f.orders.len(), "by_status": by_status },
        "lifetime_value_minor": lifetime,
        "currency": currency,
        "last_order": last,
        "open_tickets": f.open_tickets,
        "complaints": f.signals.complaints,
        "recent_sentiment": sentiment_summary(&f.signals.recent_sentiments),
        "last_contact": f.signals.last_contact,
    })
}

/// One factor of the churn score: its raw value, its risk (0 = none, 1 = highest), its weight,
/// and why.
fn factor(name: &str, value: Value, risk: f64, weight: f64, why: String) -> Value {
    let risk = risk.clamp(0.0, 1.0);
    json!({ "name": name, "value": value, "risk": round3(risk), "weight": weight, "contribution": round3(risk * weight), "explanation": why })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Churn risk from recency, frequency, monetary value, complaints and sentiment. Weights sum to
/// 1; each factor's contribution is listed so the score explains itself.
#[allow(clippy::cast_precision_loss)]
fn churn_of(f: &Facts, now: DateTime<Utc>) -> Value {
    let counted: Vec<&order::Model> = f.orders.iter().filter(|o| counts(o)).collect();
    let last = counted.iter().map(|o| o.created_at).max();
    let recency_days = last.map(|t| (now - t).num_days().max(0));
    let recency = match recency_days {
        Some(d) => {
            factor("recency", json!(d), d as f64 / 180.0, 0.35, format!("{d} days since the last order (180+ days is the highest risk)"))
        }
        None => factor("recency", Value::Null, 1.0, 0.35, "no orders yet".into()),
    };
    let year_ago = now - chrono::Duration::days(365);
    let recent_orders = counted.iter().filter(|o| o.created_at >= year_ago).count();
    let frequency = factor(
        "frequency",
        json!(recent_orders),
        1.0 - recent_orders as f64 / 6.0,
        0.2,
        format!("{recent_orders} orders in the last 12 months (6 or more is no risk)"),
    );
    let lifetime: i64 = counted.iter().map(|o| o.total_minor).sum();
    let monetary = factor(
        "monetary",
        json!(lifetime),
        1.0 - lifetime as f64 / 500_000.0,
        0.15,
        format!("lifetime value {lifetime} in minor units (5,000.00 or more is no risk)"),
    );
    let complaints = factor(
        "complaints",
        json!(f.signals.complaints),
        f.signals.complaints as f64 / 3.0,
        0.15,
        format!("{} complaints in chat (3 or more is the highest risk)", f.signals.complaints),
    );
    let sentiments = &f.signals.recent_sentiments;
    let negative = sentiments.iter().filter(|s| s.as_str() == "negative").count();
    let sentiment = if sentiments.is_empty() {
        factor("sentiment", Value::Null, 0.0, 0.15, "no recent messages".into())
    } else {
        factor(
            "sentiment",
            json!(negative),
            negative as f64 / sentiments.len() as f64,
            0.15,
            format!("{negative} of the last {} messages were negative", sentiments.len()),
        )
    };
    let factors = vec![recency, frequency, monetary, complaints, sentiment];
    let score: f64 = factors.iter().filter_map(|f| f["contribution"].as_f64()).sum();
    let level = if score >= 0.6 {
        "high"
    } else if score >= 0.35 {
        "medium"
    } else {
        "low"
    };
    json!({ "customer_id": f.customer.external_id, "score": round3(score), "level": level, "factors": factors })
}

async fn answer(state: &AppState, tenant: &TenantContext, id: &str, kind: Kind) -> Result<Response, ApiError> {
    let (facts, fingerprint) = facts(state, tenant, id).await?;
    let key = (tenant.id, id.to_owned(), kind);
    let ttl = if kind == Kind::Profile { PROFILE_TTL } else { CHURN_TTL };
    if let Some(mut cached) = state.insights().get(&key, &fingerprint, ttl) {
        cached["cached"] = json!(true);
        return Ok(Json(cached).into_response());
    }
    let mut value = match kind {
        Kind::Profile => profile_of(&facts),
        Kind::Churn => churn_of(&facts, Utc::now()),
    };
    value["computed_at"] = json!(Utc::now());
    state.insights().put(key, fingerprint, value.clone());
    value["cached"] = json!(false);
    Ok(Json(value).into_response())
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/profile", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "The tenant's own customer id, e.g. CUST-1001")),
    responses((status = 200, description = "Orders (count, by status), lifetime value in minor units, last order, open tickets, complaints, recent sentiment; `cached` says whether it came from the 1 h cache (recomputed when the customer's orders or tickets change)"),
        (status = 401), (status = 404, description = "No such customer for this tenant")))]
pub(crate) async fn profile(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    answer(&state, &tenant, &id, Kind::Profile).await
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/churn", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "The tenant's own customer id, e.g. CUST-1001")),
    responses((status = 200, description = "`score` 0..1, `level` low|medium|high, and `factors` (recency, frequency, monetary, complaints, sentiment: value, risk, weight, contribution, explanation); cached 30 min, recomputed when the customer's orders or tickets change"),
        (status = 401), (status = 404, description = "No such customer for this tenant")))]
pub(crate) async fn churn(
    State(state): State<AppState>,
    TenantAuth(tenant): TenantAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    answer(&state, &tenant, &id, Kind::Churn).await
}
