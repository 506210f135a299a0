//! Reading and merging the layers into one TOML table, then parsing and validating it.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::{ConfigError, RawSettings, Settings};

/// The profile that applies when neither `--profile` nor `TRIA_PROFILE` names one.
pub const DEFAULT_PROFILE: &str = "dev";

/// Copies of `config/*.toml` built into the binary, so Tria runs with no files beside it.
/// A file of the same name in the config directory takes their place.
const EMBEDDED: &[(&str, &str)] = &[
    ("default", include_str!("../../../config/default.toml")),
    ("dev", include_str!("../../../config/dev.toml")),
    ("test", include_str!("../../../config/test.toml")),
    ("production", include_str!("../../../config/production.toml")),
];

/// Environment names kept stable for users, mapped to their keys. Any other setting is
/// reachable as `TRIA_<SECTION>__<KEY>` (double underscore between levels).
const ENV_ALIASES: &[(&str, &str)] = &[
    ("TRIA_LISTEN", "listen"),
    ("TRIA_DATA_DIR", "data_dir"),
    ("TRIA_FIXTURES_DIR", "fixtures_dir"),
    ("TRIA_MODELS_DIR", "models_dir"),
    ("TRIA_DATABASE_URL", "database.url"),
    ("TRIA_REDIS_URL", "cache.redis_url"),
    ("TRIA_LOG", "server.log_filter"),
    ("TRIA_LOG_FORMAT", "server.log_format"),
    ("TRIA_LLM_PROVIDER", "llm.provider"),
    ("TRIA_LLM_BASE_URL", "llm.base_url"),
    ("TRIA_LLM_MODEL", "llm.model"),
    ("TRIA_LLM_API_KEY", "llm.api_key"),
];

/// Everything configuration is read from. Build it from the process in a binary; build it by
/// hand in tests.
#[derive(Clone, Debug, Default)]
pub struct ConfigSources {
    /// Directory holding `default.toml` and `{profile}.toml`; embedded copies fill gaps.
    pub config_dir: Option<PathBuf>,
    /// `--profile`; wins over `TRIA_PROFILE` in `env`.
    pub profile: Option<String>,
    /// `--config FILE`, applied after the profile file.
    pub config_file: Option<PathBuf>,
    /// Environment variables (only `TRIA_*` ones are read).
    pub env: Vec<(String, String)>,
    /// CLI flags as dotted keys, e.g. `("listen", "0.0.0.0:9000")`.
    pub cli: Vec<(String, String)>,
}

impl ConfigSources {
    /// The process's own environment, for binaries.
    pub fn with_process_env(mut self) -> Self {
        self.env = std::env::vars().filter(|(k, _)| k.starts_with("TRIA_")).collect();
        self
    }

    fn env_value(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Loads, merges, parses and validates every layer.
pub fn load(sources: &ConfigSources) -> Result<Settings, ConfigError> {
    let profile = sources
        .profile
        .clone()
        .or_else(|| sources.env_value("TRIA_PROFILE").map(str::to_owned))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    if !profile.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ConfigError::invalid("profile", format!("`{profile}` is not a profile name")));
    }

    let mut merged = read_layer(sources.config_dir.as_deref(), "default")?.ok_or_else(|| ConfigError::UnknownProfile("default".into()))?;
    let profile_table = read_layer(sources.config_dir.as_deref(), &profile)?.ok_or_else(|| ConfigError::UnknownProfile(profile.clone()))?;
    merge(&mut merged, profile_table);
    if let Some(path) = &sources.config_file {
        merge(&mut merged, read_file(path)?);
    }
    for (name, value) in &sources.env {
        if let Some(key) = env_key(name) {
            set_dotted(&mut merged, &key, scalar_from_text(value), name)?;
        }
    }
    for (key, value) in &sources.cli {
        set_dotted(&mut merged, key, Value::String(value.clone()), key)?;
    }

    let raw: RawSettings = serde_path_to_error::deserialize(Value::Table(merged)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::invalid(key, e.into_inner().to_string())
    })?;
    Settings::validate(profile, raw)
}

fn read_layer(dir: Option<&Path>, name: &str) -> Result<Option<Table>, ConfigError> {
    if let Some(dir) = dir {
        let path = dir.join(format!("{name}.toml"));
        if path.is_file() {
            return read_file(&path).map(Some);
        }
    }
    match EMBEDDED.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => parse_table(&format!("<embedded>/{n}.toml"), text).map(Some),
        None => Ok(None),
    }
}

fn read_file(path: &Path) -> Result<Table, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
    parse_table(&shown, &text)
}

fn parse_table(path: &str, text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.message().to_owned() })
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_t)), Value::Table(over_t)) => merge(base_t, over_t),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn env_key(name: &str) -> Option<String> {
    if let Some((_, key)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
        return Some((*key).to_owned());
    }
    let rest = name.strip_prefix("TRIA_")?;
    rest.contains("__").then(|| rest.to_ascii_lowercase().replace("__", "."))
}

