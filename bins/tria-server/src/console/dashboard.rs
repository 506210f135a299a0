//! `GET /api/v1/console/dashboard?tenant=SLUG&days=N`: one tenant's figures for the console's
//! charts — messages per day, resolutions, thumbs, cache hits per level, tokens and dollars
//! spent against saved, p95 reply latency, open escalations and the integrations' breakers.
//! Message figures come from the stored messages (they survive restarts); live cache hit
//! rates and savings from the answer cache's counters (since this process started).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use tria_core::{ErrorCode, MessageRole, Resolution};
use tria_store::repo::MessageFigures;

use super::{query_param, scope};
use crate::ApiError;
use crate::auth::ConsoleAuth;
use crate::state::AppState;

const DEFAULT_DAYS: i64 = 14;
const MAX_DAYS: i64 = 90;

/// The `q`-quantile of `values` (nearest rank), 0 when empty.
pub(crate) fn percentile(values: &mut [i64], q: f64) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Messages per day and role over `days` days ending today, zero-filled.
fn per_day(figures: &[MessageFigures], today: NaiveDate, days: i64) -> Vec<Value> {
    let mut counts: BTreeMap<NaiveDate, [u64; 3]> = (0..days).map(|i| (today - Duration::days(days - 1 - i), [0; 3])).collect();
    for f in figures {
        let slot = match MessageRole::parse(&f.role) {
            Some(MessageRole::User) => 0,
            Some(MessageRole::Assistant) => 1,
            Some(MessageRole::Operator) => 2,
            _ => continue,
        };
        if let Some(day) = counts.get_mut(&f.created_at.date_naive()) {
            day[slot] += 1;
        }
    }
    counts
        .into_iter()
        .map(|(date, [user, assistant, operator])| json!({ "date": date, "user": user, "assistant": assistant, "operator": operator }))
        .collect()
}

pub(crate) async fn dashboard(State(state): State<AppState>, caller: ConsoleAuth, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let slug = query_param(query.as_deref(), "tenant").ok_or_else(|| ApiError::bad_request("`tenant` (a slug) is required"))?;
    let days = match query_param(query.as_deref(), "days") {
        Some(d) => d.parse::<i64>().ok().filter(|d| (1..=MAX_DAYS).contains(d)).ok_or_else(|| {
            ApiError::new(http::StatusCode::BAD_REQUEST, ErrorCode::InvalidField, format!("`days` must be 1 to {MAX_DAYS}"))
        })?,
        None => DEFAULT_DAYS,
    };
    let tenant_id = scope(&state, &caller, Some(slug)).await?[0];
    let tenant = state.store().tenants().get(tenant_id).await?.ok_or_else(|| ApiError::not_found("no such tenant"))?;
    let console = state.store().console();
    let today = Utc::now().date_naive();
    let since = (today - Duration::days(days - 1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let figures = console.message_figures(tenant.id, since).await?;

    let replies: Vec<&MessageFigures> = figures.iter().filter(|f| f.role == MessageRole::Assistant.as_str()).collect();
    let mut latencies: Vec<i64> = replies.iter().map(|f| f.latency_ms).collect();
    let p50 = percentile(&mut latencies, 0.50);
    let p95 = percentile(&mut latencies, 0.95);
    let mut by_level: BTreeMap<&str, u64> = ["l1", "l2", "l3", "none"].into_iter().map(|l| (l, 0)).collect();
    for f in &replies {
        *by_level.entry(f.cache_level.as_deref().unwrap_or("none")).or_default() += 1;
    }
    let (tokens_in, tokens_out) = figures.iter().fold((0i64, 0i64), |(i, o), f| (i + f.tokens_in, o + f.tokens_out));

    let mut resolutions: BTreeMap<&str, u64> = [
        Resolution::ResolvedVerified.as_str(),
        Resolution::ResolvedAssumed.as_str(),
        Resolution::HandedOff.as_str(),
        Resolution::Abandoned.as_str(),
        "unresolved",
    ]
    .into_iter()
    .map(|r| (r, 0))
    .collect();
    for (resolution, n) in console.resolutions(tenant.id).await? {
        let key = resolution.as_deref().and_then(Resolution::parse).map_or("unresolved", Resolution::as_str);
        *resolutions.entry(key).or_default() += n;
    }

    let cache = state.agent().answer_cache().stats(tenant.id).await;
    let price = cache.price_per_1k_tokens;
    let spent_usd = (tokens_in + tokens_out) as f64 / 1000.0 * price;
    let breakers: Vec<Value> = state.integrations().iter().map(|p| json!(p.status())).collect();

    Ok(Json(json!({
        "tenant": { "slug": tenant.slug, "name": tenant.name },
        "days": days,
        "messages_per_day": per_day(&figures, today, days),
        "resolutions": resolutions,
        "feedback": console.feedback_counts(tenant.id).await?,
        "replies_by_cache_level": by_level,
        "cache": {
            "hit_rate": cache.hit_rate,
            "levels": cache.levels.iter().map(|l| json!({ "level": l.level, "enabled": l.enabled, "hits": l.hits, "misses": l.misses, "hit_rate": l.hit_rate })).collect::<Vec<_>>(),
            "health": cache.health,
        },
        "tokens": { "in": tokens_in, "out": tokens_out, "spent_usd": spent_usd, "saved_tokens": cache.tokens_saved, "saved_usd": cache.money_saved, "price_per_1k_tokens": price },
        "latency_ms": { "p50": p50, "p95": p95, "replies": replies.len() },
        "escalations_open": console.open_escalations(tenant.id).await?,
        "breakers": breakers,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        let mut v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&mut v, 0.95), 95);
        assert_eq!(percentile(&mut [7], 0.95), 7);
        assert_eq!(percentile(&mut [], 0.95), 0);
        let mut w = vec![30, 10, 20];
        assert_eq!(percentile(&mut w, 0.5), 20);
    }

    #[test]
    fn days_are_zero_filled_and_counted_by_role() {
        let today = Utc::now().date_naive();
        let f = |role: &str| MessageFigures {
            role: role.into(),
            created_at: Utc::now(),
            latency_ms: 0,
            tokens_in: 0,
            tokens_out: 0,
            cache_level: None,
        };
        let days = per_day(&[f("user"), f("assistant"), f("operator"), f("user")], today, 3);
        assert_eq!(days.len(), 3);
        assert_eq!(days[0]["user"], 0);
        assert_eq!(days[2]["user"], 2);
        assert_eq!(days[2]["assistant"], 1);
        assert_eq!(days[2]["operator"], 1);
    }
}
