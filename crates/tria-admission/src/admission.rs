//! What a chat request must pass after its body is read and before the pipeline runs: the
//! per-customer rate (the customer is only known from the body) and the tenant's LLM spend
//! budget. The per-tenant rate is checked earlier, with the key ([`check_tenant_rate`]).
//! Also names the tenant for the LLM calls the pipeline makes ([`llm_context`]).

use std::time::Duration;

use tria_core::TenantContext;
use tria_llm::CallContext;

use crate::budget::{BudgetDecision, SpendBudget, Window};
use crate::ratelimit::{Decision, RateLimiter};

/// Why a request was refused before any work was done for it. Each is "too many" (HTTP 429):
/// the caller may retry after `retry_after`. The message is the one the caller reads.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("too many requests for this tenant; retry after the indicated time")]
    TenantRate { limit: u32, retry_after: Duration },
    /// Through a publishable widget key: the web chat's own bucket at the tenant's rate.
    #[error("too many requests from this tenant's web chat; retry after the indicated time")]
    WidgetRate { limit: u32, retry_after: Duration },
    #[error("too many requests for this customer; retry after the indicated time")]
    CustomerRate { limit: u32, retry_after: Duration },
    #[error("this tenant's LLM budget of {limit} {unit} per {window} is spent; retry after the indicated time")]
    Budget {
        window: Window,
        /// "tokens" or "usd".
        unit: &'static str,
        limit: f64,
        retry_after: Duration,
    },
}

impl Refusal {
    /// How long the caller should wait.
    pub fn retry_after(&self) -> Duration {
        match self {
            Self::TenantRate { retry_after, .. }
            | Self::WidgetRate { retry_after, .. }
            | Self::CustomerRate { retry_after, .. }
            | Self::Budget { retry_after, .. } => *retry_after,
        }
    }
}

/// Counts one request through a key of `tenant` against the tenant's rate (a widget key's
/// against the web chat's bucket).
pub async fn check_tenant_rate(limiter: &RateLimiter, tenant: &TenantContext, widget: bool) -> Result<(), Refusal> {
    let decision = if widget { limiter.check_widget(tenant).await } else { limiter.check(tenant).await };
    match decision {
        Decision::Allowed { .. } => Ok(()),
        Decision::Limited { limit, retry_after } if widget => Err(Refusal::WidgetRate { limit, retry_after }),
        Decision::Limited { limit, retry_after } => Err(Refusal::TenantRate { limit, retry_after }),
    }
}

/// Checks the customer's rate (when the request names a customer) and the tenant's budget.
pub async fn admit(limiter: &RateLimiter, budget: &SpendBudget, tenant: &TenantContext, customer: Option<&str>) -> Result<(), Refusal> {
    if let Some(customer) = customer.map(str::trim).filter(|c| !c.is_empty())
        && let Decision::Limited { limit, retry_after } = limiter.check_customer(tenant, customer).await
    {
        return Err(Refusal::CustomerRate { limit, retry_after });
    }
    if let BudgetDecision::Exhausted { window, unit, limit, retry_after } = budget.check(tenant).await {
        return Err(Refusal::Budget { window, unit, limit, retry_after });
    }
    Ok(())
}

/// The tenant the LLM calls made while answering belong to (metrics labels, budget records).
pub fn llm_context(tenant: &TenantContext) -> CallContext {
    CallContext { tenant_id: Some(tenant.id), tenant_slug: tenant.slug.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::LimitSettings;

    fn tenant() -> TenantContext {
        TenantContext {
            id: tria_core::TenantId(uuid::Uuid::new_v4()),
            slug: "t".into(),
            name: "T".into(),
            tone: Default::default(),
            settings: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn the_customer_rate_is_checked_first_then_the_budget() {
        let limits = LimitSettings {
            customer_per_second: 0.001,
            customer_burst: 1,
            budget: crate::budget::BudgetLimits { tokens_per_hour: 100, ..Default::default() },
            ..LimitSettings::default()
        };
        let (limiter, budget, tenant) = (RateLimiter::local(&limits), SpendBudget::local(limits.budget), tenant());
        assert_eq!(admit(&limiter, &budget, &tenant, Some("c-1")).await, Ok(()));
        let Err(Refusal::CustomerRate { limit: 1, .. }) = admit(&limiter, &budget, &tenant, Some(" c-1 ")).await else {
            panic!("the same customer, trimmed, is over its rate")
        };
        assert_eq!(admit(&limiter, &budget, &tenant, Some("  ")).await, Ok(()), "a blank customer is no customer");
        budget.record(tenant.id, 100, 0.0).await;
        let Err(Refusal::Budget { window: Window::Hour, unit: "tokens", .. }) = admit(&limiter, &budget, &tenant, None).await else {
            panic!("the hour's tokens are spent")
        };
        assert_eq!(budget.refused_total(), 1);
    }

    #[tokio::test]
    async fn a_widget_key_has_its_own_bucket_at_the_tenants_rate() {
        let limits = LimitSettings { tenant_per_second: 0.001, tenant_burst: 1, ..LimitSettings::default() };
        let (limiter, tenant) = (RateLimiter::local(&limits), tenant());
        assert_eq!(check_tenant_rate(&limiter, &tenant, true).await, Ok(()));
        assert!(matches!(check_tenant_rate(&limiter, &tenant, true).await, Err(Refusal::WidgetRate { limit: 1, .. })));
        assert_eq!(check_tenant_rate(&limiter, &tenant, false).await, Ok(()));
        assert!(matches!(check_tenant_rate(&limiter, &tenant, false).await, Err(Refusal::TenantRate { limit: 1, .. })));
    }

    #[test]
    fn a_spent_budget_names_its_limit_unit_and_window() {
        let refusal = Refusal::Budget { window: Window::Month, unit: "usd", limit: 2.5, retry_after: Duration::from_secs(9) };
        assert_eq!(refusal.to_string(), "this tenant's LLM budget of 2.5 usd per month is spent; retry after the indicated time");
        let tokens = Refusal::Budget { window: Window::Hour, unit: "tokens", limit: 1000.0, retry_after: Duration::from_secs(9) };
        assert_eq!(tokens.to_string(), "this tenant's LLM budget of 1000 tokens per hour is spent; retry after the indicated time");
        assert_eq!(tokens.retry_after(), Duration::from_secs(9));
    }
}
