//! Word-level normalisation shared by line extraction and product matching: lower case, plural
//! endings dropped, sizes glued to their number (`16 oz` and `16oz` both become `16oz`).

/// Units that belong to a size, not to a quantity: `16 oz` is a cup size, not 16 of something.
const SIZE_UNITS: &[&str] = &["oz", "ml", "l", "kg", "g", "lb", "lbs", "in", "mm", "cm", "ft", "ply"];

/// Words that carry no product meaning.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "for", "and", "with", "please", "pls", "some", "me", "i", "id", "i'd", "we", "us", "our", "my", "to", "order",
    "like", "want", "need", "would", "could", "can", "get", "have", "place", "add", "also", "x", "more", "another", "just", "thanks",
    "thank", "you", "too", "them", "it", "that", "this", "those", "these", "on", "in", "by", "be", "is", "are", "hi", "hello", "send",
    "deliver", "ship", "buy", "purchase", "will", "take", "do", "your", "yes", "ok", "one", "ones", "remove", "from", "drop", "delete",
    "change", "set", "make", "update", "instead", "cancel", "without", "ord", "extra", "line", "quantity",
];

/// Words a customer uses for "one selling unit" (`12 boxes`, `3 bags`).
pub(crate) const CONTAINER_WORDS: &[&str] = &[
    "box", "case", "bag", "pack", "packet", "tub", "bottle", "carton", "unit", "each", "piece", "pc", "pcs", "roll", "ream", "sleeve",
    "jar",
];

pub(crate) fn is_size_unit(word: &str) -> bool {
    SIZE_UNITS.contains(&word)
}

pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// `boxes` → `box`, `cups` → `cup`, `glasses` → `glass`; short words and `…ss` stay.
pub(crate) fn singular(word: &str) -> String {
    if word.len() > 4 && (word.ends_with("xes") || word.ends_with("ches") || word.ends_with("shes") || word.ends_with("sses")) {
        return word[..word.len() - 2].to_owned();
    }
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

/// Raw words: letters, digits, `.`, `'` inside words; everything else separates. `16oz` is
/// split into `16` and `oz` so sizes can be recognised either way they are written.
pub(crate) fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        let w = current.trim_matches(|c| c == '.' || c == '\'').to_owned();
        if !w.is_empty() {
            out.push(w);
        }
        current.clear();
    };
    for ch in lower.chars() {
        let boundary = match current.chars().last() {
            Some(prev) => (prev.is_ascii_digit() && ch.is_alphabetic()) || (prev.is_alphabetic() && ch.is_ascii_digit()),
            None => false,
        };
        if ch.is_alphanumeric() || ((ch == '.' || ch == '\'') && !current.is_empty()) {
            if boundary {
                flush(&mut current, &mut out);
            }
            current.push(ch);
        } else {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

/// Content tokens of a phrase for matching: sizes glued (`16oz`), plurals dropped, stopwords and
/// container words removed.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let raw = words(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let w = &raw[i];
        if w.chars().all(|c| c.is_ascii_digit() || c == '.')
            && let Some(next) = raw.get(i + 1)
            && is_size_unit(next)
        {
            let unit = if next == "lbs" { "lb" } else { next.as_str() };
            out.push(format!("{w}{unit}"));
            i += 2;
            continue;
        }
        let s = singular(w);
        if !is_stopword(&s) && !is_stopword(w) && !CONTAINER_WORDS.contains(&s.as_str()) {
            out.push(s);
        }
        i += 1;
    }
    out
}

/// Whether a token is a size (`16oz`, `1kg`), which must match exactly when both sides have one.
pub(crate) fn is_size_token(token: &str) -> bool {
    let digits = token.chars().take_while(|c| c.is_ascii_digit() || *c == '.').count();
    digits > 0 && digits < token.len() && is_size_unit(&token[digits..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_glued_and_plurals_dropped() {
        assert_eq!(tokens("12 boxes of 16oz cups"), vec!["12", "16oz", "cup"]);
        assert_eq!(tokens("Hot Cup 16 oz, White, Single Wall"), vec!["hot", "cup", "16oz", "white", "single", "wall"]);
        assert_eq!(tokens("bags of house blend"), vec!["house", "blend"]);
        assert!(is_size_token("16oz") && is_size_token("1kg") && !is_size_token("cup") && !is_size_token("12"));
        assert_eq!(singular("glasses"), "glass");
        assert_eq!(words("NW-CUP-12OZ x3"), vec!["nw", "cup", "12", "oz", "x", "3"]);
    }
}
