//! Fuzzy matching of a customer's words to the tenant's catalogue: an exact SKU wins; otherwise
//! products are ranked by how many of the customer's content words their name has (a typo or a
//! prefix still counts), a size the customer gave must be the product's size, and a tie is an
//! ambiguity to ask about — never a guess.

use tria_store::records::Product;

use super::text::{is_size_token, tokens, words};

/// How many candidates a clarifying question lists at most.
pub(crate) const MAX_CANDIDATES: usize = 5;

/// The share of the customer's words a product must have to count as a match.
const MIN_COVERAGE: f32 = 0.5;

#[derive(Debug, PartialEq)]
pub(crate) enum Match<'a> {
    One(&'a Product),
    /// Several products fit equally well; ask which.
    Ambiguous(Vec<&'a Product>),
    /// The product exists but is no longer sold.
    Inactive(&'a Product),
    Unknown,
}

/// At most one edit apart (`expresso` ~ `espresso`), for words long enough that this is a typo
/// rather than another word.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

fn word_matches(query: &str, product: &str) -> bool {
    if query == product {
        return true;
    }
    if is_size_token(query) || is_size_token(product) || query.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    (query.len() >= 4 && product.starts_with(query)) || (query.len() >= 5 && product.len() >= 5 && one_edit_apart(query, product))
}

/// The SKU the words contain, longest first (`NW-CUP-12OZ-DW` before `NW-CUP-12OZ`).
fn by_sku<'a>(phrase: &str, products: &'a [Product]) -> Option<&'a Product> {
    let said = words(phrase);
    products
        .iter()
        .filter(|p| {
            let sku = words(&p.sku);
            !sku.is_empty() && said.windows(sku.len()).any(|w| w == sku.as_slice())
        })
        .max_by_key(|p| p.sku.len())
}

/// The customer's unit word fits the product's selling unit (`bags` ~ `bag (1 kg)`).
fn unit_fits(unit_word: &str, product: &Product) -> bool {
    words(&product.unit).iter().any(|w| super::text::singular(w) == unit_word)
}

/// Matches the words of one requested line against `products`.
pub(crate) fn match_product<'a>(phrase: &str, unit_word: Option<&str>, products: &'a [Product]) -> Match<'a> {
    if let Some(product) = by_sku(phrase, products) {
        return if product.active { Match::One(product) } else { Match::Inactive(product) };
    }
    let mut query = tokens(phrase);
    query.dedup();
    if query.is_empty() {
        return Match::Unknown;
    }
    let query_sizes: Vec<&String> = query.iter().filter(|t| is_size_token(t)).collect();
    let mut scored: Vec<(f32, &Product)> = Vec::new();
    for product in products {
        let name = tokens(&product.name);
        let sizes: Vec<&String> = name.iter().filter(|t| is_size_token(t)).collect();
        if !query_sizes.is_empty() && !sizes.is_empty() && !query_sizes.iter().any(|q| sizes.contains(q)) {
            continue;
        }
        let hits = query.iter().filter(|q| name.iter().any(|n| word_matches(q, n))).count();
        if hits == 0 {
            continue;
        }
        #[allow(clippy::cast_precision_loss)]
        let coverage = hits as f32 / query.len() as f32;
        if coverage >= MIN_COVERAGE {
            scored.push((coverage, product));
        }
    }
    let Some(best) = scored.iter().map(|(c, _)| *c).reduce(f32::max) else {
        return Match::Unknown;
    };
    let mut candidates: Vec<&Product> = scored.iter().filter(|(c, _)| (*c - best).abs() < f32::EPSILON).map(|(_, p)| *p).collect();
    if candidates.iter().any(|p| p.active) {
        candidates.retain(|p| p.active);
    }
    if candidates.len() > 1
        && let Some(unit) = unit_word
        && candidates.iter().any(|p| unit_fits(unit, p))
    {
        candidates.retain(|p| unit_fits(unit, p));
    }
    match candidates.as_slice() {
        [] => Match::Unknown,
        [one] if one.active => Match::One(one),
        [one] => Match::Inactive(one),
        _ => {
            candidates.sort_by(|a, b| a.name.cmp(&b.name));
            candidates.truncate(MAX_CANDIDATES);
            Match::Ambiguous(candidates)
        }
    }
}

const ORDINALS: &[&str] = &["first", "second", "third", "fourth", "fifth"];

