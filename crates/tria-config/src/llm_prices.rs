//! `[llm.prices."<model>"]`: the deployment's LLM prices, US dollars per million tokens — input,
//! output and cached input — laid over the built-in table (`tria_llm::PriceTable::builtin_with`),
//! so the cost ledger prices each call at what the provider charges this deployment. A model is
//! found by exact name, then by the longest listed prefix (`gpt-4o-mini` prices
//! `gpt-4o-mini-2024-07-18`). From the environment:
//! `TRIA_LLM__PRICES__<MODEL>__INPUT_PER_MTOK=0.2` (the model name lower-cased; a name with a
//! dot can only be priced in a file).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ConfigError;

/// One model's prices as written (numbers, or text from the environment).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelPrice {
    #[serde(deserialize_with = "crate::raw::number_or_text")]
    pub input_per_mtok: f64,
    #[serde(deserialize_with = "crate::raw::number_or_text")]
    pub output_per_mtok: f64,
    /// Absent: prompt tokens served from the provider's prompt cache cost the input price.
    #[serde(default, deserialize_with = "optional_number_or_text")]
    pub cached_input_per_mtok: Option<f64>,
}

fn optional_number_or_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    crate::raw::number_or_text(deserializer).map(Some)
}

/// One model's validated prices, US dollars per 1,000,000 tokens (each finite and >= 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelPriceSetting {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// `None`: the input price.
    pub cached_input_per_mtok: Option<f64>,
}

pub(crate) fn validate_prices(raw: &BTreeMap<String, RawModelPrice>) -> Result<BTreeMap<String, ModelPriceSetting>, ConfigError> {
    raw.iter()
        .map(|(model, price)| {
            let key = format!("llm.prices.{model}");
            if model.trim().is_empty() {
                return Err(ConfigError::invalid("llm.prices", "a model name must not be empty"));
            }
            let check = |field: &str, value: f64| {
                if value.is_finite() && value >= 0.0 {
                    Ok(value)
                } else {
                    Err(ConfigError::invalid(format!("{key}.{field}"), format!("must be a number of dollars >= 0 (got {value})")))
                }
            };
            let setting = ModelPriceSetting {
                input_per_mtok: check("input_per_mtok", price.input_per_mtok)?,
                output_per_mtok: check("output_per_mtok", price.output_per_mtok)?,
                cached_input_per_mtok: price.cached_input_per_mtok.map(|p| check("cached_input_per_mtok", p)).transpose()?,
            };
            Ok((model.clone(), setting))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::{ConfigSources, load};

    fn sources(file: &str, env: &[(&str, &str)]) -> (tempfile::NamedTempFile, ConfigSources) {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(file.as_bytes()).expect("write");
        let sources = ConfigSources {
            config_file: Some(f.path().to_owned()),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..ConfigSources::default()
        };
        (f, sources)
    }

    #[test]
    fn prices_come_from_the_file_and_the_environment() {
        let defaults = load(&ConfigSources::default()).expect("valid");
        assert!(defaults.llm.prices.is_empty(), "the built-in table alone by default");
        let file = "[llm.prices.\"gpt-4o-mini\"]\ninput_per_mtok = 0.2\noutput_per_mtok = 1\ncached_input_per_mtok = 0.05\n\
                    [llm.prices.llama3]\ninput_per_mtok = 0\noutput_per_mtok = 0\n";
        let (_f, src) = sources(
            file,
            &[
                ("TRIA_LLM__PRICES__GPT-4O-MINI__OUTPUT_PER_MTOK", "0.8"),
                ("TRIA_LLM__PRICES__MISTRAL__INPUT_PER_MTOK", "2"),
                ("TRIA_LLM__PRICES__MISTRAL__OUTPUT_PER_MTOK", "6.5"),
            ],
        );
        let settings = load(&src).expect("valid");
        let mini = settings.llm.prices["gpt-4o-mini"];
        assert_eq!(
            (mini.input_per_mtok, mini.output_per_mtok, mini.cached_input_per_mtok),
            (0.2, 0.8, Some(0.05)),
            "env wins over the file"
        );
        assert_eq!(settings.llm.prices["llama3"].cached_input_per_mtok, None);
        let mistral = settings.llm.prices["mistral"];
        assert_eq!((mistral.input_per_mtok, mistral.output_per_mtok), (2.0, 6.5));
    }

    #[test]
    fn negative_missing_or_non_numeric_prices_are_config_errors() {
        for (file, env, key) in [
            ("[llm.prices.m]\ninput_per_mtok = -0.1\noutput_per_mtok = 1\n", vec![], "llm.prices.m.input_per_mtok"),
            (
                "[llm.prices.m]\ninput_per_mtok = 0.1\noutput_per_mtok = 1\ncached_input_per_mtok = -1\n",
                vec![],
                "llm.prices.m.cached_input_per_mtok",
            ),
            ("[llm.prices.m]\ninput_per_mtok = \"cheap\"\noutput_per_mtok = 1\n", vec![], "llm.prices.m.input_per_mtok"),
            ("[llm.prices.m]\ninput_per_mtok = 0.1\n", vec![], "llm.prices.m"),
            ("[llm.prices.m]\ninput_per_mtok = 0.1\noutput_per_mtok = 1\ninput_per_1k = 1\n", vec![], "llm.prices.m"),
            (
                "[llm.prices.m]\ninput_per_mtok = 0.1\noutput_per_mtok = 1\n",
                vec![("TRIA_LLM__PRICES__M__OUTPUT_PER_MTOK", "lots")],
                "llm.prices.m.output_per_mtok",
            ),
            (
                "[llm.prices.m]\ninput_per_mtok = 0.1\noutput_per_mtok = 1\n",
                vec![("TRIA_LLM__PRICES__M__OUTPUT_PER_MTOK", "NaN")],
                "llm.prices.m.output_per_mtok",
            ),
        ] {
            let (_f, src) = sources(file, &env);
            let err = load(&src).expect_err(file).to_string();
            assert!(err.contains(key) && !err.contains('\n'), "{file} {env:?}: {err}");
        }
    }
}
