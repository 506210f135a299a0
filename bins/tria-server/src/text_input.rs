//! Free text from a request body, checked before it is stored. PostgreSQL's `text` and `jsonb`
//! cannot hold NUL (0x00): one that reached the store was a 500. It and the other control
//! characters are the caller's mistake, answered 400 naming the field, as the chat pipeline
//! answers a `customer_id` with control characters (`tria_agent::input`).

use serde_json::Value;

use crate::ApiError;

/// A name or label: no control characters at all.
pub(crate) fn single_line(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("`{field}` must not contain NUL or other control characters")));
    }
    Ok(())
}

/// Prose (a comment, a message, a setting): line breaks and tabs, but no other control character.
pub(crate) fn multi_line(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
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
}
