//! What a tenant's `settings` may hold: every key the code reads, with its type and range, checked
//! on the settings as they will be stored (after a PATCH's merge) and described in the OpenAPI
//! document from the same table. Keys the code does not read stay free-form.

use serde_json::{Map, Value, json};

use crate::ApiError;
use tria_admission::ratelimit::{MAX_BURST, MAX_PER_SECOND, MIN_PER_SECOND};

/// The largest amount of money in minor units a setting may hold (10^15: ten trillion dollars).
const MAX_MINOR: i64 = 1_000_000_000_000_000;
/// The largest token budget.
const MAX_TOKENS: i64 = 1_000_000_000_000_000;
/// The largest dollar budget.
const MAX_USD: f64 = 1e9;

/// The kinds of value a known setting takes. `null` is accepted for each (a merge patch removes
/// the key with it; every reader treats it as absent).
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Requests per second: 0 (no limit) or a number from [`MIN_PER_SECOND`] to [`MAX_PER_SECOND`].
    Rate,
    /// A whole number in the range; a whole number written as a float (`3.0`) is stored as `3`.
    Int {
        min: i64,
        max: i64,
        note: &'static str,
    },
    /// A number in the range.
    Number {
        min: f64,
        max: f64,
        note: &'static str,
    },
    Bool,
    /// Text of at most this many characters (line breaks and tabs allowed).
    Text {
        max_chars: usize,
    },
    /// One e-mail address.
    Email,
    /// A short single-line text (a phone number).
    Label {
        max_chars: usize,
    },
    /// The name of a loaded prompt set.
    PromptSet,
    /// An `https://` URL, or `http://` to a loopback host (see [`is_service_url`]).
    ServiceUrl,
    /// A Slack id (workspace `T…`, channel `C…`): capital letters and digits.
    SlackId,
    /// An object with these known keys (others free-form).
    Object(&'static [(&'static str, Kind)]),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A list of at most `max` objects with these known keys.
    List {
        max: usize,
        item: &'static [(&'static str, Kind)],
    },
}

const RATE_LIMIT: &[(&str, Kind)] = &[
    ("per_second", Kind::Rate),
    ("burst", Kind::Int { min: 1, max: MAX_BURST as i64, note: "" }),
    ("customer_per_second", Kind::Rate),
    ("customer_burst", Kind::Int { min: 1, max: MAX_BURST as i64, note: "" }),
];

const BUDGET: &[(&str, Kind)] = &[
    ("tokens_per_hour", Kind::Int { min: 0, max: MAX_TOKENS, note: " (0 turns it off)" }),
    ("usd_per_hour", Kind::Number { min: 0.0, max: MAX_USD, note: " (0 turns it off)" }),
    ("tokens_per_month", Kind::Int { min: 0, max: MAX_TOKENS, note: " (0 turns it off)" }),
    ("usd_per_month", Kind::Number { min: 0.0, max: MAX_USD, note: " (0 turns it off)" }),
];

/// `settings.invoicing`, read by `tria_integrations::tenant_invoicing` (the invoice worker and
/// the order flow's replies).
const INVOICING: &[(&str, Kind)] = &[
    ("account_code", Kind::Label { max_chars: tria_integrations::tenant_invoicing::MAX_ACCOUNT_CODE_CHARS }),
    ("email_invoices", Kind::Bool),
    (
        "payment_terms_days",
        Kind::Int {
            min: 0,
            max: tria_integrations::tenant_invoicing::MAX_PAYMENT_TERMS_DAYS as i64,
            note: " (days from the order to the invoice's due date)",
        },
    ),
];

/// `settings.gorgias`: the tenant's own helpdesk (with its secret `gorgias_api_key`), read by
/// `tenant_integrations`.
const GORGIAS: &[(&str, Kind)] = &[("base_url", Kind::ServiceUrl), ("username", Kind::Label { max_chars: 254 })];

/// `settings.slack`: the workspace and channel whose Slack events are the tenant's
/// (`tria_console::slack`).
const SLACK: &[(&str, Kind)] = &[("team_id", Kind::SlackId), ("channel_id", Kind::SlackId)];

/// The providers a tenant's LLM may speak (`tria_llm::Provider`).
const LLM_PROVIDERS: &[&str] = &["openai", "anthropic", "azure"];
/// Most entries of `settings.llm.failover` (one secret `llm_failover_{n}_api_key` each).
pub(crate) const MAX_LLM_FAILOVER: usize = 2;

