//! Conversation scripts (`fixtures/load/conversations.toml`) and how a simulated user picks its
//! next visit and the wording of each message.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use serde::Deserialize;

/// The scripts shipped with Tria, used when `--scripts` is not given.
pub const BUILTIN_SCRIPTS: &str = include_str!("../../../fixtures/load/conversations.toml");

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    pub tenant: String,
    pub name: String,
    #[serde(default = "one")]
    pub weight: f64,
    /// Each turn: the canonical wording first, then paraphrases.
    pub turns: Vec<Vec<String>>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    conversation: Vec<Conversation>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("conversation scripts: {0}")]
    Parse(#[from] Box<toml::de::Error>),
    #[error("conversation `{0}` has a turn with no wording, or no turns")]
    EmptyTurn(String),
    #[error("no conversation for tenant `{0}` (the scripts have: {1})")]
    NoConversation(String, String),
}

/// All conversations, by tenant slug.
#[derive(Clone, Debug)]
pub struct ScriptBook {
    by_tenant: BTreeMap<String, Vec<Conversation>>,
}

/// How a message is worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wording {
    Canonical,
    Paraphrase,
    /// Never seen before (a unique reference appended): the long tail that always misses L1/L2.
    Novel,
}

impl ScriptBook {
    pub fn builtin() -> Result<Self, ScriptError> {
        Self::parse(BUILTIN_SCRIPTS)
    }

    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, ScriptError> {
        let file: ScriptFile = toml::from_str(text).map_err(Box::new)?;
        let mut by_tenant: BTreeMap<String, Vec<Conversation>> = BTreeMap::new();
        for c in file.conversation {
            if c.turns.is_empty() || c.turns.iter().any(Vec::is_empty) {
                return Err(ScriptError::EmptyTurn(c.name));
            }
            by_tenant.entry(c.tenant.clone()).or_default().push(c);
        }
        Ok(Self { by_tenant })
    }

    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.by_tenant.keys().map(String::as_str)
    }

    /// The tenant's conversations, restricted to `only` names when that is not empty.
    pub fn conversations(&self, tenant: &str, only: &[String]) -> Result<Vec<Conversation>, ScriptError> {
        let all = self.by_tenant.get(tenant).map(Vec::as_slice).unwrap_or_default();
        let picked: Vec<Conversation> = all.iter().filter(|c| only.is_empty() || only.contains(&c.name)).cloned().collect();
        if picked.is_empty() {
            let names: Vec<&str> = self.by_tenant.values().flatten().map(|c| c.name.as_str()).collect();
            return Err(ScriptError::NoConversation(tenant.to_owned(), names.join(", ")));
        }
        Ok(picked)
    }
}

/// Index picked at random in proportion to `weights` (all zero: uniform).
pub fn pick_weighted(rng: &mut impl Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if weights.is_empty() {
        return 0;
    }
    if total <= 0.0 {
        return rng.random_range(0..weights.len());
    }
    let mut x = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if *w <= 0.0 {
            continue;
        }
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Decides a message's wording from the scenario's shares (percentages).
pub fn pick_wording(rng: &mut impl Rng, paraphrase_pct: f64, novel_pct: f64) -> Wording {
    let x = rng.random_range(0.0..100.0);
    if x < novel_pct {
        Wording::Novel
    } else if x < novel_pct + paraphrase_pct {
        Wording::Paraphrase
    } else {
        Wording::Canonical
    }
}

/// The text of one turn in the chosen wording.
pub fn word_turn(rng: &mut impl Rng, variants: &[String], wording: Wording) -> String {
    let canonical = variants.first().cloned().unwrap_or_default();
    match wording {
        Wording::Canonical => canonical,
        Wording::Paraphrase if variants.len() > 1 => variants[rng.random_range(1..variants.len())].clone(),
        Wording::Paraphrase => canonical,
        Wording::Novel => format!("{canonical} (reference {})", rng.random_range(100_000..1_000_000u32)),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_builtin_scripts_cover_both_demo_tenants_with_full_visits() {
        let book = ScriptBook::builtin().expect("valid scripts");
        assert_eq!(book.tenants().collect::<Vec<_>>(), ["northwind", "velo"]);
        for tenant in ["northwind", "velo"] {
            let full = book.conversations(tenant, &[format!("{tenant}-full-visit")]).expect("full visit");
            assert_eq!(full[0].turns.len(), 5, "greeting, policy, product, order, status");
        }
        assert!(book.conversations("acme", &[]).is_err());
        assert!(book.conversations("velo", &["nope".into()]).is_err());
    }

    #[test]
    fn bad_scripts_are_refused() {
        let empty = "[[conversation]]\ntenant = \"t\"\nname = \"x\"\nturns = [[]]";
        assert!(matches!(ScriptBook::parse(empty), Err(ScriptError::EmptyTurn(_))));
        assert!(ScriptBook::parse("[[conversation]]\nname = 1").is_err());
    }

    #[test]
    fn weights_and_wording_shares_are_followed() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[pick_weighted(&mut rng, &[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((7000..8000).contains(&counts[2]), "{counts:?}");
        let mut words = [0u32; 3];
        for _ in 0..10_000 {
            match pick_wording(&mut rng, 20.0, 5.0) {
                Wording::Canonical => words[0] += 1,
                Wording::Paraphrase => words[1] += 1,
                Wording::Novel => words[2] += 1,
            }
        }
        assert!((7200..7800).contains(&words[0]) && (1700..2300).contains(&words[1]) && (350..650).contains(&words[2]), "{words:?}");
        let variants = ["A?".to_owned(), "B?".to_owned()];
        assert_eq!(word_turn(&mut rng, &variants, Wording::Canonical), "A?");
        assert_eq!(word_turn(&mut rng, &variants, Wording::Paraphrase), "B?");
        assert!(word_turn(&mut rng, &variants, Wording::Novel).starts_with("A? (reference "));
    }
}