/// Environment values are text; numbers and booleans are recognised so numeric keys can be set.
fn scalar_from_text(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::Integer(n);
    }
    match text {
        "true" => Value::Boolean(true),
        "false" => Value::Boolean(false),
        _ => Value::String(text.to_owned()),
    }
}

fn set_dotted(root: &mut Table, key: &str, value: Value, source: &str) -> Result<(), ConfigError> {
    let mut parts = key.split('.').peekable();
    let mut table = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            // A string where the file has a number is the env layer's text: retype it so the
            // error, if any, names the key rather than the type.
            let value = match (table.get(part), value) {
                (Some(Value::String(_)), Value::Integer(n)) => Value::String(n.to_string()),
                (Some(Value::String(_)), Value::Boolean(b)) => Value::String(b.to_string()),
                (Some(Value::Integer(_)), Value::String(s)) => match s.parse::<i64>() {
                    Ok(n) => Value::Integer(n),
                    // A float over a whole number (a price `1` set to `0.8`); an integer key
                    // then refuses it by name when parsed.
                    Err(_) if s.parse::<f64>().is_ok_and(f64::is_finite) => Value::String(s),
                    Err(_) => {
                        return Err(ConfigError::invalid(key, format!("`{s}` is not a number")));
                    }
                },
                (_, value) => value,
            };
            table.insert(part.to_owned(), value);
            return Ok(());
        }
        let entry = table.entry(part.to_owned()).or_insert_with(|| Value::Table(Table::new()));
        table = match entry {
            Value::Table(t) => t,
            _ => return Err(ConfigError::invalid(key, format!("{source} names a value, not a section"))),
        };
    }
    Err(ConfigError::invalid(key, "empty key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> ConfigSources {
        ConfigSources::default()
    }

    #[test]
    fn integrations_are_off_by_default_and_validated_when_on() {
        let settings = load(&sources()).expect("valid");
        assert!(settings.integrations.xero.is_none() && settings.integrations.gorgias.is_none());
        assert!(settings.integrations.slack.signing_secret.is_none());
        let env = |pairs: &[(&str, &str)]| ConfigSources {
            env: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..ConfigSources::default()
        };
        let fake = load(&env(&[("TRIA_INTEGRATIONS__XERO__ENABLED", "true"), ("TRIA_INTEGRATIONS__XERO__FAKE", "true")])).expect("valid");
        assert_eq!(fake.integrations.xero.map(|x| x.target), Some(crate::XeroTarget::Fake));
        let err = load(&env(&[("TRIA_INTEGRATIONS__XERO__ENABLED", "true")])).expect_err("credentials are required");
        assert!(err.to_string().contains("integrations.xero.client_id"), "{err}");
        let err = load(&env(&[("TRIA_INTEGRATIONS__SLACK__SIGNING_SECRET", "s3cret")])).expect_err("a tenant is required");
        assert!(err.to_string().contains("integrations.slack.tenant"), "{err}");
    }

    #[test]
    fn no_profile_means_dev_with_embedded_defaults() {
        let settings = load(&sources()).expect("embedded defaults are valid");
        assert_eq!(settings.profile, "dev");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(settings.database.url.starts_with("sqlite://"), "{}", settings.database.url);
        assert!(settings.cache.redis_url.is_none());
        assert!(settings.seed.demo_on_empty);
        assert!(settings.seed.demo_keys.contains_key("northwind"));
    }

    #[test]
    fn precedence_is_default_then_profile_then_file_then_env_then_cli() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("extra.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:7001\"\n[server]\nbody_limit_bytes = 10000\n").expect("write");
        let mut src = sources();
        src.config_file = Some(file);
        let s = load(&src).expect("valid");
        assert_eq!(s.listen.port(), 7001);
        assert_eq!(s.server.body_limit_bytes, 10000);

        src.env = vec![
            ("TRIA_LISTEN".into(), "127.0.0.1:7002".into()),
            ("TRIA_SERVER__BODY_LIMIT_BYTES".into(), "20000".into()),
            ("TRIA_TEST_POSTGRES_URL".into(), "ignored: not a setting".into()),
        ];
        let s = load(&src).expect("valid");
        assert_eq!(s.listen.port(), 7002);
        assert_eq!(s.server.body_limit_bytes, 20000);

        src.cli = vec![("listen".into(), "127.0.0.1:7003".into())];
        assert_eq!(load(&src).expect("valid").listen.port(), 7003);
    }

    #[test]
    fn profile_flag_beats_env_and_production_has_no_demo_data() {
        let mut src = sources();
        src.env = vec![("TRIA_PROFILE".into(), "dev".into())];
        src.profile = Some("production".into());
        let s = load(&src).expect("valid");
        assert_eq!(s.profile, "production");
        assert!(!s.seed.demo_on_empty);
        assert!(!s.seed.log_demo_keys);
        assert_eq!(s.server.log_format, crate::LogFormat::Json);
        assert!(s.embedding_required, "production must not take traffic without the embedding model");
        src.env.push(("TRIA_EMBEDDING__REQUIRED".into(), "false".into()));
        assert!(!load(&src).expect("valid").embedding_required, "an explicit opt-out wins");
        assert!(!load(&sources()).expect("valid").embedding_required, "dev serves degraded");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("TRIA_LISTEN", "not-an-address", "listen"),
            ("TRIA_DATABASE__MAX_CONNECTIONS", "0", "database.max_connections"),
            ("TRIA_DATABASE__MAX_CONNECTIONS", "many", "database.max_connections"),
            ("TRIA_DATABASE_URL", "mysql://x", "database.url"),
            ("TRIA_REDIS_URL", "http://x", "cache.redis_url"),
            ("TRIA_SERVER__NO_SUCH_KEY", "1", "server"),
            ("TRIA_LOG_FORMAT", "xml", "server.log_format"),
        ];
        for (name, value, key) in cases {
            let mut src = sources();
            src.env = vec![((*name).into(), (*value).into())];
            let err = load(&src).expect_err(name).to_string();
            assert!(err.contains(key), "{name}={value}: `{err}` should name `{key}`");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn cache_levels_ttls_and_threshold_come_from_config_and_env() {
        let s = load(&sources()).expect("valid");
        assert!(s.cache.l1_enabled && s.cache.l2_enabled && s.cache.l3_enabled && s.cache.l4_enabled);
        assert_eq!(s.cache.l2_ttl, std::time::Duration::from_secs(1800));
        assert_eq!(s.cache.redis_timeout, std::time::Duration::from_millis(50));
        let mut src = sources();
        src.env = vec![
            ("TRIA_CACHE__L3_THRESHOLD".into(), "0.85".into()),
            ("TRIA_CACHE__L1_ENABLED".into(), "false".into()),
            ("TRIA_CACHE__PRICE_PER_1K_TOKENS".into(), "0.01".into()),
        ];
        let s = load(&src).expect("valid");
        assert!((s.cache.l3_threshold - 0.85).abs() < 1e-6);
        assert!(!s.cache.l1_enabled);
        assert!((s.cache.price_per_1k_tokens - 0.01).abs() < 1e-9);
        src.env = vec![("TRIA_CACHE__L3_THRESHOLD".into(), "1.5".into())];
        assert!(load(&src).expect_err("out of range").to_string().contains("cache.l3_threshold"));
    }

    #[test]
    fn l3_evidence_settings_are_read_and_validated() {
        let s = load(&sources()).expect("valid");
        assert!(s.cache.l3_evidence_threshold > 0.0 && s.cache.l3_evidence_threshold <= s.cache.l3_threshold);
        assert!((0.0..=1.0).contains(&s.cache.l3_evidence_agreement));
        let mut src = sources();
        src.env =
            vec![("TRIA_CACHE__L3_EVIDENCE_THRESHOLD".into(), "0.6".into()), ("TRIA_CACHE__L3_EVIDENCE_AGREEMENT".into(), "0.7".into())];
        let s = load(&src).expect("valid");
        assert!((s.cache.l3_evidence_threshold - 0.6).abs() < 1e-6);
        assert!((s.cache.l3_evidence_agreement - 0.7).abs() < 1e-6);
        src.env = vec![("TRIA_CACHE__L3_EVIDENCE_THRESHOLD".into(), "0.95".into())];
        let err = load(&src).expect_err("above the plain threshold").to_string();
        assert!(err.contains("cache.l3_evidence_threshold"), "{err}");
        src.env = vec![("TRIA_CACHE__L3_EVIDENCE_AGREEMENT".into(), "-0.1".into())];
        assert!(load(&src).expect_err("negative").to_string().contains("cache.l3_evidence_agreement"));
        src.env = vec![("TRIA_CACHE__L3_EVIDENCE_AGREEMENT".into(), "2".into())];
        assert!(load(&src).is_ok(), "above 1 turns the evidence rule off");
    }

    #[test]
    fn unknown_profile_is_an_error() {
        let mut src = sources();
        src.profile = Some("staging".into());
        assert!(matches!(load(&src), Err(ConfigError::UnknownProfile(p)) if p == "staging"));
        src.profile = Some("../etc".into());
        assert!(load(&src).is_err());
    }

    #[test]
    fn a_config_dir_file_replaces_the_embedded_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("staging.toml"), "listen = \"127.0.0.1:7010\"\n").expect("write");
        let mut src = sources();
        src.config_dir = Some(dir.path().to_path_buf());
        src.profile = Some("staging".into());
        assert_eq!(load(&src).expect("valid").listen.port(), 7010);
    }
}
