//! Token counts for "tokens saved", with the cl100k_base BPE that tiktoken-rs ships.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// cl100k tokens in `text`; a rough four-characters-per-token estimate if the BPE fails to load.
pub fn count_tokens(text: &str) -> u32 {
    let n = match BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()) {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        None => text.len().div_ceil(4),
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}
