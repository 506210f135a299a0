//! The report of an upload with bad rows: every bad row with where it is and what is wrong,
//! listed up to a cap and counted in full.

use std::fmt;

use serde::Serialize;

/// Where a row is, as the uploader finds it: a CSV row as a spreadsheet numbers it (the header is
/// line 1; a quoted field spanning lines does not shift later rows), a JSON element by its
/// 0-based array index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowLocation {
    Line(u64),
    Index(u64),
}

impl fmt::Display for RowLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowLocation::Line(n) => write!(f, "line {n}"),
            RowLocation::Index(n) => write!(f, "index {n}"),
        }
    }
}

/// One thing wrong with a row; `column` is absent for row-wide problems (ragged, encoding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<&'static str>,
    pub reason: String,
}

impl Problem {
    pub(crate) fn in_column(column: &'static str, reason: impl Into<String>) -> Self {
        Self { column: Some(column), reason: reason.into() }
    }

    pub(crate) fn row(reason: impl Into<String>) -> Self {
        Self { column: None, reason: reason.into() }
    }
}

/// A bad row: where, its key (`sku`, `customer_number`) when it has one, and every problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadRow {
    #[serde(flatten)]
    pub at: RowLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub problems: Vec<Problem>,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at)?;
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        for (i, p) in self.problems.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            match p.column {
                Some(c) => write!(f, "{sep}{c}: {}", p.reason)?,
                None => write!(f, "{sep}{}", p.reason)?,
            }
        }
        Ok(())
    }
}

/// Every bad row of an upload: `bad_rows` in file order up to the cap, `total_bad_rows` all of
/// them, `rows_checked` the data rows read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RowReport {
    pub rows_checked: u64,
    pub total_bad_rows: u64,
    /// Whether `bad_rows` stops short of `total_bad_rows`.
    pub truncated: bool,
    pub bad_rows: Vec<BadRow>,
}

/// Keys quoted in a report are cut to this many characters, so a report stays small.
const MAX_KEY_CHARS_IN_REPORT: usize = 80;

impl RowReport {
    pub(crate) fn push(&mut self, at: RowLocation, key: Option<&str>, problems: Vec<Problem>, cap: usize) {
        self.total_bad_rows += 1;
        if self.bad_rows.len() >= cap {
            self.truncated = true;
            return;
        }
        let key = key.map(|k| k.chars().take(MAX_KEY_CHARS_IN_REPORT).collect());
        self.bad_rows.push(BadRow { at, key, problems });
    }
}

impl fmt::Display for RowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} rows are bad", self.total_bad_rows, self.rows_checked)?;
        for row in self.bad_rows.iter().take(3) {
            write!(f, "; {row}")?;
        }
        if self.total_bad_rows > 3 {
            write!(f, "; …")?;
        }
        Ok(())
    }
}
