//! The secret value type: zeroed on drop, `[redacted]` in Debug and Display, readable only
//! through [`SecretValue::expose`], so a secret cannot reach a log line by accident.

use std::fmt;

use zeroize::Zeroizing;

/// A secret's plaintext. Deliberately not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plaintext, for the one call that needs it (an HTTP header, a signature check).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What an admin may see of it: see [`masked_hint`].
    pub fn hint(&self) -> String {
        masked_hint(&self.0)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `••••` and the last four characters — only when the value is at least 12 characters long,
/// so a hint never gives away a third or more of a short secret.
pub fn masked_hint(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return "••••".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let value = SecretValue::new("xoxb-very-secret-token");
        assert_eq!(format!("{value}"), "[redacted]");
        assert_eq!(format!("{value:?}"), "SecretValue([redacted])");
        assert_eq!(format!("{:?}", Some(&value)), "Some(SecretValue([redacted]))");
        assert_eq!(value.expose(), "xoxb-very-secret-token");
    }

    #[test]
    fn hints_show_the_last_four_characters_of_long_values_only() {
        assert_eq!(masked_hint("sk-test-0123456789abcd"), "••••abcd");
        assert_eq!(masked_hint("short"), "••••");
        assert_eq!(masked_hint("elevenchars"), "••••");
        assert_eq!(masked_hint("twelve-chars"), "••••hars");
        assert_eq!(masked_hint("ééééééééééééé"), "••••éééé", "characters, not bytes");
    }
}
