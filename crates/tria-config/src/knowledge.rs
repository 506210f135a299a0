//! `[knowledge]`: limits on uploaded documents, how often a replica checks for a new knowledge
//! version, and how long an index job's claim holds (issue 25).

use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

/// 20 MB, the suggested limit.
const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 20 * 1024 * 1024;
/// Above this a document is better split: it is held in memory while read and stored whole.
const MAX_MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;
const DEFAULT_VERSION_CHECK_MS: u64 = 1000;
/// As long as the job runner's default lease (`tria_knowledge::LEASE`).
const DEFAULT_JOB_LEASE_MS: u64 = 120_000;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawKnowledge {
    pub max_document_bytes: u64,
    pub version_check_ms: u64,
    pub job_lease_ms: u64,
}

impl Default for RawKnowledge {
    fn default() -> Self {
        Self {
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            version_check_ms: DEFAULT_VERSION_CHECK_MS,
            job_lease_ms: DEFAULT_JOB_LEASE_MS,
        }
    }
}

/// Validated `[knowledge]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnowledgeSettings {
    /// The largest document `PUT /admin/tenants/{slug}/documents/{doc_id}` takes.
    pub max_document_bytes: usize,
    /// How often a replica reads each tenant's knowledge version: the most it serves a
    /// version another replica replaced.
    pub version_check: Duration,
    /// How long an index job's claim holds without progress before another (or a restarted)
    /// replica takes the job over.
    pub job_lease: Duration,
}

pub(crate) fn validate_knowledge(raw: &RawKnowledge) -> Result<KnowledgeSettings, ConfigError> {
    if raw.max_document_bytes < 1024 || raw.max_document_bytes > MAX_MAX_DOCUMENT_BYTES {
        return Err(ConfigError::invalid(
            "knowledge.max_document_bytes",
            format!("must be between 1024 and {MAX_MAX_DOCUMENT_BYTES} (got {})", raw.max_document_bytes),
        ));
    }
    if raw.version_check_ms > 60_000 {
        return Err(ConfigError::invalid("knowledge.version_check_ms", format!("must be at most 60000 (got {})", raw.version_check_ms)));
    }
    if !(1000..=3_600_000).contains(&raw.job_lease_ms) {
        return Err(ConfigError::invalid("knowledge.job_lease_ms", format!("must be between 1000 and 3600000 (got {})", raw.job_lease_ms)));
    }
    Ok(KnowledgeSettings {
        max_document_bytes: usize::try_from(raw.max_document_bytes).unwrap_or(usize::MAX),
        version_check: Duration::from_millis(raw.version_check_ms),
        job_lease: Duration::from_millis(raw.job_lease_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_limit_defaults_to_20_mb_and_is_bounded() {
        assert_eq!(validate_knowledge(&RawKnowledge::default()).expect("default").max_document_bytes, 20 * 1024 * 1024);
        for bad in [0, 1023, MAX_MAX_DOCUMENT_BYTES + 1] {
            assert!(validate_knowledge(&RawKnowledge { max_document_bytes: bad, ..RawKnowledge::default() }).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_version_check_and_job_lease_default_and_are_bounded() {
        let settings = validate_knowledge(&RawKnowledge::default()).expect("default");
        assert_eq!((settings.version_check, settings.job_lease), (Duration::from_secs(1), Duration::from_secs(120)));
        assert!(validate_knowledge(&RawKnowledge { version_check_ms: 60_001, ..RawKnowledge::default() }).is_err());
        for bad in [0, 999, 3_600_001] {
            assert!(validate_knowledge(&RawKnowledge { job_lease_ms: bad, ..RawKnowledge::default() }).is_err(), "{bad}");
        }
    }
}
