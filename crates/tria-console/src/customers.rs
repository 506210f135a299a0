//! What a tenant knows about one of its customers (by the tenant's own customer id): a profile,
//! and an explainable churn-risk score. Both are tenant-scoped (another tenant's customer is
//! "not found"), cached per instance (profile 1 h, churn 30 min) and recomputed as soon as the
//! customer's orders or tickets change (an entry carries a fingerprint of them, checked on
//! every read).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tria_core::{CustomerId, OrderStatus, TenantContext, TenantId};
use tria_store::Store;
use tria_store::repo::CustomerSignals;

use crate::ConsoleError;
use crate::rows::{Customer, Order};

pub const PROFILE_TTL: Duration = Duration::from_secs(3600);
pub const CHURN_TTL: Duration = Duration::from_secs(1800);

/// A computed profile or score, when it was computed and whether it came from the cache.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Insight<T> {
    #[serde(flatten)]
    pub value: T,
    pub computed_at: DateTime<Utc>,
    pub cached: bool,
}

/// What the tenant knows about the customer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerProfile {
    /// The tenant's own id for the customer.
    pub customer_id: String,
    pub name: String,
    pub company: String,
    pub email: String,
    pub orders: OrderCounts,
    /// Confirmed and invoiced orders only.
    pub lifetime_value_minor: i64,
    pub currency: Option<String>,
    pub last_order: Option<LastOrder>,
    pub open_tickets: u64,
    pub complaints: u64,
    pub recent_sentiment: SentimentSummary,
    pub last_contact: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderCounts {
    pub count: usize,
    pub by_status: HashMap<String, usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LastOrder {
    pub order_number: String,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// The customer's recent messages by sentiment, and the overall mood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentimentSummary {
    pub messages: usize,
    pub negative: usize,
    pub neutral: usize,
    pub positive: usize,
    /// `negative`, `neutral`, `positive` or `unknown` (no messages).
    pub overall: &'static str,
}

/// Churn risk, 0..1, with the factors that make it up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChurnRisk {
    pub customer_id: String,
    pub score: f64,
    /// `low`, `medium` or `high`.
    pub level: &'static str,
    pub factors: Vec<ChurnFactor>,
}

/// One factor of the churn score: its raw value, its risk (0 = none, 1 = highest), its
/// weight, its share of the score, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChurnFactor {
    pub name: &'static str,
    pub value: Option<i64>,
    pub risk: f64,
    pub weight: f64,
    pub contribution: f64,
    pub explanation: String,
}

struct Entry<T> {
    at: Instant,
    fingerprint: String,
    insight: Insight<T>,
}

/// Computed insights of one kind, keyed by tenant and customer.
struct InsightCache<T> {
    ttl: Duration,
    entries: Mutex<HashMap<(TenantId, String), Entry<T>>>,
}

impl<T: Clone> InsightCache<T> {
    fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &(TenantId, String), fingerprint: &str) -> Option<Insight<T>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        (entry.at.elapsed() < self.ttl && entry.fingerprint == fingerprint).then(|| entry.insight.clone())
    }

    fn put(&self, key: (TenantId, String), fingerprint: String, insight: Insight<T>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key, Entry { at: Instant::now(), fingerprint, insight });
        }
    }

    fn forget(&self, key: &(TenantId, String)) -> bool {
        self.entries.lock().is_ok_and(|mut entries| entries.remove(key).is_some())
    }

    /// The cached insight while the customer's facts are unchanged, else `compute`d afresh.
    fn answer(&self, tenant: TenantId, id: &str, fingerprint: String, compute: impl FnOnce() -> T) -> Insight<T> {
        let key = (tenant, id.to_owned());
        if let Some(cached) = self.get(&key, &fingerprint) {
            return Insight { cached: true, ..cached };
        }
        let insight = Insight { value: compute(), computed_at: Utc::now(), cached: false };
        self.put(key, fingerprint, insight.clone());
        insight
    }
}

/// Customer profiles and churn scores, with their per-instance cache.
pub struct CustomerInsights {
    profiles: InsightCache<CustomerProfile>,
    churn: InsightCache<ChurnRisk>,
}

impl Default for CustomerInsights {
    fn default() -> Self {
        Self { profiles: InsightCache::new(PROFILE_TTL), churn: InsightCache::new(CHURN_TTL) }
    }
}

impl std::fmt::Debug for CustomerInsights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerInsights").finish_non_exhaustive()
    }
}

impl CustomerInsights {
    /// The profile of the tenant's customer `external_id`, or "customer not found".
    pub async fn profile(
        &self,
        store: &Store,
        tenant: &TenantContext,
        external_id: &str,
    ) -> Result<Insight<CustomerProfile>, ConsoleError> {
        let (facts, fingerprint) = facts(store, tenant, external_id).await?;
        Ok(self.profiles.answer(tenant.id, external_id, fingerprint, || profile_of(&facts)))
    }

