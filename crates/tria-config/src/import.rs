//! `[import]`: catalogue and customer uploads (issue 25): their size limit, the size above which
//! an upload runs as a job, and the job's lease.

use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

/// 64 MB: about 600k catalogue rows, well past the 100k-row goal.
const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Above this an upload is spooled to the store in chunks, never whole in memory at once.
const MAX_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// 1 MB: about 10k catalogue rows, a second or so of synchronous work.
const DEFAULT_JOB_THRESHOLD_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawImport {
    pub max_bytes: u64,
    pub job_threshold_bytes: u64,
    pub job_lease_ms: u64,
    pub job_poll_ms: u64,
}

impl Default for RawImport {
    fn default() -> Self {
        Self { max_bytes: DEFAULT_MAX_BYTES, job_threshold_bytes: DEFAULT_JOB_THRESHOLD_BYTES, job_lease_ms: 120_000, job_poll_ms: 2_000 }
    }
}

/// Validated `[import]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSettings {
    /// The largest catalogue or customer upload (413 above it, refused before it is all read).
    pub max_bytes: u64,
    /// Uploads larger than this are answered 202 and imported by a job; smaller ones at once.
    pub job_threshold_bytes: u64,
    /// How long a replica's claim on an import job holds without progress before another
    /// replica (or this one, restarted) takes the job over and redoes it.
    pub job_lease: Duration,
    /// How often an idle replica looks for queued import jobs.
    pub job_poll: Duration,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            job_threshold_bytes: DEFAULT_JOB_THRESHOLD_BYTES,
            job_lease: Duration::from_secs(120),
            job_poll: Duration::from_secs(2),
        }
    }
}

pub(crate) fn validate_import(raw: &RawImport) -> Result<ImportSettings, ConfigError> {
    if raw.max_bytes < 1024 || raw.max_bytes > MAX_MAX_BYTES {
        return Err(ConfigError::invalid("import.max_bytes", format!("must be between 1024 and {MAX_MAX_BYTES} (got {})", raw.max_bytes)));
    }
    if raw.job_threshold_bytes > raw.max_bytes {
        return Err(ConfigError::invalid(
            "import.job_threshold_bytes",
            format!("must not exceed import.max_bytes ({}; got {})", raw.max_bytes, raw.job_threshold_bytes),
        ));
    }
    if !(1_000..=3_600_000).contains(&raw.job_lease_ms) {
        return Err(ConfigError::invalid("import.job_lease_ms", format!("must be between 1000 and 3600000 (got {})", raw.job_lease_ms)));
    }
    if !(50..=60_000).contains(&raw.job_poll_ms) {
        return Err(ConfigError::invalid("import.job_poll_ms", format!("must be between 50 and 60000 (got {})", raw.job_poll_ms)));
    }
    Ok(ImportSettings {
        max_bytes: raw.max_bytes,
        job_threshold_bytes: raw.job_threshold_bytes,
        job_lease: Duration::from_millis(raw.job_lease_ms),
        job_poll: Duration::from_millis(raw.job_poll_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_64_mb_1_mb_and_bounded() {
        let ok = validate_import(&RawImport::default()).expect("default");
        assert_eq!((ok.max_bytes, ok.job_threshold_bytes), (64 * 1024 * 1024, 1024 * 1024));
        assert_eq!(ImportSettings::default(), ok);
        let base = RawImport::default();
        for (bad, key) in [
            (RawImport { max_bytes: 1023, ..base.clone() }, "import.max_bytes"),
            (RawImport { max_bytes: MAX_MAX_BYTES + 1, ..base.clone() }, "import.max_bytes"),
            (RawImport { job_threshold_bytes: base.max_bytes + 1, ..base.clone() }, "import.job_threshold_bytes"),
            (RawImport { job_lease_ms: 999, ..base.clone() }, "import.job_lease_ms"),
            (RawImport { job_poll_ms: 0, ..base.clone() }, "import.job_poll_ms"),
        ] {
            let err = validate_import(&bad).expect_err(key).to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
