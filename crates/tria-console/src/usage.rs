//! The LLM cost ledger as a report (`GET /api/v1/usage`, `GET /admin/usage`, the dashboard's
//! spent and saved): tokens and dollars by UTC day, intent or model over a range of days, for
//! one tenant or all, as JSON rows with totals or as CSV. The figures are the ledger's own —
//! each call priced when it was made, each cache hit saving what its answer cost — so nothing
//! here prices tokens.
//!
//! Dollars are decimal strings with six places (`"0.063000"`: exact micro-dollars, no float
//! rounding), next to the same amounts as integers (`cost_micro_usd`), in JSON and CSV alike.

use std::fmt::Write as _;

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use tria_core::{TenantContext, TenantId};
use tria_store::repo::{UsageBucket, UsageGroup};

use crate::{Console, ConsoleError};

/// Days reported when the caller names no `from`: the last 30, today included.
pub const DEFAULT_USAGE_DAYS: i64 = 30;
/// The longest range one request may ask for (a leap year).
pub const MAX_USAGE_DAYS: i64 = 366;

/// What to report: UTC days `from..=to`, grouped by `group`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group: UsageGroup,
}

fn date(name: &str, value: &str) -> Result<NaiveDate, ConsoleError> {
    // `%Y` alone would take `+2026` or five-digit years; the contract is `YYYY-MM-DD`.
    let well_formed =
        value.len() == 10 && value.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    well_formed
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| ConsoleError::Invalid(format!("`{name}` must be a date YYYY-MM-DD")))
}

/// The name of a grouping as the query and the report spell it.
pub fn group_name(group: UsageGroup) -> &'static str {
    match group {
        UsageGroup::Day => "day",
        UsageGroup::Intent => "intent",
        UsageGroup::Model => "model",
    }
}

impl UsageQuery {
    /// The query as the caller wrote it (`None`: not given). `to` defaults to `today`, `from`
    /// to 30 days ending at `to`, `group_by` to `day`; both dates are inclusive UTC days, at
    /// most [`MAX_USAGE_DAYS`] apart, `from` not after `to`.
    pub fn parse(from: Option<&str>, to: Option<&str>, group_by: Option<&str>, today: NaiveDate) -> Result<Self, ConsoleError> {
        let group = match group_by {
            None => UsageGroup::Day,
            Some(g) => UsageGroup::parse(g).ok_or_else(|| ConsoleError::Invalid("`group_by` must be day, intent or model".to_owned()))?,
        };
        let to = to.map(|t| date("to", t)).transpose()?.unwrap_or(today);
        let from = match from {
            Some(f) => date("from", f)?,
            None => to - Duration::days(DEFAULT_USAGE_DAYS - 1),
        };
        if from > to {
            return Err(ConsoleError::Invalid("`from` must not be after `to`".to_owned()));
        }
        if (to - from).num_days() + 1 > MAX_USAGE_DAYS {
            return Err(ConsoleError::Invalid(format!("the range from `from` to `to` must be at most {MAX_USAGE_DAYS} days")));
        }
        Ok(Self { from, to, group })
    }

    /// The `days` UTC days ending today (the dashboard's range), by day.
    pub fn last_days(days: i64, today: NaiveDate) -> Self {
        Self { from: today - Duration::days(days.max(1) - 1), to: today, group: UsageGroup::Day }
    }
}

/// Whole micro-dollars as dollars with six decimals.
pub fn dollars(micro: u64) -> String {
    format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000)
}

/// One group's totals (or the report's, keyed `total`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// The day (`YYYY-MM-DD`), intent label (`none`: unclassified) or model.
    pub key: String,
    /// Model calls of every outcome.
    pub calls: u64,
    /// Calls whose reply was not used (refused and regenerated, timed out, cancelled, failed).
    pub wasted_calls: u64,
    /// Calls whose tokens were counted locally because the provider did not report them.
    pub estimated_calls: u64,
    /// Answers served from the cache (no model call).
    pub cache_hits: u64,
    /// Prompt tokens, those served from the provider's prompt cache included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The part of `input_tokens` the provider served from its prompt cache.
    pub cached_input_tokens: u64,
    /// Dollars spent on model calls, six decimals.
    pub cost_usd: String,
    /// Dollars the cache hits saved (what their answers cost), six decimals.
    pub saved_usd: String,
    pub cost_micro_usd: u64,
    pub saved_micro_usd: u64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl UsageRow {
    fn of(bucket: &UsageBucket) -> Self {
        let (cost, saved) = (count(bucket.cost_micro_usd), count(bucket.saved_micro_usd));
        Self {
            key: bucket.key.clone(),
            calls: count(bucket.calls),
            wasted_calls: count(bucket.wasted_calls),
            estimated_calls: count(bucket.estimated_calls),
            cache_hits: count(bucket.cache_hits),
            input_tokens: count(bucket.input_tokens),
            output_tokens: count(bucket.output_tokens),
            cached_input_tokens: count(bucket.cached_input_tokens),
            cost_usd: dollars(cost),
            saved_usd: dollars(saved),
            cost_micro_usd: cost,
            saved_micro_usd: saved,
        }
    }

    /// The sum of `rows`, keyed `total`.
    fn total(rows: &[UsageRow]) -> Self {
        let mut t = UsageRow { key: "total".to_owned(), ..UsageRow::default() };
        for r in rows {
            t.calls += r.calls;
            t.wasted_calls += r.wasted_calls;
            t.estimated_calls += r.estimated_calls;
            t.cache_hits += r.cache_hits;
            t.input_tokens += r.input_tokens;
            t.output_tokens += r.output_tokens;
            t.cached_input_tokens += r.cached_input_tokens;
            t.cost_micro_usd += r.cost_micro_usd;
            t.saved_micro_usd += r.saved_micro_usd;
        }
        t.cost_usd = dollars(t.cost_micro_usd);
        t.saved_usd = dollars(t.saved_micro_usd);
        t
    }
}

