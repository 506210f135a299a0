//! The limits of what callers may send, written once: the agent's input validation and the
//! server's text checks use these, and the OpenAPI document (feature `openapi`) is built from them.
//!
//! Each character class exists twice, as a predicate for the code and as an ECMA-262 pattern
//! for the document; the tests below compare the two on every Unicode scalar value, so they
//! cannot drift apart.

/// The longest chat message, in characters, after control characters are removed and the text
/// trimmed.
pub const MESSAGE_MAX_CHARS: usize = 4000;

/// The longest `customer_id` (the tenant's own id for the customer), in characters, trimmed.
pub const CUSTOMER_ID_MAX_CHARS: usize = 128;

/// A character a chat message loses before it is stored: a control character other than a
/// line break or a tab (PostgreSQL text cannot hold NUL).
pub fn is_stripped_from_message(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Characters that show nothing: whitespace, zero-width spaces and joiners, the BOM, the word
/// joiner, soft hyphens, left-to-right / right-to-left marks and bidirectional overrides. Kept in
/// a message (stored as sent; joiners build emoji and many scripts' letters), but a message of
/// only these is empty.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
}

/// Bidirectional formatting characters: embeddings and overrides (U+202A–U+202E), isolates
/// (U+2066–U+2069) and the direction marks (LRM, RLM, ALM). In a name they reorder how it and
/// the text around it show ("Acme\u{202E}moc.evil" reads as "Acmelive.com"). Chat messages keep
/// them: customers' text is stored as sent.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A control character prose may not hold: any but line breaks and tabs.
pub fn is_control_in_prose(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// A chat message the agent accepts: at least one character that is neither stripped
/// ([`is_stripped_from_message`]) nor [`is_invisible`]. Unanchored: it matches a message that
/// contains such a character.
pub const MESSAGE_PATTERN: &str = r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]";

/// A `customer_id`: no control character at all.
pub const CUSTOMER_ID_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// A name: no control character or [`is_bidi_control`] at all, and something besides spaces.
pub const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";

/// A label: no control character or [`is_bidi_control`].
pub const LABEL_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";

/// What the bot says to every customer (a tone's persona, greeting, sign-off): prose
/// ([`PROSE_PATTERN`]) without [`is_bidi_control`] characters.
pub const CUSTOMER_FACING_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";

/// Prose: line breaks and tabs, no other control character ([`is_control_in_prose`]).
pub const PROSE_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

#[cfg(test)]
mod tests {
    use super::*;

    fn every_char() -> impl Iterator<Item = char> {
        (0..=u32::from(char::MAX)).filter_map(char::from_u32)
    }

    /// `pattern` accepts a one-character string exactly when `accepts` says so. Rust's `regex`
    /// reads these classes as ECMA-262 does but for `\s`, which in ECMA-262 also holds U+FEFF
    /// and lacks U+0085: every class lists U+0085 (`\x7f-\x9f`), and the message class U+FEFF,
    /// so only [`NAME_PATTERN`] differs — in a document reader it refuses a name of only BOMs,
    /// which the server takes: the document is the stricter one there.
    fn agrees(pattern: &str, accepts: impl Fn(char) -> bool) {
        let regex = regex::Regex::new(pattern).expect("valid pattern");
        let mut buf = [0u8; 4];
        for c in every_char() {
            assert_eq!(regex.is_match(c.encode_utf8(&mut buf)), accepts(c), "{pattern} on U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn the_message_pattern_is_the_agents_idea_of_a_visible_character() {
        agrees(MESSAGE_PATTERN, |c| !is_stripped_from_message(c) && !is_invisible(c));
    }

    #[test]
    fn the_single_line_patterns_refuse_controls_and_bidi_controls() {
        agrees(CUSTOMER_ID_PATTERN, |c| !c.is_control());
        agrees(LABEL_PATTERN, |c| !c.is_control() && !is_bidi_control(c));
        agrees(NAME_PATTERN, |c| !c.is_control() && !is_bidi_control(c) && !c.is_whitespace());
        let name = regex::Regex::new(NAME_PATTERN).expect("valid");
        assert!(name.is_match("Acme Co") && !name.is_match("   ") && !name.is_match(""));
    }

    #[test]
    fn the_prose_patterns_allow_line_breaks_and_tabs() {
        agrees(PROSE_PATTERN, |c| !is_control_in_prose(c));
        agrees(CUSTOMER_FACING_PATTERN, |c| !is_control_in_prose(c) && !is_bidi_control(c));
    }
}
