//! Server-side figures from the target's `/metrics` (Prometheus text): resident memory, CPU
//! time, chat requests in flight, shed and rate-limited counts, database pool use.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One scrape's figures (absent when the server does not export them, e.g. not on Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub rss_bytes: Option<f64>,
    pub cpu_seconds: Option<f64>,
    pub chat_in_flight: Option<f64>,
    pub shed_total: Option<f64>,
    pub rate_limited_total: Option<f64>,
    pub db_pool_in_use: Option<f64>,
    pub db_pool_max: Option<f64>,
}

/// The sum of every sample of `name` (all label sets), if there is one.
pub fn sample_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else { continue };
        // The name must end here: `{labels} value` or ` value`, not a longer metric name.
        let value_part = if let Some(labelled) = rest.strip_prefix('{') {
            match labelled.rfind('}') {
                Some(i) => &labelled[i + 1..],
                None => continue,
            }
        } else if rest.starts_with(' ') {
            rest
        } else {
            continue;
        };
        if let Some(v) = value_part.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

pub fn parse(text: &str) -> Snapshot {
    let first = |names: &[&str]| names.iter().find_map(|n| sample_sum(text, n));
    Snapshot {
        rss_bytes: first(&["tria_process_resident_memory_bytes", "process_resident_memory_bytes"]),
        cpu_seconds: first(&["tria_process_cpu_seconds_total", "tria_process_cpu_seconds", "process_cpu_seconds_total"]),
        chat_in_flight: first(&["tria_chat_in_flight"]),
        shed_total: first(&["tria_shed_total", "tria_shed"]),
        rate_limited_total: first(&["tria_rate_limited_total", "tria_rate_limited"]),
        db_pool_in_use: first(&["tria_db_pool_in_use"]),
        db_pool_max: first(&["tria_db_pool_max"]),
    }
}

/// Scrapes `{base}/metrics`; `None` when the server does not answer it.
pub async fn scrape(client: &reqwest::Client, base_url: &str) -> Option<Snapshot> {
    let response = client.get(format!("{base_url}/metrics")).timeout(Duration::from_secs(5)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    Some(parse(&response.text().await.ok()?))
}

/// Server figures of one scenario: before, after, the peak resident memory seen, CPU used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerFigures {
    pub before: Snapshot,
    pub after: Snapshot,
    pub rss_peak_bytes: Option<f64>,
    /// CPU seconds the server used during the scenario.
    pub cpu_seconds: Option<f64>,
    /// Average CPU use during the scenario, in percent of one core.
    pub cpu_pct: Option<f64>,
    pub shed: Option<f64>,
    pub rate_limited: Option<f64>,
}

impl ServerFigures {
    pub fn new(before: Snapshot, after: Snapshot, rss_peak: Option<f64>, elapsed: Duration) -> Self {
        // Rounded: a difference of two floats carries 17 significant digits, which JSON does not
        // read back bit for bit, and the report must round-trip.
        let delta = |a: Option<f64>, b: Option<f64>| Some(crate::stats::round3(b? - a?));
        let cpu_seconds = delta(before.cpu_seconds, after.cpu_seconds);
        let secs = elapsed.as_secs_f64();
        let peak = [before.rss_bytes, after.rss_bytes, rss_peak].into_iter().flatten().reduce(f64::max);
        Self {
            before,
            after,
            rss_peak_bytes: peak,
            cpu_seconds,
            cpu_pct: cpu_seconds.filter(|_| secs > 0.0).map(|c| crate::stats::round3(c * 100.0 / secs)),
            shed: delta(before.shed_total, after.shed_total),
            rate_limited: delta(before.rate_limited_total, after.rate_limited_total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP tria_process_resident_memory_bytes Resident set size
# TYPE tria_process_resident_memory_bytes gauge
tria_process_resident_memory_bytes 104857600
tria_process_resident_memory_bytes_other 1
# TYPE tria_process_cpu_seconds counter
tria_process_cpu_seconds_total 12.5
tria_db_pool_in_use{backend=\"sqlite\"} 3
tria_db_pool_in_use{backend=\"pg\"} 2
tria_shed_total 7
";

    #[test]
    fn samples_are_summed_over_labels_and_longer_names_do_not_match() {
        let s = parse(TEXT);
        assert_eq!(s.rss_bytes, Some(104_857_600.0));
        assert_eq!(s.cpu_seconds, Some(12.5));
        assert_eq!(s.db_pool_in_use, Some(5.0));
        assert_eq!(s.shed_total, Some(7.0));
        assert_eq!(s.chat_in_flight, None);
    }

    #[test]
    fn figures_take_deltas_and_the_peak() {
        let before = Snapshot { rss_bytes: Some(100.0), cpu_seconds: Some(10.0), ..Snapshot::default() };
        let after = Snapshot { rss_bytes: Some(150.0), cpu_seconds: Some(15.0), ..Snapshot::default() };
        let f = ServerFigures::new(before, after, Some(180.0), Duration::from_secs(10));
        assert_eq!(f.cpu_seconds, Some(5.0));
        assert_eq!(f.cpu_pct, Some(50.0));
        assert_eq!(f.rss_peak_bytes, Some(180.0));
        assert_eq!(f.shed, None);
    }
}
