//! Latency histograms and the per-scenario collector every request's outcome goes into.
//!
//! Latencies are recorded in microseconds in HDR histograms (3 significant digits, up to one
//! hour), so percentiles stay exact to 0.1 % however many requests a run makes.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Longest latency a histogram holds; longer ones are clamped to it (no run waits that long).
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("1..=MAX_MICROS with 3 significant digits is a valid histogram"))
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS).clamp(1, MAX_MICROS);
        self.0.saturating_record(micros);
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `quantile` (0..=1) in milliseconds; 0 when empty.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        if self.0.is_empty() { 0.0 } else { micros_to_ms(self.0.value_at_quantile(quantile)) }
    }

    pub fn summary(&self) -> LatencySummary {
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.0.len(),
            avg: round3(self.0.mean() / 1000.0),
            min: micros_to_ms(self.0.min()),
            p50: self.quantile_ms(0.50),
            p90: self.quantile_ms(0.90),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            max: micros_to_ms(self.0.max()),
        }
    }
}

fn micros_to_ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub avg: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Which cache level answered a chat request (the response's `cache` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CacheLevel {
    L1,
    L2,
    L3,
    None,
}

impl CacheLevel {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "l1" => Some(Self::L1),
            "l2" => Some(Self::L2),
            "l3" => Some(Self::L3),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx with a well-formed answer.
    Ok { status: u16, cache: Option<CacheLevel> },
    /// Any other HTTP status.
    Status(u16),
    /// No answer within the per-request timeout.
    Timeout,
    /// The connection could not be made or broke.
    Connect,
    /// A 2xx whose body was not a valid answer (bad JSON, SSE `error` event, stream cut short).
    BadBody(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }

    /// The error kind as counted in the report, `None` for a success.
    pub fn error_kind(&self) -> Option<String> {
        match self {
            Outcome::Ok { .. } => None,
            Outcome::Status(code) => Some(format!("http_{code}")),
            Outcome::Timeout => Some("timeout".to_owned()),
            Outcome::Connect => Some("connect".to_owned()),
            Outcome::BadBody(kind) => Some(kind.clone()),
        }
    }

    /// The status code for the status breakdown (`timeout`/`connect` when there was none).
    pub fn status_key(&self) -> String {
        match self {
            Outcome::Ok { status, .. } => status.to_string(),
            Outcome::Status(code) => code.to_string(),
            Outcome::Timeout => "timeout".to_owned(),
            Outcome::Connect => "connect".to_owned(),
            Outcome::BadBody(_) => "bad_body".to_owned(),
        }
    }
}

/// Streaming timings of one SSE answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamTiming {
    /// From the (intended) send to the first `token` event.
    pub ttft: Duration,
    pub tokens: u32,
    /// From the first token to the `done` event.
    pub generation: Duration,
}

impl StreamTiming {
    /// Tokens per second after the first token; `None` with fewer than two tokens.
    pub fn tokens_per_sec(&self) -> Option<f64> {
        let secs = self.generation.as_secs_f64();
        (self.tokens >= 2 && secs > 0.0).then(|| f64::from(self.tokens - 1) / secs)
    }
}

/// One finished request, as the runner reports it.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Seconds since the scenario started, at completion.
    pub at: Duration,
    /// From the intended send time (open model) or the actual send (closed model) to the end.
    pub latency: Duration,
    pub outcome: Outcome,
    pub tenant: String,
    pub stream: Option<StreamTiming>,
}

/// Everything recorded for one time window of the run.
#[derive(Clone, Debug, Default)]
pub struct Window {
    pub latency: LatencyHistogram,
    pub requests: u64,
    pub errors: u64,
    pub cache_hits: u64,
    pub cache_answers: u64,
}

#[derive(Clone, Debug, Default)]
pub struct TenantTally {
    pub requests: u64,
    pub ok: u64,
    pub latency: LatencyHistogram,
}

/// Aggregates of a scenario so far.
#[derive(Clone, Debug)]
pub struct Tally {
    pub window: Duration,
    /// All answered requests (any status), and the served (2xx) ones alone.
    pub latency: LatencyHistogram,
    pub served: LatencyHistogram,
    pub ttft: LatencyHistogram,
    /// Tokens per second × 1000 stored as "microseconds" so the same histogram type serves.
    pub tokens_per_sec_milli: LatencyHistogram,
    pub tokens_total: u64,
    pub requests: u64,
    pub ok: u64,
    pub statuses: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub cache: BTreeMap<CacheLevel, u64>,
    pub tenants: BTreeMap<String, TenantTally>,
    pub windows: Vec<Window>,
}

impl Tally {
    pub fn new(window: Duration) -> Self {
        Self {
            window: window.max(Duration::from_millis(100)),
            latency: LatencyHistogram::new(),
            served: LatencyHistogram::new(),
            ttft: LatencyHistogram::new(),
            tokens_per_sec_milli: LatencyHistogram::new(),
            tokens_total: 0,
            requests: 0,
            ok: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            cache: BTreeMap::new(),
            tenants: BTreeMap::new(),
            windows: Vec::new(),
        }
    }

