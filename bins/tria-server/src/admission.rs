//! What a chat request must pass after its body is read and before the pipeline runs: the
//! per-customer rate (the customer is only known from the body) and the tenant's LLM spend
//! budget. The per-tenant rate is checked earlier, with the key ([`crate::auth::TenantAuth`]).
//! Also names the tenant for the LLM calls the pipeline makes ([`llm_context`]).

use std::time::Duration;

use tria_core::TenantContext;
use tria_llm::CallContext;

use crate::ApiError;
use crate::budget::{BudgetDecision, Window};
use crate::ratelimit::Decision;
use crate::state::AppState;

/// Whole seconds a client should wait: rounded up, so waiting exactly that long finds room.
fn ceil_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A 429 with `Retry-After` and the `RateLimit-*` headers (IETF draft names).
pub(crate) fn rate_limited(message: &str, limit: impl ToString, retry_after: Duration, policy: Option<String>) -> ApiError {
    let seconds = ceil_seconds(retry_after);
    let mut err = ApiError::rate_limited(message, seconds);
    err.headers.push((http::HeaderName::from_static("ratelimit-limit"), limit.to_string()));
    err.headers.push((http::HeaderName::from_static("ratelimit-remaining"), "0".to_owned()));
    err.headers.push((http::HeaderName::from_static("ratelimit-reset"), seconds.to_string()));
    if let Some(policy) = policy {
        err.headers.push((http::HeaderName::from_static("ratelimit-policy"), policy));
    }
    err
}

/// Checks the customer's rate (when the request names a customer) and the tenant's budget.
pub(crate) async fn admit(state: &AppState, tenant: &TenantContext, customer: Option<&str>) -> Result<(), ApiError> {
    if let Some(customer) = customer.map(str::trim).filter(|c| !c.is_empty())
        && let Decision::Limited { limit, retry_after } = state.rate_limiter().check_customer(tenant, customer).await
    {
        return Err(rate_limited("too many requests for this customer; retry after the indicated time", limit, retry_after, None));
    }
    if let BudgetDecision::Exhausted { window, unit, limit, retry_after } = state.budget().check(tenant).await {
        let (per, seconds) = match window {
            Window::Hour => ("hour", 3600),
            Window::Month => ("month", 2_678_400),
        };
        let message = format!("this tenant's LLM budget of {limit} {unit} per {per} is spent; retry after the indicated time");
        // Header values are whole units: tokens as they are, dollars in cents.
        let (quota, quota_unit) = if unit == "usd" { ((limit * 100.0).round() as u64, "usd-cents") } else { (limit as u64, "tokens") };
        let policy = format!("{quota};w={seconds};unit=\"{quota_unit}\"");
        return Err(rate_limited(&message, quota, retry_after, Some(policy)));
    }
    Ok(())
}

/// The tenant the LLM calls made while answering belong to (metrics labels, budget records).
pub(crate) fn llm_context(tenant: &TenantContext) -> CallContext {
    CallContext { tenant_id: Some(tenant.id), tenant_slug: tenant.slug.clone() }
}
