//! Checking and cleaning a chat request before anything is stored.

use tria_core::constraints::{CUSTOMER_ID_MAX_CHARS, MESSAGE_MAX_CHARS, is_invisible, is_stripped_from_message};
use tria_core::{ChatRequest, ConversationId, InputError};

/// Bounds on what a customer may send. The defaults are the limits the HTTP contract (and its
/// OpenAPI document) states, [`tria_core::constraints`].
#[derive(Clone, Copy, Debug)]
pub struct ChatLimits {
    pub max_message_chars: usize,
    pub max_customer_id_chars: usize,
}

impl Default for ChatLimits {
    fn default() -> Self {
        Self { max_message_chars: MESSAGE_MAX_CHARS, max_customer_id_chars: CUSTOMER_ID_MAX_CHARS }
    }
}

/// A request that passed validation.
#[derive(Clone, Debug)]
pub(crate) struct CleanRequest {
    pub message: String,
    pub session: Option<ConversationId>,
    pub customer_external_id: Option<String>,
}

/// Removes control characters (NUL cannot be stored in PostgreSQL text) but keeps line breaks
/// and tabs.
fn strip_controls(text: &str) -> String {
    text.chars().filter(|c| !is_stripped_from_message(*c)).collect()
}

/// Cleans `req` within `limits`. A message of only [`is_invisible`] characters (whitespace,
/// zero-width spaces and joiners, bidi controls) is empty; otherwise they stay in the text
/// (joiners build emoji and many scripts' letters). The OpenAPI document states the same rules
/// from the same definitions (`tria_core::constraints`).
pub(crate) fn validate(req: &ChatRequest, limits: ChatLimits) -> Result<CleanRequest, InputError> {
    let message = strip_controls(&req.message).trim().to_owned();
    if message.chars().all(is_invisible) {
        return Err(InputError::invalid("message", "must not be empty"));
    }
    let chars = message.chars().count();
    if chars > limits.max_message_chars {
        return Err(InputError::invalid("message", format!("is too long ({chars} characters; the limit is {})", limits.max_message_chars)));
    }
    let session = match req.session_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<ConversationId>()
                .map_err(|_| InputError::invalid("session_id", "must be a session id returned by a previous reply"))?,
        ),
    };
    // Control characters anywhere, before trimming: "\u{85}" (NEL) is whitespace to `trim`
    // and would otherwise pass as no customer at all.
    if req.customer_id.as_deref().is_some_and(|raw| raw.chars().any(char::is_control)) {
        return Err(InputError::invalid("customer_id", "must not contain control characters"));
    }
    let customer_external_id = match req.customer_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) if raw.chars().count() > limits.max_customer_id_chars => {
            return Err(InputError::invalid("customer_id", format!("must be at most {} characters", limits.max_customer_id_chars)));
        }
        Some(raw) => Some(raw.to_owned()),
    };
    Ok(CleanRequest { message, session, customer_external_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tria_core::ErrorCode;

    fn req(message: &str) -> ChatRequest {
        ChatRequest::new(message)
    }

    #[test]
    fn customer_ids_with_control_characters_are_rejected_even_when_trim_would_remove_them() {
        for id in ["CUST\u{0}1", "\u{85}", "CUST-1\n", "\tCUST-1"] {
            let mut request = req("hello");
            request.customer_id = Some(id.into());
            let err = validate(&request, ChatLimits::default()).expect_err(id);
            assert!(err.message.contains("customer_id") && err.message.contains("control"), "{id:?}: {}", err.message);
        }
        let mut request = req("hello");
        request.customer_id = Some("  CUST-1 ".into());
        assert_eq!(validate(&request, ChatLimits::default()).expect("spaces trim").customer_external_id.as_deref(), Some("CUST-1"));
    }

    #[test]
    fn empty_and_whitespace_messages_are_rejected() {
        for m in ["", "   ", "\n\t", "\u{0}\u{1}", "\u{200B}\u{200B}", "\u{FEFF}", "\u{202E}\u{2066}", "\u{200D} \u{2060}"] {
            let err = validate(&req(m), ChatLimits::default()).expect_err(m);
            assert_eq!(err.code, ErrorCode::InvalidField);
            assert!(err.message.contains("message"));
        }
    }

    #[test]
    fn control_characters_are_removed_and_length_is_bounded() {
        let clean = validate(&req("  hi\u{0} there\n "), ChatLimits::default()).expect("valid");
        assert_eq!(clean.message, "hi there");
        let long = "é".repeat(4001);
        assert!(validate(&req(&long), ChatLimits::default()).is_err());
        assert!(validate(&req(&"é".repeat(4000)), ChatLimits::default()).is_ok());
    }

    #[test]
    fn session_ids_must_be_uuids() {
        let mut r = req("hello");
        r.session_id = Some("../../etc/passwd".into());
        let err = validate(&r, ChatLimits::default()).expect_err("bad id");
        assert!(err.message.contains("session_id"));
        let mut r = req("hello");
        r.session_id = Some(ConversationId::new_random().to_string());
        assert!(validate(&r, ChatLimits::default()).expect("valid").session.is_some());
    }
}
