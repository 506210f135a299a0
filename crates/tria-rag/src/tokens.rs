//! Token counting with the cl100k_base BPE (tiktoken-rs ships it, nothing is downloaded).

use tiktoken_rs::CoreBPE;

use crate::RagError;

/// tiktoken-rs's process-wide BPE: one copy shared with every other crate that counts tokens
/// (it is built from data compiled into tiktoken-rs, so it cannot fail to load at run time).
#[allow(clippy::unnecessary_wraps)]
fn bpe() -> Result<&'static CoreBPE, RagError> {
    Ok(tiktoken_rs::cl100k_base_singleton())
}

/// Number of cl100k tokens in `text`.
pub fn count(text: &str) -> Result<usize, RagError> {
    Ok(bpe()?.encode_ordinary(text).len())
}

/// The token ids of `text`, for splitting on token boundaries.
pub(crate) fn encode(text: &str) -> Result<Vec<u32>, RagError> {
    Ok(bpe()?.encode_ordinary(text))
}

/// Text of a token range. Splits can land inside a multi-byte character; those bytes are
/// replaced rather than failing.
pub(crate) fn decode(tokens: &[u32]) -> Result<String, RagError> {
    let bytes = bpe()?.decode_bytes(tokens).map_err(|e| RagError::Tokenizer(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