/// The report: its range, grouping and scope, one row per group key (ordered by key) and the
/// totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// The tenant's slug; `None` across every tenant (calls made for no tenant included).
    pub tenant: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: &'static str,
    pub currency: &'static str,
    pub rows: Vec<UsageRow>,
    pub totals: UsageRow,
}

/// The CSV columns after the group key, in order.
const CSV_COLUMNS: &[&str] = &[
    "calls",
    "wasted_calls",
    "estimated_calls",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "saved_usd",
    "cost_micro_usd",
    "saved_micro_usd",
];

/// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled.
/// A text that a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab, CR) is
/// prefixed with `'` first: model names can come from tenants' own settings.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

impl UsageReport {
    fn new(tenant: Option<String>, query: &UsageQuery, buckets: &[UsageBucket]) -> Self {
        let rows: Vec<UsageRow> = buckets.iter().map(UsageRow::of).collect();
        let totals = UsageRow::total(&rows);
        Self { tenant, from: query.from, to: query.to, group_by: group_name(query.group), currency: "USD", rows, totals }
    }

    /// `text/csv`: a header row (the group's name — `day`, `intent` or `model` — then
    /// [`CSV_COLUMNS`]), one line per row, and a last line keyed `total`; CRLF line ends.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(64 * (self.rows.len() + 2));
        out.push_str(self.group_by);
        for column in CSV_COLUMNS {
            out.push(',');
            out.push_str(column);
        }
        out.push_str("\r\n");
        for row in self.rows.iter().chain(std::iter::once(&self.totals)) {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
                csv_field(&row.key),
                row.calls,
                row.wasted_calls,
                row.estimated_calls,
                row.cache_hits,
                row.input_tokens,
                row.output_tokens,
                row.cached_input_tokens,
                row.cost_usd,
                row.saved_usd,
                row.cost_micro_usd,
                row.saved_micro_usd
            );
        }
        out
    }
}

