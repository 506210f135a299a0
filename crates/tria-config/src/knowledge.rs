//! `[knowledge]`: limits on uploaded documents (issue 25).

use serde::Deserialize;

use crate::ConfigError;

/// 20 MB, the suggested limit.
const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 20 * 1024 * 1024;
/// Above this a document is better split: it is held in memory while read and stored whole.
const MAX_MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawKnowledge {
    pub max_document_bytes: u64,
}

impl Default for RawKnowledge {
    fn default() -> Self {
        Self { max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES }
    }
}

/// Validated `[knowledge]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnowledgeSettings {
    /// The largest document `PUT /admin/tenants/{slug}/documents/{doc_id}` takes.
    pub max_document_bytes: usize,
}

pub(crate) fn validate_knowledge(raw: &RawKnowledge) -> Result<KnowledgeSettings, ConfigError> {
    if raw.max_document_bytes < 1024 || raw.max_document_bytes > MAX_MAX_DOCUMENT_BYTES {
        return Err(ConfigError::invalid(
            "knowledge.max_document_bytes",
            format!("must be between 1024 and {MAX_MAX_DOCUMENT_BYTES} (got {})", raw.max_document_bytes),
        ));
    }
    Ok(KnowledgeSettings { max_document_bytes: usize::try_from(raw.max_document_bytes).unwrap_or(usize::MAX) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_limit_defaults_to_20_mb_and_is_bounded() {
        assert_eq!(validate_knowledge(&RawKnowledge::default()).expect("default").max_document_bytes, 20 * 1024 * 1024);
        for bad in [0, 1023, MAX_MAX_DOCUMENT_BYTES + 1] {
            assert!(validate_knowledge(&RawKnowledge { max_document_bytes: bad }).is_err(), "{bad}");
        }
    }
}
