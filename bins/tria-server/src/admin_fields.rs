//! What the admin API's bodies may hold, written once: the limits and checks `admin.rs` validates
//! with, and the field schemas its bodies' `ToSchema` derives take from them.
//!
//! The schemas are functions (`#[schema(schema_with = …)]`) because utoipa's `max_length` and
//! `pattern` attributes take literals only.

use tria_core::constraints::NAME_PATTERN;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Ref, Schema, Type};

use crate::ApiError;

/// The longest tenant name, in characters, trimmed.
pub(crate) const TENANT_NAME_MAX_CHARS: usize = 200;

/// The longest slug (ASCII, so bytes are characters).
pub(crate) const SLUG_MAX_LEN: usize = 64;

/// The longest API key label, in characters.
pub(crate) const KEY_LABEL_MAX_CHARS: usize = 200;

/// The longest cache invalidation glob, in characters (not UTF-8 bytes: the document's
/// `maxLength` counts characters, and 200 accented letters are a valid pattern).
pub(crate) const CACHE_PATTERN_MAX_CHARS: usize = 256;

/// A currency: a three-letter ISO 4217 code ([`valid_currency`]).
pub(crate) const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";

/// Slugs appear in URLs and cache keys: lowercase letters, digits and dashes, not starting with a
/// dash, at most [`SLUG_MAX_LEN`].
pub(crate) fn valid_slug(slug: &str) -> bool {
    (1..=SLUG_MAX_LEN).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

/// [`valid_slug`] as an ECMA-262 pattern, for the document.
pub(crate) fn slug_pattern() -> String {
    format!("^[a-z0-9][a-z0-9-]{{0,{}}}$", SLUG_MAX_LEN - 1)
}

/// What [`CURRENCY_PATTERN`] says.
pub(crate) fn valid_currency(currency: &str) -> bool {
    currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())
}

/// A tenant name's length, trimmed: 1 to [`TENANT_NAME_MAX_CHARS`] characters.
pub(crate) fn check_name_length(name: &str) -> Result<(), ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > TENANT_NAME_MAX_CHARS {
        return Err(ApiError::bad_request(format!("`name` must be 1 to {TENANT_NAME_MAX_CHARS} characters")));
    }
    Ok(())
}

// ----- field schemas -------------------------------------------------------------------------

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn or_null(schema: impl Into<RefOr<Schema>>) -> AnyOfBuilder {
    AnyOfBuilder::new().item(schema).item(ObjectBuilder::new().schema_type(Type::Null))
}

/// A tenant's name ([`TENANT_NAME_MAX_CHARS`]).
pub(crate) fn tenant_name() -> Schema {
    string().max_length(Some(TENANT_NAME_MAX_CHARS)).pattern(Some(NAME_PATTERN)).into()
}

/// A tenant's new name, or none to keep it.
pub(crate) fn new_tenant_name() -> Schema {
    or_null(tenant_name()).into()
}

/// A tenant's slug ([`valid_slug`]).
pub(crate) fn slug() -> Schema {
    string().pattern(Some(slug_pattern())).into()
}

/// A tenant's currency.
pub(crate) fn currency() -> Schema {
    or_null(string().pattern(Some(CURRENCY_PATTERN))).into()
}

/// A tenant's tone (tria-core's `Tone`).
pub(crate) fn tone() -> Schema {
    or_null(Ref::from_schema_name("Tone")).into()
}

/// A new tenant's settings (`Settings`, hand-written in `api_schemas`).
pub(crate) fn new_settings() -> Schema {
    or_null(Ref::from_schema_name("Settings")).description(Some("Tenant settings: the keys the server reads (`rate_limit`, `budget`, the order rules, `support_*`, `prompt_set`) have the types and ranges described, any other key is free-form. Strings (keys included) may hold line breaks and tabs but no other control character.")).into()
}

/// A tenant update's settings: a merge patch of `Settings`.
pub(crate) fn settings_patch() -> Schema {
    or_null(Ref::from_schema_name("Settings")).description(Some("A JSON merge patch (RFC 7386) of the settings. Strings (keys included) may hold line breaks and tabs but no other control character.")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's patterns say what the checks do (ECMA-262 reads these ASCII classes as
    /// Rust's `regex` does), on every short ASCII string and at the length limits.
    #[test]
    fn the_slug_and_currency_patterns_are_the_checks() {
        let slug = regex::Regex::new(&slug_pattern()).expect("valid");
        let currency = regex::Regex::new(CURRENCY_PATTERN).expect("valid");
        let ascii: Vec<char> = (0u8..128).map(char::from).collect();
        let mut samples = vec![String::new()];
        for a in &ascii {
            samples.push(a.to_string());
            for b in &ascii {
                samples.push(format!("{a}{b}"));
                samples.push(format!("{a}{b}A"));
                samples.push(format!("a{a}{b}"));
            }
        }
        for n in [SLUG_MAX_LEN - 1, SLUG_MAX_LEN, SLUG_MAX_LEN + 1] {
            samples.push("a".repeat(n));
            samples.push(format!("-{}", "a".repeat(n - 1)));
        }
        samples.extend(["ABCD".into(), "USD\n".into(), "ÉUR".into(), "é".into()]);
        for sample in &samples {
            assert_eq!(slug.is_match(sample), valid_slug(sample), "slug {sample:?}");
            assert_eq!(currency.is_match(sample), valid_currency(sample), "currency {sample:?}");
        }
    }
}
