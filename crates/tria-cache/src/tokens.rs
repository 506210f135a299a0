//! Token counts for "tokens saved", with the cl100k_base BPE that tiktoken-rs ships.

/// cl100k tokens in `text`, with tiktoken-rs's process-wide BPE (one copy shared by every
/// crate that counts; built from data compiled into the crate).
pub fn count_tokens(text: &str) -> u32 {
    u32::try_from(tiktoken_rs::cl100k_base_singleton().encode_ordinary(text).len()).unwrap_or(u32::MAX)
}