impl Console<'_> {
    async fn usage(&self, tenant: Option<(TenantId, String)>, query: &UsageQuery) -> Result<UsageReport, ConsoleError> {
        let buckets = self.store.ledger().usage(tenant.as_ref().map(|t| t.0), query.from, query.to, query.group).await?;
        Ok(UsageReport::new(tenant.map(|t| t.1), query, &buckets))
    }

    /// `tenant`'s own usage (a tenant key's report).
    pub async fn tenant_usage(&self, tenant: &TenantContext, query: &UsageQuery) -> Result<UsageReport, ConsoleError> {
        self.usage(Some((tenant.id, tenant.slug.clone())), query).await
    }

    /// Usage across every tenant, or only the tenant `slug` names (an admin's report).
    pub async fn usage_across(&self, slug: Option<&str>, query: &UsageQuery) -> Result<UsageReport, ConsoleError> {
        let tenant = match slug {
            Some(slug) => {
                let found = self.store.tenants().find_by_slug(slug).await?.ok_or(ConsoleError::NotFound("no such tenant"))?;
                Some((found.id, found.slug))
            }
            None => None,
        };
        self.usage(tenant, query).await
    }

    /// One tenant's totals over `query` (the dashboard's spent and saved).
    pub(crate) async fn usage_totals(&self, tenant: TenantId, query: &UsageQuery) -> Result<UsageRow, ConsoleError> {
        let buckets = self.store.ledger().usage(Some(tenant), query.from, query.to, query.group).await?;
        Ok(UsageRow::total(&buckets.iter().map(UsageRow::of).collect::<Vec<_>>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn invalid(result: Result<UsageQuery, ConsoleError>) -> String {
        match result {
            Err(ConsoleError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn the_range_defaults_to_the_last_thirty_days_by_day() {
        let today = day("2026-12-07");
        let q = UsageQuery::parse(None, None, None, today).expect("defaults");
        assert_eq!((q.from, q.to, q.group), (day("2026-11-08"), today, UsageGroup::Day));
        let q = UsageQuery::parse(None, Some("2026-03-01"), Some("model"), today).expect("to only");
        assert_eq!((q.from, q.to, q.group), (day("2026-01-31"), day("2026-03-01"), UsageGroup::Model));
        let q = UsageQuery::parse(Some("2024-01-01"), Some("2024-12-31"), Some("intent"), today).expect("a leap year is 366 days");
        assert_eq!(q.group, UsageGroup::Intent);
        let q = UsageQuery::parse(Some("2026-12-07"), Some("2026-12-07"), None, today).expect("one day");
        assert_eq!(q.from, q.to);
    }

    #[test]
    fn bad_dates_ranges_and_groupings_are_refused_with_the_reason() {
        let today = day("2026-12-07");
        for bad in ["2026-13-01", "2026-02-30", "07-12-2026", "2026-1-1", "+2026-01-01", "2026-01-01T00:00", "", "yesterday"] {
            let message = invalid(UsageQuery::parse(Some(bad), None, None, today));
            assert_eq!(message, "`from` must be a date YYYY-MM-DD", "{bad}");
        }
        assert_eq!(invalid(UsageQuery::parse(None, Some("2026-12-32"), None, today)), "`to` must be a date YYYY-MM-DD");
        assert_eq!(invalid(UsageQuery::parse(Some("2026-12-08"), Some("2026-12-07"), None, today)), "`from` must not be after `to`");
        assert!(invalid(UsageQuery::parse(Some("2025-01-01"), Some("2026-01-02"), None, today)).contains("at most 366 days"));
        assert!(invalid(UsageQuery::parse(Some("2025-12-01"), None, Some("week"), today)).contains("`group_by`"));
        assert!(invalid(UsageQuery::parse(None, None, Some("Day"), today)).contains("`group_by`"));
    }

    fn bucket(key: &str, calls: i64, cost: i64, saved: i64) -> UsageBucket {
        UsageBucket {
            key: key.to_owned(),
            calls,
            wasted_calls: 1,
            estimated_calls: 0,
            input_tokens: 1000,
            output_tokens: 200,
            cached_input_tokens: 800,
            cost_micro_usd: cost,
            cache_hits: 2,
            saved_micro_usd: saved,
        }
    }

    #[test]
    fn rows_carry_exact_dollars_and_the_totals_add_them_up() {
        let query = UsageQuery::parse(Some("2026-12-01"), Some("2026-12-07"), Some("model"), day("2026-12-07")).expect("query");
        let report = UsageReport::new(
            Some("northwind".into()),
            &query,
            &[bucket("gpt-4o-mini", 3, 63_000, 27_000), bucket("llama3", 1, 1_234_567_891, 0)],
        );
        assert_eq!(report.rows[0].cost_usd, "0.063000");
        assert_eq!(report.rows[1].cost_usd, "1234.567891");
        assert_eq!((report.totals.key.as_str(), report.totals.calls, report.totals.cache_hits), ("total", 4, 4));
        assert_eq!((report.totals.cost_micro_usd, report.totals.cost_usd.as_str()), (1_234_630_891, "1234.630891"));
        assert_eq!(report.totals.saved_usd, "0.027000");
        assert_eq!(report.totals.cached_input_tokens, 1600);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(
            (json["group_by"].as_str(), json["from"].as_str(), json["currency"].as_str()),
            (Some("model"), Some("2026-12-01"), Some("USD"))
        );
    }

    #[test]
    fn csv_has_a_header_quotes_what_needs_it_and_ends_with_the_totals() {
        let query = UsageQuery::parse(None, None, Some("model"), day("2026-12-07")).expect("query");
        let report = UsageReport::new(
            None,
            &query,
            &[bucket("acme,\"large\"", 1, 10, 0), bucket("=HYPERLINK(\"x\")", 1, 5, 0), bucket("gpt\nx", 1, 1, 0)],
        );
        let csv = report.to_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "model,calls,wasted_calls,estimated_calls,cache_hits,input_tokens,output_tokens,cached_input_tokens,cost_usd,saved_usd,cost_micro_usd,saved_micro_usd"
        );
        assert_eq!(lines[1], "\"acme,\"\"large\"\"\",1,1,0,2,1000,200,800,0.000010,0.000000,10,0");
        assert!(lines[2].starts_with("\"'=HYPERLINK(\"\"x\"\")\",1,"), "a formula is neutralised: {}", lines[2]);
        assert!(lines[3].starts_with("\"gpt\nx\",1,"), "{}", lines[3]);
        assert_eq!(lines[4], "total,3,3,0,6,3000,600,2400,0.000016,0.000000,16,0");
        assert_eq!(lines[5], "", "CRLF after the last line");
    }

    #[test]
    fn dollars_have_six_decimals() {
        assert_eq!(dollars(0), "0.000000");
        assert_eq!(dollars(1), "0.000001");
        assert_eq!(dollars(63_000), "0.063000");
        assert_eq!(dollars(12_000_000), "12.000000");
    }
}