    /// The churn risk of the tenant's customer `external_id`, or "customer not found".
    pub async fn churn(&self, store: &Store, tenant: &TenantContext, external_id: &str) -> Result<Insight<ChurnRisk>, ConsoleError> {
        let (facts, fingerprint) = facts(store, tenant, external_id).await?;
        Ok(self.churn.answer(tenant.id, external_id, fingerprint, || churn_of(&facts, Utc::now())))
    }
}

impl CustomerInsights {
    /// Drops this instance's cached profile and churn score of the tenant's customer
    /// `external_id` (an erased customer's name and email must not stay in memory); whether
    /// there were any. Other replicas' entries are unreachable (the customer is not found any
    /// more, which is checked before the cache) and age out within [`PROFILE_TTL`].
    pub fn forget(&self, tenant: TenantId, external_id: &str) -> bool {
        let key = (tenant, external_id.to_owned());
        let profile = self.profiles.forget(&key);
        let churn = self.churn.forget(&key);
        profile || churn
    }
}

/// The facts both insights are computed from.
struct Facts {
    customer: Customer,
    orders: Vec<Order>,
    open_tickets: u64,
    signals: CustomerSignals,
}

/// The customer's facts and their fingerprint (taken first: facts read after it can only be
/// newer, so a cached entry is never fresher than its fingerprint says).
async fn facts(store: &Store, tenant: &TenantContext, external_id: &str) -> Result<(Facts, String), ConsoleError> {
    let customer =
        store.customers().find_by_external_id(tenant.id, external_id).await?.ok_or(ConsoleError::NotFound("customer not found"))?;
    let id = CustomerId(customer.id);
    let fingerprint = store.insights().fingerprint(tenant.id, id).await?;
    let orders = store.orders().list_for_customer(tenant.id, id).await?;
    let open_tickets = store.ticket_links().open_for_customer(tenant.id, id).await?;
    let signals = store.insights().customer_signals(tenant.id, id).await?;
    Ok((Facts { customer, orders, open_tickets, signals }, fingerprint))
}

/// Orders that count towards what the customer is worth (not cancelled, failed or unapproved).
fn counts(order: &Order) -> bool {
    matches!(OrderStatus::parse(&order.status), Some(OrderStatus::Confirmed | OrderStatus::Invoiced))
}

fn sentiment_summary(sentiments: &[String]) -> SentimentSummary {
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
    SentimentSummary { messages: sentiments.len(), negative, neutral, positive, overall }
}

fn profile_of(f: &Facts) -> CustomerProfile {
    let mut by_status: HashMap<String, usize> = HashMap::new();
    for o in &f.orders {
        *by_status.entry(o.status.clone()).or_default() += 1;
    }
    CustomerProfile {
        customer_id: f.customer.external_id.clone(),
        name: f.customer.name.clone(),
        company: f.customer.company.clone(),
        email: f.customer.email.clone(),
        orders: OrderCounts { count: f.orders.len(), by_status },
        lifetime_value_minor: f.orders.iter().filter(|o| counts(o)).map(|o| o.total_minor).sum(),
        currency: f.orders.first().map(|o| o.currency.clone()),
        last_order: f.orders.first().map(|o| LastOrder {
            order_number: o.number.clone(),
            status: o.status.clone(),
            total_minor: o.total_minor,
            currency: o.currency.clone(),
            created_at: o.created_at,
        }),
        open_tickets: f.open_tickets,
        complaints: f.signals.complaints,
        recent_sentiment: sentiment_summary(&f.signals.recent_sentiments),
        last_contact: f.signals.last_contact,
    }
}

