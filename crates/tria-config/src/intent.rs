//! `[intent]`: whether an unsure intent verdict is put to the configured LLM (issue 26), and
//! how long a turn waits for its answer.

use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIntent {
    pub llm_fallback: bool,
    pub llm_fallback_deadline_ms: u64,
}

impl Default for RawIntent {
    fn default() -> Self {
        Self { llm_fallback: true, llm_fallback_deadline_ms: 1500 }
    }
}

/// Validated `[intent]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentSettings {
    /// Ask the `[llm]` model for a label when the intent model is unsure (only when `[llm]`
    /// names a provider and the intent model is loaded).
    pub llm_fallback: bool,
    /// The longest one question waits (also at most a quarter of `llm.turn_deadline_ms`).
    pub llm_fallback_deadline: Duration,
}

pub(crate) fn validate_intent(raw: &RawIntent) -> Result<IntentSettings, ConfigError> {
    if !(50..=10_000).contains(&raw.llm_fallback_deadline_ms) {
        return Err(ConfigError::invalid(
            "intent.llm_fallback_deadline_ms",
            format!("must be between 50 and 10000 (got {})", raw.llm_fallback_deadline_ms),
        ));
    }
    Ok(IntentSettings { llm_fallback: raw.llm_fallback, llm_fallback_deadline: Duration::from_millis(raw.llm_fallback_deadline_ms) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llm_fallback_is_on_with_a_short_deadline_by_default_and_the_deadline_is_bounded() {
        let settings = validate_intent(&RawIntent::default()).expect("default");
        assert_eq!(settings, IntentSettings { llm_fallback: true, llm_fallback_deadline: Duration::from_millis(1500) });
        for bad in [0, 49, 10_001] {
            assert!(validate_intent(&RawIntent { llm_fallback_deadline_ms: bad, ..RawIntent::default() }).is_err(), "{bad}");
        }
    }
}