    pub fn record(&mut self, sample: &Sample) {
        self.requests += 1;
        *self.statuses.entry(sample.outcome.status_key()).or_default() += 1;
        let index = (sample.at.as_secs_f64() / self.window.as_secs_f64()) as usize;
        if self.windows.len() <= index {
            self.windows.resize_with(index + 1, Window::default);
        }
        let window = &mut self.windows[index];
        window.requests += 1;
        let tenant = self.tenants.entry(sample.tenant.clone()).or_default();
        tenant.requests += 1;
        // Timeouts and refused connections have no latency worth a percentile.
        let answered = !matches!(sample.outcome, Outcome::Timeout | Outcome::Connect);
        if answered {
            self.latency.record(sample.latency);
        }
        match &sample.outcome {
            Outcome::Ok { cache, .. } => {
                self.ok += 1;
                tenant.ok += 1;
                tenant.latency.record(sample.latency);
                self.served.record(sample.latency);
                window.latency.record(sample.latency);
                if let Some(level) = cache {
                    *self.cache.entry(*level).or_default() += 1;
                    window.cache_answers += 1;
                    if *level != CacheLevel::None {
                        window.cache_hits += 1;
                    }
                }
            }
            other => {
                window.errors += 1;
                if let Some(kind) = other.error_kind() {
                    *self.errors.entry(kind).or_default() += 1;
                }
            }
        }
        if let Some(stream) = &sample.stream {
            self.ttft.record(stream.ttft);
            self.tokens_total += u64::from(stream.tokens);
            if let Some(rate) = stream.tokens_per_sec() {
                self.tokens_per_sec_milli.record(Duration::from_micros((rate * 1000.0) as u64));
            }
        }
    }

    pub fn failed(&self) -> u64 {
        self.requests - self.ok
    }

    /// Share of requests that succeeded, in percent (100 when nothing was sent).
    pub fn success_pct(&self) -> f64 {
        if self.requests == 0 { 100.0 } else { round3(self.ok as f64 * 100.0 / self.requests as f64) }
    }

    /// Share of answers that came from a cache level, in percent of answers that said.
    pub fn cache_hit_pct(&self) -> Option<f64> {
        let answers: u64 = self.cache.values().sum();
        let hits: u64 = self.cache.iter().filter(|(l, _)| **l != CacheLevel::None).map(|(_, n)| n).sum();
        (answers > 0).then(|| round3(hits as f64 * 100.0 / answers as f64))
    }
}

/// The tally shared by a scenario's workers.
#[derive(Debug)]
pub struct SharedTally(Mutex<Tally>);

impl SharedTally {
    pub fn new(window: Duration) -> Self {
        Self(Mutex::new(Tally::new(window)))
    }

    pub fn record(&self, sample: &Sample) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).record(sample);
    }

    pub fn with<T>(&self, f: impl FnOnce(&Tally) -> T) -> T {
        f(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes the tally out (a request still finishing afterwards lands in a fresh one).
    pub fn take(&self) -> Tally {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = Tally::new(guard.window);
        std::mem::replace(&mut guard, fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_of_one_to_a_hundred_milliseconds() {
        let mut h = LatencyHistogram::new();
        for n in 1..=100 {
            h.record(ms(n));
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((s.avg - 50.5).abs() < 0.05, "{s:?}");
        // HDR keeps 3 significant digits: each percentile is within 0.1 % of the exact rank.
        for (got, want) in [(s.p50, 50.0), (s.p90, 90.0), (s.p95, 95.0), (s.p99, 99.0), (s.max, 100.0), (s.min, 1.0)] {
            assert!((got - want).abs() <= want * 0.001 + 0.001, "got {got}, want {want}: {s:?}");
        }
    }

    #[test]
    fn an_empty_histogram_summarises_to_zeros_and_a_tail_moves_only_the_high_percentiles() {
        assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
        let mut h = LatencyHistogram::new();
        for _ in 0..98 {
            h.record(ms(10));
        }
        h.record(ms(2000));
        h.record(ms(3000));
        let s = h.summary();
        assert!((s.p50 - 10.0).abs() < 0.01 && (s.p95 - 10.0).abs() < 0.01, "{s:?}");
        assert!(s.p99 >= 1990.0, "the 99th of 100 is the first slow one: {s:?}");
        assert!((s.max - 3000.0).abs() < 3.0, "{s:?}");
    }

    #[test]
    fn the_tally_counts_statuses_errors_cache_levels_and_windows() {
        let mut t = Tally::new(Duration::from_secs(1));
        let sample = |at: u64, outcome: Outcome| Sample { at: ms(at), latency: ms(20), outcome, tenant: "northwind".into(), stream: None };
        t.record(&sample(100, Outcome::Ok { status: 200, cache: Some(CacheLevel::L1) }));
        t.record(&sample(200, Outcome::Ok { status: 200, cache: Some(CacheLevel::None) }));
        t.record(&sample(1500, Outcome::Ok { status: 200, cache: Some(CacheLevel::L3) }));
        t.record(&sample(1600, Outcome::Status(503)));
        t.record(&sample(2100, Outcome::Timeout));
        assert_eq!((t.requests, t.ok, t.failed()), (5, 3, 2));
        assert_eq!(t.success_pct(), 60.0);
        assert_eq!(t.cache_hit_pct(), Some(66.667));
        assert_eq!(t.statuses.get("200"), Some(&3));
        assert_eq!(t.errors.get("http_503"), Some(&1));
        assert_eq!(t.errors.get("timeout"), Some(&1));
        assert_eq!(t.windows.len(), 3);
        assert_eq!((t.windows[1].requests, t.windows[1].errors, t.windows[1].cache_hits), (2, 1, 1));
        assert_eq!(t.latency.len(), 4, "the timeout has no latency");
        assert_eq!(t.served.len(), 3);
    }

    #[test]
    fn tokens_per_second_counts_the_gaps_after_the_first_token() {
        let t = StreamTiming { ttft: ms(100), tokens: 11, generation: ms(500) };
        assert_eq!(t.tokens_per_sec(), Some(20.0));
        assert_eq!(StreamTiming { ttft: ms(1), tokens: 1, generation: ms(0) }.tokens_per_sec(), None);
    }
}