/// One provider of a tenant: `provider` (default `openai`), its endpoint and model, and for
/// Azure its deployment (default: the model) and `api_version`.
const LLM_ENDPOINT: &[(&str, Kind)] = &[
    ("provider", Kind::OneOf(LLM_PROVIDERS)),
    ("base_url", Kind::ServiceUrl),
    ("model", Kind::Label { max_chars: 200 }),
    ("deployment", Kind::Label { max_chars: 200 }),
    ("api_version", Kind::Label { max_chars: 40 }),
];

/// `settings.llm`: the tenant's own provider (with its secret `llm_api_key`) and its failover
/// list (each entry with its own `llm_failover_{n}_api_key`), read by `tenant_integrations`;
/// its monthly spend limit is `budget.usd_per_month`.
const LLM: &[(&str, Kind)] = &[
    ("provider", Kind::OneOf(LLM_PROVIDERS)),
    ("base_url", Kind::ServiceUrl),
    ("model", Kind::Label { max_chars: 200 }),
    ("deployment", Kind::Label { max_chars: 200 }),
    ("api_version", Kind::Label { max_chars: 40 }),
    ("failover", Kind::List { max: MAX_LLM_FAILOVER, item: LLM_ENDPOINT }),
];

/// `settings.retention`: how long the tenant's data is kept, read by the retention job
/// (`tria_store::retention`); `null` or absent leaves the deployment's `[retention]` default.
const RETENTION: &[(&str, Kind)] = &[
    (
        "transcripts_days",
        Kind::Int { min: 1, max: 3650, note: " (days after a conversation's last activity; null: the deployment's default)" },
    ),
    (
        "escalations_days",
        Kind::Int { min: 1, max: 3650, note: " (days after an escalation's last change; null: the deployment's default)" },
    ),
    ("audit_days", Kind::Int { min: 1, max: 3650, note: " (days an audit entry is kept; null: the deployment's default)" }),
];

/// Every key of a tenant's settings the code reads (`ratelimit.rs`, `budget.rs`,
/// `tria_agent::orders::rules`, `generation.rs`, `helpdesk.rs`, the responder and hand-off).
const SETTINGS: &[(&str, Kind)] = &[
    ("rate_limit", Kind::Object(RATE_LIMIT)),
    ("budget", Kind::Object(BUDGET)),
    ("order_approval_threshold_minor", Kind::Int { min: 0, max: MAX_MINOR, note: "" }),
    ("max_quantity_per_line", Kind::Int { min: 0, max: 1_000_000, note: " (0 means the default)" }),
    ("max_lines_per_order", Kind::Int { min: 0, max: 1_000, note: " (0 means the default)" }),
    ("max_units_per_order", Kind::Int { min: 0, max: 100_000_000, note: " (0 means the default)" }),
    ("free_shipping_threshold_minor", Kind::Int { min: 0, max: MAX_MINOR, note: "" }),
    ("support_hours", Kind::Text { max_chars: 200 }),
    ("support_email", Kind::Email),
    ("support_phone", Kind::Label { max_chars: 50 }),
    ("cancel_invoiced_orders", Kind::Bool),
    ("prompt_set", Kind::PromptSet),
    ("gorgias", Kind::Object(GORGIAS)),
    ("slack", Kind::Object(SLACK)),
    ("llm", Kind::Object(LLM)),
    ("invoicing", Kind::Object(INVOICING)),
    ("retention", Kind::Object(RETENTION)),
];

fn refuse(path: &str, expected: &str) -> ApiError {
    ApiError::new(http::StatusCode::UNPROCESSABLE_ENTITY, tria_core::ErrorCode::InvalidField, format!("{path} must be {expected}"))
}

/// Checks `settings` (the whole object as it would be stored) and normalises whole numbers
/// written as floats. `prompt_sets`: the sets `prompt_set` may name.
pub(crate) fn check(settings: &mut Value, prompt_sets: &[String]) -> Result<(), ApiError> {
    let Value::Object(map) = settings else { return Err(refuse("settings", "a JSON object")) };
    check_object("settings", map, SETTINGS, prompt_sets)
}

fn check_object(path: &str, map: &mut Map<String, Value>, known: &[(&str, Kind)], prompt_sets: &[String]) -> Result<(), ApiError> {
    for (key, kind) in known {
        if let Some(value) = map.get_mut(*key) {
            check_value(&format!("{path}.{key}"), value, *kind, prompt_sets)?;
        }
    }
    Ok(())
}

