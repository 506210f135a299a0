//! One cell of a row, whichever format it came from, and the checks every column shares: text
//! (length, control characters), whole numbers, yes/no, e-mail addresses, phone numbers.

use serde_json::Number;

use crate::report::Problem;

/// A cell as read: absent (no such column or JSON key, or JSON `null`), text (trimmed; CSV cells
/// are always text), or a JSON number, boolean or other value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell<'a> {
    Absent,
    Text(&'a str),
    Number(&'a Number),
    Bool(bool),
    /// A JSON array or object, by name.
    Other(&'static str),
}

/// A text column: its name, its length limit in characters, whether it may span lines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TextColumn {
    pub(crate) name: &'static str,
    pub(crate) max_chars: usize,
    pub(crate) multiline: bool,
}

/// An optional text column: `None` when absent, else the text (possibly empty: a column that is
/// sent is a column that is set).
pub(crate) fn optional_text(cell: Cell<'_>, column: TextColumn, problems: &mut Vec<Problem>) -> Option<String> {
    let text = match cell {
        Cell::Absent => return None,
        Cell::Text(t) => t.to_owned(),
        Cell::Number(n) => n.to_string(),
        Cell::Bool(_) => return not_text(column, "true/false", problems),
        Cell::Other(kind) => return not_text(column, kind, problems),
    };
    let chars = text.chars().count();
    if chars > column.max_chars {
        problems.push(Problem::in_column(column.name, format!("is {chars} characters long; at most {}", column.max_chars)));
        return None;
    }
    let allowed = |c: char| column.multiline && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        let what = if column.multiline { "a control character" } else { "a line break or control character" };
        problems.push(Problem::in_column(column.name, format!("contains {what}")));
        return None;
    }
    Some(text)
}

fn not_text(column: TextColumn, kind: &str, problems: &mut Vec<Problem>) -> Option<String> {
    problems.push(Problem::in_column(column.name, format!("must be text, not {kind}")));
    None
}

/// A required text column: absent or empty is a problem.
pub(crate) fn required_text(cell: Cell<'_>, column: TextColumn, problems: &mut Vec<Problem>) -> Option<String> {
    match cell {
        Cell::Absent => {
            problems.push(Problem::in_column(column.name, "is missing"));
            None
        }
        Cell::Text("") => {
            problems.push(Problem::in_column(column.name, "is empty"));
            None
        }
        _ => optional_text(cell, column, problems),
    }
}

/// The key of a row (`sku`, `customer_number`) as compared for duplicates: the trimmed text,
/// compared exactly, as the store's unique index compares it.
pub(crate) fn key_text(cell: Cell<'_>) -> Option<std::borrow::Cow<'_, str>> {
    match cell {
        Cell::Text(t) if !t.is_empty() => Some(t.into()),
        Cell::Number(n) => Some(n.to_string().into()),
        _ => None,
    }
}

/// A whole number ≥ 0; an empty cell is `None` (not given).
pub(crate) fn count(cell: Cell<'_>, column: &'static str, problems: &mut Vec<Problem>) -> Option<i64> {
    let value = match cell {
        Cell::Absent | Cell::Text("") => return None,
        Cell::Text(t) => t.parse::<i64>().ok().filter(|_| !t.starts_with('+')),
        Cell::Number(n) => n.as_i64(),
        Cell::Bool(_) | Cell::Other(_) => None,
    };
    match value {
        Some(v) if v < 0 => problems.push(Problem::in_column(column, format!("{v} is negative"))),
        Some(v) => return Some(v),
        None => problems.push(Problem::in_column(column, format!("{} is not a whole number", shown(cell)))),
    }
    None
}

/// Yes or no: `true/false`, `yes/no`, `y/n`, `1/0`, any case; an empty cell is `None`.
pub(crate) fn flag(cell: Cell<'_>, column: &'static str, problems: &mut Vec<Problem>) -> Option<bool> {
    let value = match cell {
        Cell::Absent | Cell::Text("") => return None,
        Cell::Bool(b) => Some(b),
        Cell::Text(t) => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Some(true),
            "false" | "no" | "n" | "0" => Some(false),
            _ => None,
        },
        Cell::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Cell::Other(_) => None,
    };
    if value.is_none() {
        problems.push(Problem::in_column(column, format!("{} is not true or false (or yes/no, 1/0)", shown(cell))));
    }
    value
}

/// A cell quoted in a reason, cut short so a report stays small.
pub(crate) fn shown(cell: Cell<'_>) -> String {
    match cell {
        Cell::Absent => "nothing".into(),
        Cell::Text(t) if t.chars().count() > 40 => format!("{:?}", format!("{}…", t.chars().take(40).collect::<String>())),
        Cell::Text(t) => format!("{t:?}"),
        Cell::Number(n) => n.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Other(kind) => kind.to_owned(),
    }
}

/// A plausible mailbox address: `local@domain.tld`, no spaces, at most 254 characters. Deliberately
/// not full RFC 5322 (no quoted local parts or IP literals): these addresses identify customers.
pub(crate) fn is_email(address: &str) -> bool {
    if address.len() > 254 {
        return false;
    }
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"@()<>[]\\,;:\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    local_ok && domain_ok
}

/// Digits with the usual separators (`+44 (0)20 7946-0958`, `555.0100 x12`), at least five digits.
pub(crate) fn is_phone(number: &str) -> bool {
    number.chars().all(|c| c.is_ascii_digit() || " +-().x/".contains(c)) && number.chars().filter(char::is_ascii_digit).count() >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for good in ["maya@bluekettlecafe.example", "d.okafor+orders@harbor-light.co.uk", "josé@café.example"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "maya",
            "maya@",
            "@x.example",
            "maya@localhost",
            "ma ya@x.example",
            "a@b@c.example",
            ".a@x.example",
            "a..b@x.example",
            "a@-x.example",
            "a@x..example",
            "a@1.2",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert!(is_phone("+44 (0)20 7946-0958"));
        assert!(is_phone("555.0100 x12"));
        assert!(!is_phone("call me"));
        assert!(!is_phone("123"));
    }
}
