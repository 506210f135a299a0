//! `[retention]` (issue 29): the deployment's default limits for tenants that set none of their
//! own (`settings.retention`), and how often and in what batches the retention job deletes.

use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

/// The longest limit, in days (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetention {
    /// Days a conversation is kept after its last activity; 0 keeps it for ever.
    pub transcripts_days: u32,
    /// Days an escalation is kept after its last change; 0 keeps it for ever.
    pub escalations_days: u32,
    /// Days an audit entry is kept; 0 keeps it for ever.
    pub audit_days: u32,
    pub interval_ms: u64,
    pub batch_size: u64,
    pub batch_pause_ms: u64,
}

impl Default for RawRetention {
    fn default() -> Self {
        Self { transcripts_days: 0, escalations_days: 0, audit_days: 0, interval_ms: 3_600_000, batch_size: 500, batch_pause_ms: 10 }
    }
}

/// Validated `[retention]`; `None` keeps that kind for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    pub transcripts_days: Option<u32>,
    pub escalations_days: Option<u32>,
    pub audit_days: Option<u32>,
    /// How often each replica tries a pass (only the one holding the lock runs it).
    pub interval: Duration,
    /// Rows deleted per transaction at most.
    pub batch_size: u64,
    /// Rest between two batches.
    pub batch_pause: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        validate_retention(&RawRetention::default()).expect("the defaults are valid")
    }
}

fn days(key: &str, value: u32) -> Result<Option<u32>, ConfigError> {
    match value {
        0 => Ok(None),
        1..=MAX_RETENTION_DAYS => Ok(Some(value)),
        _ => {
            Err(ConfigError::invalid(key, format!("must be 0 (keep for ever) or whole days from 1 to {MAX_RETENTION_DAYS} (got {value})")))
        }
    }
}

pub(crate) fn validate_retention(raw: &RawRetention) -> Result<RetentionSettings, ConfigError> {
    if !(1_000..=86_400_000).contains(&raw.interval_ms) {
        return Err(ConfigError::invalid("retention.interval_ms", format!("must be between 1000 and 86400000 (got {})", raw.interval_ms)));
    }
    if !(1..=10_000).contains(&raw.batch_size) {
        return Err(ConfigError::invalid("retention.batch_size", format!("must be between 1 and 10000 (got {})", raw.batch_size)));
    }
    if raw.batch_pause_ms > 10_000 {
        return Err(ConfigError::invalid("retention.batch_pause_ms", format!("must be at most 10000 (got {})", raw.batch_pause_ms)));
    }
    Ok(RetentionSettings {
        transcripts_days: days("retention.transcripts_days", raw.transcripts_days)?,
        escalations_days: days("retention.escalations_days", raw.escalations_days)?,
        audit_days: days("retention.audit_days", raw.audit_days)?,
        interval: Duration::from_millis(raw.interval_ms),
        batch_size: raw.batch_size,
        batch_pause: Duration::from_millis(raw.batch_pause_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_everything_and_bad_values_are_refused_by_name() {
        let ok = validate_retention(&RawRetention::default()).expect("default");
        assert_eq!((ok.transcripts_days, ok.escalations_days, ok.audit_days), (None, None, None));
        assert_eq!((ok.interval, ok.batch_size), (Duration::from_secs(3600), 500));
        let set = validate_retention(&RawRetention { transcripts_days: 90, audit_days: 3650, ..RawRetention::default() }).expect("set");
        assert_eq!((set.transcripts_days, set.audit_days), (Some(90), Some(3650)));
        let base = RawRetention::default();
        for (bad, key) in [
            (RawRetention { transcripts_days: 3651, ..base.clone() }, "retention.transcripts_days"),
            (RawRetention { escalations_days: 100_000, ..base.clone() }, "retention.escalations_days"),
            (RawRetention { audit_days: 4000, ..base.clone() }, "retention.audit_days"),
            (RawRetention { interval_ms: 999, ..base.clone() }, "retention.interval_ms"),
            (RawRetention { batch_size: 0, ..base.clone() }, "retention.batch_size"),
            (RawRetention { batch_pause_ms: 10_001, ..base.clone() }, "retention.batch_pause_ms"),
        ] {
            let err = validate_retention(&bad).expect_err(key).to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
