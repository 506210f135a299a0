//! Line items from free text: "12 boxes of 16oz cups and 3 bags of house blend" → two requested
//! lines, each a quantity, the container word the customer used and the words naming the
//! product. Matching those words to the catalogue is [`super::matching`]'s job.

use super::text::{CONTAINER_WORDS, is_size_unit, singular, words};

/// One line as the customer wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestedLine {
    /// `None` when the customer named a product without saying how many.
    pub(crate) quantity: Option<i64>,
    /// `box`, `bag` … when the customer named a container.
    pub(crate) unit_word: Option<String>,
    /// The words naming the product (may include a SKU).
    pub(crate) phrase: String,
}

const NUMBER_WORDS: &[(&str, i64)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("fifteen", 15),
    ("twenty", 20),
    ("dozen", 12),
];

fn quantity_of(word: &str) -> Option<i64> {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
        // Too many digits to be a quantity is still a quantity: the bounds check says so.
        return Some(word.parse().unwrap_or(i64::MAX));
    }
    NUMBER_WORDS.iter().find(|(w, _)| *w == word).map(|(_, n)| *n)
}

/// "1,000" → "1000": a comma between a digit and exactly three digits groups thousands; any
/// other comma separates lines.
fn without_thousands_separators(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let grouping = c == ','
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1..i + 4).is_some_and(|d| d.iter().all(char::is_ascii_digit))
            && !chars.get(i + 4).is_some_and(char::is_ascii_digit);
        if !grouping {
            out.push(c);
        }
    }
    out
}

/// The segment's quantity is written negative: "-5 cases", "−5", "minus 3 cases" (a hyphen
/// inside a SKU such as NW-CUP-12OZ is not a sign).
fn negative_quantity(segment: &str) -> bool {
    let chars: Vec<char> = segment.chars().collect();
    let signed = chars.iter().enumerate().any(|(i, &c)| {
        matches!(c, '-' | '\u{2212}') && (i == 0 || chars[i - 1].is_whitespace()) && chars.get(i + 1).is_some_and(char::is_ascii_digit)
    });
    signed || words(segment).windows(2).any(|w| w[0] == "minus" && quantity_of(&w[1]).is_some())
}

/// Splits on commas, semicolons, line breaks, `and`, `&`, `plus`.
fn segments(text: &str) -> Vec<String> {
    let text = without_thousands_separators(text);
    let mut normalised = format!(" {} ", text.replace(['\n', ';', ','], " , "));
    for joiner in [" and ", " & ", " plus ", " as well as "] {
        normalised = normalised.replace(joiner, " , ").replace(&joiner.to_uppercase(), " , ");
    }
    normalised.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// Where the quantity of a segment's words is: a number not followed by a size unit (`16 oz` is a
/// size), or a number word.
fn quantity_position(words: &[String]) -> Option<(usize, i64)> {
    words.iter().enumerate().find_map(|(i, w)| {
        let q = quantity_of(w)?;
        let next_is_size = words.get(i + 1).is_some_and(|n| is_size_unit(n));
        // "a dozen" / "two dozen"
        if next_is_size { None } else { Some((i, q)) }
    })
}

/// The requested lines in `text`; a piece without a quantity joins the previous line's words
/// ("16oz cups, white" stays one product), or stands alone with `quantity: None`.
pub(crate) fn requested_lines(text: &str) -> Vec<RequestedLine> {
    let mut lines: Vec<RequestedLine> = Vec::new();
    for segment in segments(text) {
        let ws = words(&segment);
        match quantity_position(&ws) {
            Some((at, mut quantity)) => {
                let mut rest: Vec<&String> = Vec::new();
                let mut unit_word = None;
                let mut i = at + 1;
                // "two dozen"
                if ws.get(i).is_some_and(|w| w == "dozen") {
                    quantity = quantity.saturating_mul(12);
                    i += 1;
                }
                // A negative quantity stays negative, for the bounds check to refuse.
                if negative_quantity(&segment) {
                    quantity = quantity.saturating_neg();
                }
                if ws.get(i).is_some_and(|w| w == "x") {
                    i += 1;
                }
                if let Some(w) = ws.get(i)
                    && CONTAINER_WORDS.contains(&singular(w).as_str())
                {
                    unit_word = Some(singular(w));
                    i += 1;
                }
                if ws.get(i).is_some_and(|w| w == "of") {
                    i += 1;
                }
                rest.extend(ws[i..].iter());
                if rest.is_empty() {
                    // "cups x 12": the product came first.
                    rest.extend(ws[..at].iter().filter(|w| *w != "x"));
                }
                let phrase = rest.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" ");
                lines.push(RequestedLine { quantity: Some(quantity), unit_word, phrase });
            }
            None => match lines.last_mut() {
                Some(previous) => {
                    previous.phrase.push(' ');
                    previous.phrase.push_str(&ws.join(" "));
                }
                None => lines.push(RequestedLine { quantity: None, unit_word: None, phrase: ws.join(" ") }),
            },
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, unit: Option<&str>, phrase: &str) -> RequestedLine {
        RequestedLine { quantity: Some(quantity), unit_word: unit.map(str::to_owned), phrase: phrase.into() }
    }

    #[test]
    fn negative_quantities_keep_their_sign_and_thousands_are_one_number() {
        assert_eq!(requested_lines("order -5 cases of NW-CUP-12OZ"), [line(-5, Some("case"), "nw cup 12 oz")]);
        assert_eq!(requested_lines("minus three cases of oat milk"), [line(-3, Some("case"), "oat milk")]);
        assert_eq!(requested_lines("2 cases of NW-CUP-12OZ"), [line(2, Some("case"), "nw cup 12 oz")]);
        assert_eq!(requested_lines("1,000 cases of oat milk"), [line(1000, Some("case"), "oat milk")]);
        assert_eq!(requested_lines("2 cases of oat milk, 3 bags of espresso").len(), 2);
    }

    #[test]
    fn quantities_units_and_products_are_separated() {
        assert_eq!(
            requested_lines("12 boxes of 16oz cups and 3 bags of house blend"),
            vec![line(12, Some("box"), "16 oz cups"), line(3, Some("bag"), "house blend")]
        );
        assert_eq!(requested_lines("I'd like to order 2x NW-CUP-12OZ"), vec![line(2, None, "nw cup 12 oz")]);
        assert_eq!(requested_lines("oat milk x 4"), vec![line(4, None, "oat milk")]);
        assert_eq!(
            requested_lines("two cases of vanilla syrup; a dozen pens"),
            vec![line(2, Some("case"), "vanilla syrup"), line(12, None, "pens")]
        );
        assert_eq!(requested_lines("0 cases of lids"), vec![line(0, Some("case"), "lids")]);
    }

    #[test]
    fn a_product_without_a_quantity_is_kept_without_one() {
        assert_eq!(
            requested_lines("some oat milk please"),
            vec![RequestedLine { quantity: None, unit_word: None, phrase: "some oat milk please".into() }]
        );
        // A trailing piece without a number belongs to the previous line.
        assert_eq!(requested_lines("5 cases of hot cups, white"), vec![line(5, Some("case"), "hot cups white")]);
    }
}
