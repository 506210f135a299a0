//! Dollars per call from tokens: a price table per model — input, output and cached-input
//! tokens, US dollars per million (so one token at `$x`/Mtok costs `x` micro-dollars).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Usage;

/// What one model costs, US dollars per 1,000,000 tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Prompt tokens served from the provider's prompt cache; `None`: the input price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
}

impl ModelPrice {
    pub fn new(input_per_mtok: f64, output_per_mtok: f64, cached_input_per_mtok: Option<f64>) -> Self {
        Self { input_per_mtok, output_per_mtok, cached_input_per_mtok }
    }

    fn valid(&self) -> bool {
        let ok = |p: f64| p.is_finite() && p >= 0.0;
        ok(self.input_per_mtok) && ok(self.output_per_mtok) && self.cached_input_per_mtok.is_none_or(ok)
    }

    pub fn cached_input(&self) -> f64 {
        self.cached_input_per_mtok.unwrap_or(self.input_per_mtok)
    }

    /// Micro-dollars for `input` prompt tokens (of which `cached` came from the prompt cache)
    /// and `output` completion tokens.
    pub fn micro_usd(&self, input: u64, output: u64, cached: u64) -> f64 {
        let cached = cached.min(input);
        (input - cached) as f64 * self.input_per_mtok + cached as f64 * self.cached_input() + output as f64 * self.output_per_mtok
    }

    /// Micro-dollars for one call's `usage`: uncached prompt tokens at the input price, cached
    /// ones at the cached-input price, completion tokens at the output price.
    pub fn micro_usd_of(&self, usage: &Usage) -> f64 {
        self.micro_usd(u64::from(usage.prompt_tokens), u64::from(usage.completion_tokens), u64::from(usage.cached_prompt_tokens))
    }

    /// The three prices in whole micro-dollars per million tokens (how the ledger keeps them).
    pub fn micro_per_mtok(&self) -> [u64; 3] {
        let micro = |p: f64| (p * 1_000_000.0).round().max(0.0) as u64;
        [micro(self.input_per_mtok), micro(self.output_per_mtok), micro(self.cached_input())]
    }
}

/// The cost of one call.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub usd: f64,
}

impl Cost {
    /// Whole micro-dollars, for summing in integer columns without float drift.
    pub fn micro_usd(&self) -> u64 {
        (self.usd * 1_000_000.0).round().max(0.0) as u64
    }
}

/// Prices by model name. Lookup is exact, then by the longest listed prefix, so dated model
/// snapshots (`gpt-4o-mini-2024-07-18`) find their family's price.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    #[serde(default)]
    models: BTreeMap<String, ModelPrice>,
}

/// A price file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid price table: {0}")]
pub struct PriceTableError(String);

impl PriceTable {
    /// The list shipped with the crate (`crates/tria-llm/prices.toml`).
    pub fn builtin() -> Self {
        // The embedded file is checked by a unit test, so this cannot fail at run time.
        Self::from_toml_str(include_str!("../prices.toml")).unwrap_or_default()
    }

    /// The built-in list with `overrides` (a deployment's `[llm.prices]`) on top.
    pub fn builtin_with(overrides: impl IntoIterator<Item = (String, ModelPrice)>) -> Self {
        let mut table = Self::builtin();
        for (model, price) in overrides {
            table.insert(model, price);
        }
        table
    }

    /// Parses `[models."name"] input_per_mtok = … output_per_mtok = … cached_input_per_mtok = …`.
    pub fn from_toml_str(text: &str) -> Result<Self, PriceTableError> {
        let table: Self = toml::from_str(text).map_err(|e| PriceTableError(e.to_string()))?;
        if let Some((name, _)) = table.models.iter().find(|(_, p)| !p.valid()) {
            return Err(PriceTableError(format!("model `{name}` has a negative or non-finite price")));
        }
        Ok(table)
    }

    pub fn insert(&mut self, model: impl Into<String>, price: ModelPrice) {
        self.models.insert(model.into(), price);
    }

    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        self.models.get(model).or_else(|| {
            self.models.iter().filter(|(name, _)| model.starts_with(name.as_str())).max_by_key(|(name, _)| name.len()).map(|(_, p)| p)
        })
    }

    /// The cost of a call (its cached prompt tokens at the cached-input price), or `None` for a
    /// model without a price (record tokens, warn).
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<Cost> {
        let price = self.price(model)?;
        Some(Cost { usd: price.micro_usd_of(usage) / 1_000_000.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u32, completion: u32) -> Usage {
        Usage::reported(prompt, completion, 0)
    }

    #[test]
    fn builtin_table_parses_and_prices_by_prefix() {
        let table = PriceTable::builtin();
        assert!(table.price("gpt-4o-mini").is_some());
        let cost = table.cost("gpt-4o-mini-2024-07-18", &usage(2000, 1000)).expect("priced by prefix");
        // 2000 × $0.15/M + 1000 × $0.60/M
        assert!((cost.usd - 0.0009).abs() < 1e-12, "{cost:?}");
        assert_eq!(cost.micro_usd(), 900);
        // the longest prefix wins: gpt-4o-mini, not gpt-4o
        assert_eq!(table.price("gpt-4o-mini-x"), table.price("gpt-4o-mini"));
        assert_eq!(table.cost("tria-mock", &usage(500, 500)).map(|c| c.micro_usd()), Some(0));
        assert_eq!(table.cost("unknown-model", &usage(1, 1)), None);
    }

    #[test]
    fn cached_input_is_priced_apart_and_defaults_to_the_input_price() {
        let price = ModelPrice::new(2.0, 8.0, Some(0.5));
        // 1000 uncached × 2 + 1000 cached × 0.5 + 100 × 8
        assert!((price.micro_usd(2000, 100, 1000) - 3300.0).abs() < 1e-9);
        assert_eq!(price.micro_per_mtok(), [2_000_000, 8_000_000, 500_000]);
        let plain = ModelPrice::new(2.0, 8.0, None);
        assert!((plain.micro_usd(2000, 0, 1000) - 4000.0).abs() < 1e-9);
        let table = PriceTable::builtin_with([("gpt-4o-mini".to_owned(), plain)]);
        assert_eq!(table.price("gpt-4o-mini"), Some(&plain), "a deployment's price overrides the built-in one");
        // A call's reported cached prompt tokens are priced apart: (2000 - 1500) × 2 + 1500 × 0.5 + 100 × 8.
        let table = PriceTable::builtin_with([("m".to_owned(), price)]);
        let cost = table.cost("m", &Usage::reported(2000, 100, 1500)).expect("priced");
        assert_eq!(cost.micro_usd(), 2550);
    }

    #[test]
    fn invalid_tables_are_refused() {
        assert!(PriceTable::from_toml_str("[models.a]\ninput_per_mtok = -1.0\noutput_per_mtok = 0.0").is_err());
        assert!(PriceTable::from_toml_str("[models.a]\ninput_per_mtok = \"x\"").is_err());
        assert!(
            PriceTable::from_toml_str("[models.a]\ninput_per_1k = 0.1\noutput_per_1k = 0.1").is_err(),
            "the old per-1k keys are refused"
        );
        let custom = PriceTable::from_toml_str("[models.\"llama3\"]\ninput_per_mtok = 0.1\noutput_per_mtok = 0.2").expect("valid");
        assert_eq!(custom.cost("llama3:8b", &usage(10_000, 0)).map(|c| c.micro_usd()), Some(1000));
    }
}
