//! Free text from a request body, checked before it is stored. PostgreSQL's `text` and `jsonb`
//! cannot hold NUL (0x00): one that reached the store was a 500. It and the other control
//! characters are the caller's mistake, answered 400 naming the field, as the chat pipeline
//! answers a `customer_id` with control characters (`tria_agent::input`).

use serde_json::Value;

use crate::ApiError;

/// Bidirectional formatting characters; defined with the OpenAPI patterns that refuse them.
pub(crate) use tria_core::constraints::is_bidi_control;

/// A name or label: no control characters at all, and no bidi controls.
pub(crate) fn single_line(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("`{field}` must not contain NUL or other control characters")));
    }
    if text.chars().any(is_bidi_control) {
        return Err(ApiError::bad_request(format!(
            "`{field}` must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)"
        )));
    }
    Ok(())
}

/// Text the bot says to every customer (the tone's persona, greeting and sign-off): prose as
/// [`multi_line`], without bidi controls, which would reorder the replies around it.
pub(crate) fn customer_facing(field: &str, text: &str) -> Result<(), ApiError> {
    multi_line(field, text)?;
    if text.chars().any(is_bidi_control) {
        return Err(ApiError::bad_request(format!(
            "`{field}` must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)"
        )));
    }
    Ok(())
}

/// Prose (a comment, a message, a setting): line breaks and tabs, but no other control character.
pub(crate) fn multi_line(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().any(tria_core::constraints::is_control_in_prose) {
        return Err(ApiError::bad_request(format!(
            "`{field}` must not contain NUL or other control characters (line breaks and tabs are fine)"
        )));
    }
    Ok(())
}

/// Every string in a JSON document, object keys included, as [`multi_line`] text.
pub(crate) fn json_strings(field: &str, value: &Value) -> Result<(), ApiError> {
    match value {
        Value::String(text) => multi_line(field, text),
        Value::Array(items) => items.iter().try_for_each(|item| json_strings(field, item)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            multi_line(field, key)?;
            json_strings(field, item)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_and_control_characters_are_refused_naming_the_field() {
        let err = single_line("name", "Acme\u{0}").expect_err("NUL");
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(err.message, "`name` must not contain NUL or other control characters");
        assert!(single_line("name", "two\nlines").is_err());
        assert!(single_line("name", "Café Ñandú").is_ok());
        assert!(multi_line("comment", "two\nlines\tand\r\n").is_ok());
        assert!(multi_line("comment", "bell\u{7}").is_err());
        assert!(multi_line("comment", "c1\u{85}").is_err());
        assert!(json_strings("settings", &json!({ "a": [1, null, { "b": "ok\n" }] })).is_ok());
        assert!(json_strings("settings", &json!({ "a": [{ "b": "x\u{0}" }] })).is_err());
        assert!(json_strings("settings", &json!({ "k\u{0}": 1 })).is_err());
    }

    #[test]
    fn names_and_customer_facing_texts_refuse_bidi_controls_naming_the_field() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{200E}',
            '\u{200F}', '\u{061C}',
        ] {
            let text = format!("Acme{c}moc.evil");
            let err = single_line("name", &text).expect_err("bidi control in a name");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
            assert!(err.message.starts_with("`name` must not contain bidirectional control characters"), "{}", err.message);
            assert!(customer_facing("tone.greeting", &text).expect_err("bidi in a greeting").message.contains("`tone.greeting`"));
        }
        // Right-to-left scripts, joiners (emoji, Indic scripts) and zero-width spaces are names.
        for name in ["شركة الأمل", "חברת אור", "Café 👩\u{200D}💻", "क्\u{200D}ष", "Acme\u{200B}Co"] {
            assert!(single_line("name", name).is_ok(), "{name}");
            assert!(customer_facing("tone.greeting", &format!("{name}\nWelcome")).is_ok(), "{name}");
        }
        // Prose elsewhere (feedback, operator replies) and settings are not names.
        assert!(multi_line("comment", "\u{202E}reversed").is_ok());
    }
}
