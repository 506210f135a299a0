//! One tenant's figures for the console's charts — messages per day, resolutions, thumbs, cache
//! hits per level, tokens and dollars spent against saved, p95 reply latency, open escalations
//! and the integrations' breakers. Message figures come from the stored messages and LLM tokens
//! and dollars from the cost ledger (both survive restarts and add up across replicas); live
//! cache hit rates from the answer cache's counters (since this process started).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;
use tria_core::{MessageRole, Resolution, TenantId};
use tria_integrations::IntegrationStatus;
use tria_store::repo::{FeedbackCounts, MessageFigures};

use crate::usage::{UsageQuery, UsageRow};
use crate::{Console, ConsoleError};

/// Days shown when the caller names none.
pub const DEFAULT_DAYS: i64 = 14;
/// Days shown at most.
pub const MAX_DAYS: i64 = 90;

/// The dashboard of one tenant over `days` days ending today.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dashboard {
    pub tenant: TenantName,
    pub days: i64,
    pub messages_per_day: Vec<DayCounts>,
    /// Conversations by resolution (`unresolved` for none yet).
    pub resolutions: BTreeMap<&'static str, u64>,
    pub feedback: FeedbackCounts,
    /// Bot replies by the cache level that served them (`none`: answered afresh).
    pub replies_by_cache_level: BTreeMap<String, u64>,
    pub cache: CacheFigures,
    pub tokens: TokenFigures,
    pub latency_ms: LatencyFigures,
    pub escalations_open: u64,
    pub breakers: Vec<IntegrationStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantName {
    pub slug: String,
    pub name: String,
}

/// Messages of one day by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DayCounts {
    pub date: NaiveDate,
    pub user: u64,
    pub assistant: u64,
    pub operator: u64,
}

/// The answer cache's live counters for the tenant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheFigures {
    pub hit_rate: f64,
    pub levels: Vec<CacheLevelFigures>,
    /// `ok`, `degraded` or `down`.
    pub health: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheLevelFigures {
    pub level: String,
    pub enabled: bool,
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: f64,
}

/// LLM tokens and dollars over the dashboard's days, from the cost ledger: every model call at
/// the price in force when it was made, and what cache hits saved (nothing priced here).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenFigures {
    /// Prompt tokens of every model call (wasted ones included).
    #[serde(rename = "in")]
    pub tokens_in: u64,
    #[serde(rename = "out")]
    pub tokens_out: u64,
    /// The part of `in` served from the provider's prompt cache.
    pub cached_in: u64,
    pub calls: u64,
    pub wasted_calls: u64,
    pub cache_hits: u64,
    /// Dollars (for the chart; exact: `ledger.cost_usd`).
    pub spent_usd: f64,
    pub saved_usd: f64,
    /// Tokens the answer cache saved since this process started (its live counter).
    pub saved_tokens: u64,
    /// The ledger's totals as `GET /api/v1/usage` reports them.
    pub ledger: UsageRow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LatencyFigures {
    pub p50: i64,
    pub p95: i64,
    /// Replies the percentiles are taken over.
    pub replies: usize,
}

/// `days` as the caller wrote it (`None`: the default), checked to be 1 to [`MAX_DAYS`].
pub fn dashboard_days(days: Option<&str>) -> Result<i64, ConsoleError> {
    match days {
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| ConsoleError::Invalid(format!("`days` must be 1 to {MAX_DAYS}"))),
        None => Ok(DEFAULT_DAYS),
    }
}

/// The `q`-quantile of `values` (nearest rank), 0 when empty.
fn percentile(values: &mut [i64], q: f64) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Messages per day and role over `days` days ending today, zero-filled.
fn per_day(figures: &[MessageFigures], today: NaiveDate, days: i64) -> Vec<DayCounts> {
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
    counts.into_iter().map(|(date, [user, assistant, operator])| DayCounts { date, user, assistant, operator }).collect()
}

/// Conversations by resolution, every resolution listed (0 when none).
fn resolution_counts(stored: Vec<(Option<String>, u64)>) -> BTreeMap<&'static str, u64> {
    let mut resolutions: BTreeMap<&'static str, u64> = [
        Resolution::ResolvedVerified.as_str(),
        Resolution::ResolvedAssumed.as_str(),
        Resolution::HandedOff.as_str(),
        Resolution::Abandoned.as_str(),
        "unresolved",
    ]
    .into_iter()
    .map(|r| (r, 0))
    .collect();
    for (resolution, n) in stored {
        let key = resolution.as_deref().and_then(Resolution::parse).map_or("unresolved", Resolution::as_str);
        *resolutions.entry(key).or_default() += n;
    }
    resolutions
}