fn check_value(path: &str, value: &mut Value, kind: Kind, prompt_sets: &[String]) -> Result<(), ApiError> {
    if value.is_null() {
        return Ok(());
    }
    match kind {
        Kind::Rate => match value.as_f64() {
            Some(rate) if rate == 0.0 || (MIN_PER_SECOND..=MAX_PER_SECOND).contains(&rate) => Ok(()),
            _ => Err(refuse(path, &format!("0 (no limit) or a number from {MIN_PER_SECOND} to {MAX_PER_SECOND}"))),
        },
        Kind::Int { min, max, note } => match whole_number(value).filter(|n| (min..=max).contains(n)) {
            Some(n) => {
                *value = Value::from(n);
                Ok(())
            }
            None => Err(refuse(path, &format!("a whole number from {min} to {max}{note}"))),
        },
        Kind::Number { min, max, note } => match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(refuse(path, &format!("a number from {min} to {max}{note}"))),
        },
        Kind::Bool if value.is_boolean() => Ok(()),
        Kind::Bool => Err(refuse(path, "true or false")),
        Kind::Text { max_chars } => match value.as_str() {
            Some(text) if text.chars().count() <= max_chars => Ok(()),
            _ => Err(refuse(path, &format!("text of at most {max_chars} characters"))),
        },
        Kind::Label { max_chars } => match value.as_str() {
            Some(text) if text.chars().count() <= max_chars && !text.chars().any(char::is_control) => Ok(()),
            _ => Err(refuse(path, &format!("one line of text of at most {max_chars} characters"))),
        },
        Kind::Email => match value.as_str() {
            Some(text) if is_email(text) => Ok(()),
            _ => Err(refuse(path, "an e-mail address (name@domain, at most 254 characters)")),
        },
        Kind::PromptSet => match value.as_str() {
            Some(name) if prompt_sets.iter().any(|set| set == name) => Ok(()),
            _ => Err(refuse(path, &format!("the name of a prompt set this server has loaded ({})", prompt_sets.join(", ")))),
        },
        Kind::ServiceUrl => match value.as_str() {
            Some(text) if is_service_url(text) => Ok(()),
            _ => Err(refuse(path, "an https:// URL (http:// only to 127.0.0.1 or localhost), without user, password, query or fragment")),
        },
        Kind::SlackId => match value.as_str() {
            Some(text) if is_slack_id(text) => Ok(()),
            _ => Err(refuse(path, "a Slack id: 1 to 32 capital letters and digits (e.g. T0123ABCD)")),
        },
        Kind::Object(known) => match value {
            Value::Object(map) => check_object(path, map, known, prompt_sets),
            _ => Err(refuse(path, "a JSON object")),
        },
        Kind::OneOf(words) => match value.as_str() {
            Some(word) if words.contains(&word) => Ok(()),
            _ => Err(refuse(path, &format!("one of {}", words.join(", ")))),
        },
        Kind::List { max, item } => match value {
            Value::Array(items) if items.len() <= max => {
                for (i, entry) in items.iter_mut().enumerate() {
                    match entry {
                        Value::Object(map) => check_object(&format!("{path}[{i}]"), map, item, prompt_sets)?,
                        _ => return Err(refuse(&format!("{path}[{i}]"), "a JSON object")),
                    }
                }
                Ok(())
            }
            _ => Err(refuse(path, &format!("a list of at most {max} objects"))),
        },
    }
}

/// An integer, or a float with no fractional part inside the i64 range.
fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15).map(|f| f as i64))
}

/// `local@domain`: one `@`, both sides non-empty, no spaces or control characters (what
/// [`EMAIL_PATTERN`] says).
fn is_email(text: &str) -> bool {
    text.chars().count() <= 254
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !text.chars().any(|c| c == ' ' || c.is_control())
        })
}

/// An endpoint a tenant's key is sent to: `https://`, or `http://` to a loopback host (a local
/// fake or sidecar), so the key never crosses a network in the clear; no user, password, query
/// or fragment (the URL is shown in `/admin/integrations`).
fn is_service_url(text: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(text) else { return false };
    let host = url.host_str().unwrap_or_default();
    text.len() <= MAX_URL_CHARS
        && !host.is_empty()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && (url.scheme() == "https" || (url.scheme() == "http" && matches!(host, "127.0.0.1" | "localhost")))
}