/// Which of the listed `candidates` the customer's answer picks: a SKU, a number or ordinal
/// ("2", "the second one"), or words that fit exactly one of them.
pub(crate) fn resolve_choice<'a>(answer: &str, candidates: &[&'a Product]) -> Option<&'a Product> {
    if let Some(p) = by_sku(answer, &candidates.iter().map(|p| (*p).clone()).collect::<Vec<_>>()) {
        return candidates.iter().find(|c| c.id == p.id).copied();
    }
    let said = words(answer);
    let numbers: Vec<usize> =
        said.iter().filter_map(|w| w.parse::<usize>().ok().or_else(|| ORDINALS.iter().position(|o| o == w).map(|i| i + 1))).collect();
    if let [n] = numbers.as_slice()
        && (1..=candidates.len()).contains(n)
        && said.len() <= 4
    {
        return Some(candidates[n - 1]);
    }
    let owned: Vec<Product> = candidates.iter().map(|p| (*p).clone()).collect();
    match match_product(answer, None, &owned) {
        Match::One(p) => candidates.iter().find(|c| c.id == p.id).copied(),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn product(sku: &str, name: &str, unit: &str, price: i64, stock: i64, active: bool) -> Product {
        Product {
            id: uuid::Uuid::new_v4(),
            tenant_id: uuid::Uuid::nil(),
            sku: sku.into(),
            name: name.into(),
            description: String::new(),
            unit: unit.into(),
            unit_price_minor: price,
            currency: "USD".into(),
            stock,
            active,
            updated_at: chrono::Utc::now(),
        }
    }

    pub(crate) fn catalogue() -> Vec<Product> {
        vec![
            product("NW-CUP-12OZ", "Hot Cup 12 oz, White, Single Wall", "case of 1000", 7200, 210, true),
            product("NW-CUP-16OZ", "Hot Cup 16 oz, White, Single Wall", "case of 1000", 8400, 188, true),
            product("NW-CUP-12OZ-DW", "Double-Wall Hot Cup 12 oz, Kraft", "case of 500", 6400, 74, true),
            product("NW-CCUP-16OZ", "Clear PET Cold Cup 16 oz", "case of 1000", 9100, 133, true),
            product("NW-CUP-10OZ", "Hot Cup 10 oz, White, Single Wall (discontinued)", "case of 1000", 6600, 0, false),
            product("NW-COF-HOUSE-1KG", "Northwind House Blend, Whole Bean", "bag (1 kg)", 2450, 340, true),
            product("NW-COF-HOUSE-5LB", "Northwind House Blend, Whole Bean, Bulk", "bag (5 lb)", 4600, 95, true),
            product("NW-COF-PORTION", "House Blend Filter Portion Packs 2.5 oz", "box of 42", 3900, 83, true),
            product("NW-COF-ESP-1KG", "Northwind Espresso Roast, Whole Bean", "bag (1 kg)", 2650, 280, true),
            product("NW-MLK-OAT", "Barista Oat Milk 1 L", "case of 6", 1900, 205, true),
        ]
    }

    fn sku(m: &Match<'_>) -> Vec<String> {
        match m {
            Match::One(p) | Match::Inactive(p) => vec![p.sku.clone()],
            Match::Ambiguous(ps) => ps.iter().map(|p| p.sku.clone()).collect(),
            Match::Unknown => vec![],
        }
    }

    #[test]
    fn skus_sizes_typos_and_units_pick_the_product() {
        let cat = catalogue();
        assert_eq!(sku(&match_product("nw cup 12 oz dw", None, &cat)), vec!["NW-CUP-12OZ-DW"]);
        assert_eq!(sku(&match_product("nw cup 12 oz", None, &cat)), vec!["NW-CUP-12OZ"]);
        assert_eq!(sku(&match_product("oat milk", None, &cat)), vec!["NW-MLK-OAT"]);
        assert_eq!(sku(&match_product("expresso roast", Some("bag"), &cat)), vec!["NW-COF-ESP-1KG"]);
        assert_eq!(sku(&match_product("hot cups 16oz", Some("box"), &cat)), vec!["NW-CUP-16OZ"]);
        assert!(matches!(match_product("10 oz hot cups", None, &cat), Match::Inactive(_)));
    }

    #[test]
    fn ties_are_ambiguous_and_strangers_unknown() {
        let cat = catalogue();
        // Hot and cold 16 oz cups fit "16oz cups" equally well.
        assert_eq!(sku(&match_product("16 oz cups", Some("box"), &cat)), vec!["NW-CCUP-16OZ", "NW-CUP-16OZ"]);
        // "bags" rules out the portion packs (a box), not the two bags.
        assert_eq!(sku(&match_product("house blend", Some("bag"), &cat)), vec!["NW-COF-HOUSE-1KG", "NW-COF-HOUSE-5LB"]);
        assert_eq!(match_product("tractor tyres", None, &cat), Match::Unknown);
        assert_eq!(match_product("", None, &cat), Match::Unknown);
    }

    #[test]
    fn an_answer_picks_one_of_the_candidates() {
        let cat = catalogue();
        let Match::Ambiguous(candidates) = match_product("16 oz cups", None, &cat) else { panic!("ambiguous expected") };
        assert_eq!(resolve_choice("the hot ones", &candidates).map(|p| p.sku.as_str()), Some("NW-CUP-16OZ"));
        assert_eq!(resolve_choice("1", &candidates).map(|p| p.sku.as_str()), Some("NW-CCUP-16OZ"));
        assert_eq!(resolve_choice("the second one", &candidates).map(|p| p.sku.as_str()), Some("NW-CUP-16OZ"));
        assert_eq!(resolve_choice("NW-CCUP-16OZ please", &candidates).map(|p| p.sku.as_str()), Some("NW-CCUP-16OZ"));
        assert_eq!(resolve_choice("7", &candidates), None);
        assert_eq!(resolve_choice("what about lids", &candidates), None);
    }
}