impl Console<'_> {
    /// The dashboard of the caller's tenant `slug` over `days` days ending today (UTC).
    pub async fn dashboard(&self, tenants: &[TenantId], slug: &str, days: i64) -> Result<Dashboard, ConsoleError> {
        let tenant_id = self.scope(tenants, Some(slug)).await?[0];
        let tenant = self.store.tenants().get(tenant_id).await?.ok_or(ConsoleError::NotFound("no such tenant"))?;
        let console = self.store.console();
        let today = Utc::now().date_naive();
        let since = (today - Duration::days(days - 1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let figures = console.message_figures(tenant.id, since).await?;

        let replies: Vec<&MessageFigures> = figures.iter().filter(|f| f.role == MessageRole::Assistant.as_str()).collect();
        let mut latencies: Vec<i64> = replies.iter().map(|f| f.latency_ms).collect();
        let p50 = percentile(&mut latencies, 0.50);
        let p95 = percentile(&mut latencies, 0.95);
        let mut by_level: BTreeMap<String, u64> = ["l1", "l2", "l3", "none"].into_iter().map(|l| (l.to_owned(), 0)).collect();
        for f in &replies {
            *by_level.entry(f.cache_level.clone().unwrap_or_else(|| "none".to_owned())).or_default() += 1;
        }
        let spend = self.usage_totals(tenant.id, &UsageQuery::last_days(days, today)).await?;
        let resolutions = resolution_counts(console.resolutions(tenant.id).await?);

        let cache = self.agent.answer_cache().stats(tenant.id).await;
        Ok(Dashboard {
            tenant: TenantName { slug: tenant.slug.clone(), name: tenant.name.clone() },
            days,
            messages_per_day: per_day(&figures, today, days),
            resolutions,
            feedback: console.feedback_counts(tenant.id).await?,
            replies_by_cache_level: by_level,
            cache: CacheFigures {
                hit_rate: cache.hit_rate,
                levels: cache
                    .levels
                    .iter()
                    .map(|l| CacheLevelFigures {
                        level: l.level.clone(),
                        enabled: l.enabled,
                        hits: l.hits,
                        misses: l.misses,
                        hit_rate: l.hit_rate,
                    })
                    .collect(),
                health: cache.health.clone(),
            },
            tokens: TokenFigures {
                tokens_in: spend.input_tokens,
                tokens_out: spend.output_tokens,
                cached_in: spend.cached_input_tokens,
                calls: spend.calls,
                wasted_calls: spend.wasted_calls,
                cache_hits: spend.cache_hits,
                spent_usd: spend.cost_micro_usd as f64 / 1_000_000.0,
                saved_usd: spend.saved_micro_usd as f64 / 1_000_000.0,
                saved_tokens: cache.tokens_saved,
                ledger: spend,
            },
            latency_ms: LatencyFigures { p50, p95, replies: replies.len() },
            escalations_open: console.open_escalations(tenant.id).await?,
            breakers: self.integrations.iter().map(|p| p.status()).collect(),
        })
    }
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
        assert_eq!((days[0].user, days[2].user, days[2].assistant, days[2].operator), (0, 2, 1, 1));
    }

    #[test]
    fn days_default_to_fourteen_and_stay_within_ninety() {
        assert_eq!(dashboard_days(None).expect("default"), DEFAULT_DAYS);
        assert_eq!(dashboard_days(Some("90")).expect("max"), 90);
        for bad in ["0", "91", "-1", "two"] {
            assert!(matches!(dashboard_days(Some(bad)), Err(ConsoleError::Invalid(m)) if m == "`days` must be 1 to 90"), "{bad}");
        }
    }

    #[test]
    fn every_resolution_is_listed_and_unknown_ones_count_as_unresolved() {
        let counts = resolution_counts(vec![(Some("handed_off".into()), 2), (None, 1), (Some("mystery".into()), 4)]);
        assert_eq!(counts.get("handed_off"), Some(&2));
        assert_eq!(counts.get("unresolved"), Some(&5));
        assert_eq!(counts.get("abandoned"), Some(&0));
        assert_eq!(counts.len(), 5);
    }
}
