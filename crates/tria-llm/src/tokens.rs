//! Token counts for when the upstream does not report usage, with the cl100k_base BPE that
//! tiktoken-rs ships (nothing is downloaded). Counts for other tokenizers are estimates.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::ChatMessage;

static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// Tokens of `text`. Falls back to ~4 characters per token if the tokenizer cannot load, so a
/// missing count is never an error (it is only ever an estimate).
pub fn count_text(text: &str) -> u32 {
    let bpe = BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok());
    let n = match bpe {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        None => text.chars().count().div_ceil(4),
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Prompt tokens of a chat, with OpenAI's per-message framing overhead (3 per message, 3 to
/// prime the reply).
pub fn count_messages(messages: &[ChatMessage]) -> u32 {
    messages.iter().map(|m| 3 + count_text(&m.content) + 1).sum::<u32>() + 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_positive_and_grow_with_text() {
        assert_eq!(count_text(""), 0);
        assert!(count_text("hello world") >= 2);
        let short = count_messages(&[ChatMessage::user("hi")]);
        let long = count_messages(&[ChatMessage::system("You are helpful."), ChatMessage::user("hi there, how are you")]);
        assert!(long > short && short > 3);
    }
}