fn factor(name: &'static str, value: Option<i64>, risk: f64, weight: f64, why: String) -> ChurnFactor {
    let risk = risk.clamp(0.0, 1.0);
    ChurnFactor { name, value, risk: round3(risk), weight, contribution: round3(risk * weight), explanation: why }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A count as a factor's value (counts here are far below `i64::MAX`).
fn count_value(n: impl TryInto<i64>) -> Option<i64> {
    Some(n.try_into().unwrap_or(i64::MAX))
}

/// Churn risk from recency, frequency, monetary value, complaints and sentiment. Weights sum to
/// 1; each factor's contribution is listed so the score explains itself.
#[allow(clippy::cast_precision_loss)]
fn churn_of(f: &Facts, now: DateTime<Utc>) -> ChurnRisk {
    let counted: Vec<&Order> = f.orders.iter().filter(|o| counts(o)).collect();
    let last = counted.iter().map(|o| o.created_at).max();
    let recency = match last.map(|t| (now - t).num_days().max(0)) {
        Some(d) => {
            factor("recency", Some(d), d as f64 / 180.0, 0.35, format!("{d} days since the last order (180+ days is the highest risk)"))
        }
        None => factor("recency", None, 1.0, 0.35, "no orders yet".into()),
    };
    let year_ago = now - chrono::Duration::days(365);
    let recent_orders = counted.iter().filter(|o| o.created_at >= year_ago).count();
    let frequency = factor(
        "frequency",
        count_value(recent_orders),
        1.0 - recent_orders as f64 / 6.0,
        0.2,
        format!("{recent_orders} orders in the last 12 months (6 or more is no risk)"),
    );
    let lifetime: i64 = counted.iter().map(|o| o.total_minor).sum();
    let monetary = factor(
        "monetary",
        Some(lifetime),
        1.0 - lifetime as f64 / 500_000.0,
        0.15,
        format!("lifetime value {lifetime} in minor units (5,000.00 or more is no risk)"),
    );
    let complaints = factor(
        "complaints",
        count_value(f.signals.complaints),
        f.signals.complaints as f64 / 3.0,
        0.15,
        format!("{} complaints in chat (3 or more is the highest risk)", f.signals.complaints),
    );
    let sentiments = &f.signals.recent_sentiments;
    let negative = sentiments.iter().filter(|s| s.as_str() == "negative").count();
    let sentiment = if sentiments.is_empty() {
        factor("sentiment", None, 0.0, 0.15, "no recent messages".into())
    } else {
        factor(
            "sentiment",
            count_value(negative),
            negative as f64 / sentiments.len() as f64,
            0.15,
            format!("{negative} of the last {} messages were negative", sentiments.len()),
        )
    };
    let factors = vec![recency, frequency, monetary, complaints, sentiment];
    let score: f64 = factors.iter().map(|f| f.contribution).sum();
    let level = if score >= 0.6 {
        "high"
    } else if score >= 0.35 {
        "medium"
    } else {
        "low"
    };
    ChurnRisk { customer_id: f.customer.external_id.clone(), score: round3(score), level, factors }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn order(status: &str, total_minor: i64, days_ago: i64, now: DateTime<Utc>) -> Order {
        Order {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            customer_id: Uuid::nil(),
            number: "ORD-1".into(),
            status: status.into(),
            subtotal_minor: total_minor,
            total_minor,
            currency: "AUD".into(),
            idempotency_key: Uuid::new_v4().to_string(),
            invoice_id: None,
            invoice_number: None,
            failure_reason: None,
            created_at: now - chrono::Duration::days(days_ago),
            updated_at: now,
        }
    }

    fn facts(orders: Vec<Order>, complaints: u64, sentiments: &[&str]) -> Facts {
        Facts {
            customer: Customer {
                id: Uuid::nil(),
                tenant_id: Uuid::nil(),
                external_id: "CUST-1".into(),
                name: "Ada".into(),
                email: "ada@example.com".into(),
                company: "Ada Ltd".into(),
                created_at: Utc::now(),
            },
            orders,
            open_tickets: 0,
            signals: CustomerSignals {
                complaints,
                recent_sentiments: sentiments.iter().map(|s| (*s).to_owned()).collect(),
                last_contact: None,
            },
        }
    }

    #[test]
    fn a_customer_without_orders_is_at_high_risk_for_lack_of_them() {
        let churn = churn_of(&facts(Vec::new(), 0, &[]), Utc::now());
        // recency 0.35 + frequency 0.2 + monetary 0.15.
        assert_eq!((churn.score, churn.level), (0.7, "high"));
        assert_eq!(churn.factors[0].value, None);
        assert_eq!(churn.factors[4].explanation, "no recent messages");
    }

    #[test]
    fn a_recent_regular_valuable_customer_is_low_risk_and_cancelled_orders_do_not_count() {
        let now = Utc::now();
        let mut orders: Vec<Order> = (0..6).map(|i| order("invoiced", 100_000, 10 + i * 30, now)).collect();
        orders.push(order("cancelled", 9_000_000, 1, now));
        let f = facts(orders, 0, &["positive", "neutral"]);
        let churn = churn_of(&f, now);
        assert_eq!(churn.level, "low");
        assert_eq!(churn.factors[0].value, Some(10));
        assert_eq!(churn.factors[2].value, Some(600_000));
        let profile = profile_of(&f);
        assert_eq!(profile.lifetime_value_minor, 600_000);
        assert_eq!(profile.orders.count, 7);
        assert_eq!(profile.recent_sentiment.overall, "positive");
    }

    #[test]
    fn mostly_negative_messages_make_a_negative_mood() {
        assert_eq!(sentiment_summary(&["negative".into(), "negative".into(), "positive".into()]).overall, "negative");
        assert_eq!(sentiment_summary(&[]).overall, "unknown");
        assert_eq!(sentiment_summary(&["neutral".into()]).overall, "neutral");
    }
}