fn is_slack_id(text: &str) -> bool {
    (1..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

const MAX_URL_CHARS: usize = 2048;
/// What [`is_service_url`] accepts, narrowed to what any URL parser reads the same way (a host
/// whose last label is letters, so it is never read as an IPv4 number).
const SERVICE_URL_PATTERN: &str =
    r"^(https://(([a-z0-9]+-)*[a-z0-9]+\.)*[a-z]+|http://(127\.0\.0\.1|localhost))(:[0-9]{1,4})?(/[A-Za-z0-9_~-]+)*/?$";
const SLACK_ID_PATTERN: &str = r"^[A-Z0-9]{1,32}$";

const EMAIL_PATTERN: &str = r"^[^@ \x00-\x1f\x7f-\x9f]+@[^@ \x00-\x1f\x7f-\x9f]+$";
/// Prose: line breaks and tabs, no other control character (as `text_input::multi_line`).
const PROSE_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";
const LABEL_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// The OpenAPI `properties` of the known keys, for the `Settings` schema: what [`check`]
/// accepts, so generated clients and schemathesis agree with the server. `prompt_set` lists the
/// built-in set; a server with more sets in `config/prompts` accepts those too.
pub(crate) fn schema_properties() -> Value {
    properties(SETTINGS)
}

fn properties(known: &[(&str, Kind)]) -> Value {
    Value::Object(known.iter().map(|(key, kind)| ((*key).to_owned(), schema(*kind))).collect())
}

fn object_schema(known: &[(&str, Kind)]) -> Value {
    json!({
        "type": "object",
        "propertyNames": { "pattern": PROSE_PATTERN },
        "properties": properties(known),
        "additionalProperties": { "$ref": "#/components/schemas/SettingValue" },
    })
}

fn schema(kind: Kind) -> Value {
    let value = match kind {
        Kind::Rate => json!({
            "description": "Requests per second; 0 turns the limit off.",
            "anyOf": [{ "type": "number", "enum": [0] }, { "type": "number", "minimum": MIN_PER_SECOND, "maximum": MAX_PER_SECOND }],
        }),
        Kind::Int { min, max, note } => {
            json!({ "type": "integer", "minimum": min, "maximum": max, "description": format!("A whole number{note}.") })
        }
        Kind::Number { min, max, note } => {
            json!({ "type": "number", "minimum": min, "maximum": max, "description": format!("A number{note}.") })
        }
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Text { max_chars } => json!({ "type": "string", "maxLength": max_chars, "pattern": PROSE_PATTERN }),
        Kind::Label { max_chars } => json!({ "type": "string", "maxLength": max_chars, "pattern": LABEL_PATTERN }),
        Kind::Email => json!({ "type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN }),
        Kind::PromptSet => json!({
            "type": "string",
            "enum": [tria_llm::prompt::DEFAULT_SET],
            "description": "A loaded prompt set: the built-in `default`, or a set under config/prompts on this server.",
        }),
        Kind::ServiceUrl => json!({
            "type": "string",
            "maxLength": MAX_URL_CHARS,
            "pattern": SERVICE_URL_PATTERN,
            "description": "An https:// URL (http:// only to 127.0.0.1 or localhost); the tenant's key is sent to it.",
        }),
        Kind::SlackId => json!({ "type": "string", "maxLength": 32, "pattern": SLACK_ID_PATTERN }),
        Kind::Object(known) => object_schema(known),
        Kind::OneOf(words) => json!({ "type": "string", "enum": words }),
        Kind::List { max, item } => json!({ "type": "array", "maxItems": max, "items": object_schema(item) }),
    };
    json!({ "anyOf": [value, { "type": "null" }] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets() -> Vec<String> {
        vec!["default".to_owned()]
    }

    #[test]
    fn messages_name_the_field_and_what_it_must_be() {
        let err = check(&mut json!({ "rate_limit": { "per_second": 1e-30 } }), &sets()).expect_err("too slow");
        assert_eq!(err.status, http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.message, "settings.rate_limit.per_second must be 0 (no limit) or a number from 0.000001 to 1000000");
        let err = check(&mut json!({ "rate_limit": { "burst": 1.5 } }), &sets()).expect_err("fraction");
        assert_eq!(err.message, "settings.rate_limit.burst must be a whole number from 1 to 1000000");
        let err = check(&mut json!({ "prompt_set": "x" }), &sets()).expect_err("unknown set");
        assert_eq!(err.message, "settings.prompt_set must be the name of a prompt set this server has loaded (default)");
    }

    #[test]
    fn invoicing_settings_are_checked() {
        let mut good = json!({ "invoicing": { "account_code": "4100", "email_invoices": true, "payment_terms_days": 14.0 } });
        check(&mut good, &sets()).expect("valid");
        assert!(good["invoicing"]["payment_terms_days"].is_i64(), "{good}");
        let err = check(&mut json!({ "invoicing": { "account_code": "12345678901" } }), &sets()).expect_err("too long");
        assert_eq!(err.message, "settings.invoicing.account_code must be one line of text of at most 10 characters");
        let err = check(&mut json!({ "invoicing": { "email_invoices": "yes" } }), &sets()).expect_err("not a bool");
        assert_eq!(err.message, "settings.invoicing.email_invoices must be true or false");
        let err = check(&mut json!({ "invoicing": { "payment_terms_days": 400 } }), &sets()).expect_err("too long a term");
        assert_eq!(
            err.message,
            "settings.invoicing.payment_terms_days must be a whole number from 0 to 365 (days from the order to the invoice's due date)"
        );
        let err = check(&mut json!({ "invoicing": true }), &sets()).expect_err("not an object");
        assert_eq!(err.message, "settings.invoicing must be a JSON object");
    }

    #[test]
    fn integration_endpoints_must_be_https_or_loopback_and_slack_ids_are_checked() {
        let mut good = json!({
            "gorgias": { "base_url": "https://acme.gorgias.com/api", "username": "bot@acme.example" },
            "slack": { "team_id": "T0123ABCD", "channel_id": "C42" },
            "llm": { "base_url": "http://127.0.0.1:8090/v1", "model": "gpt-4o-mini" },
        });
        check(&mut good, &sets()).expect("valid");
        for bad in
            ["http://acme.gorgias.com/api", "https://user:pw@acme.gorgias.com", "https://acme.gorgias.com/?k=1", "ftp://x.y", "acme", ""]
        {
            let err = check(&mut json!({ "gorgias": { "base_url": bad } }), &sets()).expect_err(bad);
            assert!(err.message.starts_with("settings.gorgias.base_url must be an https:// URL"), "{bad}: {}", err.message);
        }
        let err = check(&mut json!({ "llm": { "base_url": "http://10.0.0.5/v1" } }), &sets()).expect_err("plain http off loopback");
        assert!(err.message.starts_with("settings.llm.base_url must be"), "{}", err.message);
        let err = check(&mut json!({ "slack": { "team_id": "t-123" } }), &sets()).expect_err("not a Slack id");
        assert_eq!(err.message, "settings.slack.team_id must be a Slack id: 1 to 32 capital letters and digits (e.g. T0123ABCD)");
        let pattern = regex::Regex::new(SERVICE_URL_PATTERN).expect("pattern");
        for url in ["https://acme.gorgias.com/api", "https://api.openai.com/v1", "http://127.0.0.1:8090/v1", "http://localhost/"] {
            assert!(pattern.is_match(url) && is_service_url(url), "{url}");
        }
        for url in ["http://acme.gorgias.com", "https://1.2.3.4", "https://a.b/?q"] {
            assert!(!pattern.is_match(url), "{url}");
        }
    }

    #[test]
    fn a_tenant_llm_names_a_known_provider_and_at_most_two_failover_entries() {
        let mut good = json!({ "llm": {
            "provider": "anthropic", "model": "claude-3-5-haiku-latest",
            "failover": [{ "provider": "azure", "base_url": "https://acme.openai.azure.com", "deployment": "chat", "api_version": "2024-10-21" }],
        } });
        check(&mut good, &sets()).expect("valid");
        let err = check(&mut json!({ "llm": { "provider": "bedrock" } }), &sets()).expect_err("unknown provider");
        assert_eq!(err.status, http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.message, "settings.llm.provider must be one of openai, anthropic, azure");
        let err = check(&mut json!({ "llm": { "failover": [{ "base_url": "http://10.0.0.5/v1" }] } }), &sets()).expect_err("plain http");
        assert!(err.message.starts_with("settings.llm.failover[0].base_url must be an https:// URL"), "{}", err.message);
        let err = check(&mut json!({ "llm": { "failover": [{}, {}, {}] } }), &sets()).expect_err("too many");
        assert_eq!(err.message, "settings.llm.failover must be a list of at most 2 objects");
        let err = check(&mut json!({ "llm": { "failover": ["openai"] } }), &sets()).expect_err("not an object");
        assert_eq!(err.message, "settings.llm.failover[0] must be a JSON object");
    }

    #[test]
    fn whole_numbers_written_as_floats_are_stored_as_integers_and_unknown_keys_pass() {
        let mut settings = json!({ "budget": { "tokens_per_hour": 1000.0 }, "x": { "y": [1, "z"] }, "support_email": null });
        check(&mut settings, &sets()).expect("valid");
        assert!(settings["budget"]["tokens_per_hour"].is_i64(), "{settings}");
        assert!(is_email("care@example.com") && !is_email("a@b@c") && !is_email("@b") && !is_email("a b@c") && !is_email("a@"));
    }
}
