//! Dollars per call from tokens: a price table per model (input and output per 1k tokens).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Usage;

/// What one model costs, US dollars per 1,000 tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
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

    /// Parses `[models."name"] input_per_1k = … output_per_1k = …` tables.
    pub fn from_toml_str(text: &str) -> Result<Self, PriceTableError> {
        let table: Self = toml::from_str(text).map_err(|e| PriceTableError(e.to_string()))?;
        if let Some((name, _)) = table
            .models
            .iter()
            .find(|(_, p)| !(p.input_per_1k.is_finite() && p.output_per_1k.is_finite() && p.input_per_1k >= 0.0 && p.output_per_1k >= 0.0))
        {
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

    /// The cost of a call, or `None` for a model without a price (record tokens, warn).
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<Cost> {
        let price = self.price(model)?;
        let usd = f64::from(usage.prompt_tokens) / 1000.0 * price.input_per_1k
            + f64::from(usage.completion_tokens) / 1000.0 * price.output_per_1k;
        Some(Cost { usd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UsageSource;

    fn usage(prompt: u32, completion: u32) -> Usage {
        Usage { prompt_tokens: prompt, completion_tokens: completion, source: UsageSource::Reported }
    }

    #[test]
    fn builtin_table_parses_and_prices_by_prefix() {
        let table = PriceTable::builtin();
        assert!(table.price("gpt-4o-mini").is_some());
        let cost = table.cost("gpt-4o-mini-2024-07-18", &usage(2000, 1000)).expect("priced by prefix");
        // 2 × 0.00015 + 1 × 0.0006
        assert!((cost.usd - 0.0009).abs() < 1e-12, "{cost:?}");
        assert_eq!(cost.micro_usd(), 900);
        // the longest prefix wins: gpt-4o-mini, not gpt-4o
        assert_eq!(table.price("gpt-4o-mini-x"), table.price("gpt-4o-mini"));
        assert_eq!(table.cost("tria-mock", &usage(500, 500)).map(|c| c.micro_usd()), Some(0));
        assert_eq!(table.cost("unknown-model", &usage(1, 1)), None);
    }

    #[test]
    fn invalid_tables_are_refused() {
        assert!(PriceTable::from_toml_str("[models.a]\ninput_per_1k = -1.0\noutput_per_1k = 0.0").is_err());
        assert!(PriceTable::from_toml_str("[models.a]\ninput_per_1k = \"x\"").is_err());
        let custom = PriceTable::from_toml_str("[models.\"llama3\"]\ninput_per_1k = 0.0001\noutput_per_1k = 0.0002").expect("valid");
        assert_eq!(custom.cost("llama3:8b", &usage(10_000, 0)).map(|c| c.micro_usd()), Some(1000));
    }
}
