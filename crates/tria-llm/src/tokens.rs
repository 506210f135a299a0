//! Token counts for when the upstream does not report usage, with the cl100k_base BPE that
//! tiktoken-rs ships (nothing is downloaded). Counts for other tokenizers are estimates.

use crate::ChatMessage;

/// Tokens of `text`. The BPE is tiktoken-rs's process-wide instance (built from data compiled
/// into the crate): every crate that counts shares its ~tens of MB instead of building its own.
pub fn count_text(text: &str) -> u32 {
    u32::try_from(tiktoken_rs::cl100k_base_singleton().encode_ordinary(text).len()).unwrap_or(u32::MAX)
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
