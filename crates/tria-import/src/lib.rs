//! Catalogue and customer uploads (`text/csv` or a JSON array) read and checked in bounded memory:
//! either a report of every bad row, or validated rows handed to the caller in batches.
//!
//! Not wired yet: nothing in the server or the store calls this crate (issue 25 adds the
//! `PUT /admin/tenants/{slug}/catalogue|customers` routes and the job around it).
//!
//! # Two passes, nothing written on bad input
//!
//! [`Importer::validate`] reads the whole upload once, checks every row (duplicate keys included)
//! and counts them; only a clean upload gets a [`Validated`]. [`Importer::write`] then reads the
//! same bytes again and hands the rows to the caller's sink in batches of [`Limits::batch_size`]
//! with [`Progress`] `{done, total}`. [`Importer::run`] does both from a re-openable source.
//!
//! Why two passes rather than validating as rows are written into a staging area the caller
//! rolls back: an import is a job that must survive a restart, so its upload is kept (spooled to
//! a file or a row) before the job starts, and reading it twice costs a few tens of milliseconds
//! per 100k rows; in exchange the store needs no staging tables and no transaction open while a
//! bad row might still turn up, a bad upload touches nothing, and the job knows its total before
//! the first write. Memory is one batch plus, in the first pass, the set of keys seen (bounded by
//! [`Limits::max_rows`] × the key length limit). The second pass checks that it read the same
//! bytes (length, digest, row count) and fails with [`ImportError::SourceChanged`] otherwise.

mod csv_source;
mod currency;
mod error;
mod fields;
mod json_source;
mod pipeline;
mod report;
mod schema;
mod source;

pub use currency::Currency;
pub use error::{ImportError, WriteError};
pub use pipeline::{Batch, Importer, MAX_UNKNOWN_COLUMNS, Progress, Validated};
pub use report::{BadRow, Problem, RowLocation, RowReport};
pub use schema::{Catalogue, Column, CustomerRow, Customers, ProductRow, RowCells, Schema};

/// The upload's format, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// `text/csv` or `application/json`, parameters allowed (`charset` must be UTF-8 when given).
    pub fn from_content_type(content_type: &str) -> Result<Self, ImportError> {
        let mut parts = content_type.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let format = match essence.as_str() {
            "text/csv" => Format::Csv,
            "application/json" => Format::Json,
            _ => return Err(ImportError::UnsupportedContentType(content_type.trim().to_owned())),
        };
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset") && !matches!(value.to_ascii_lowercase().as_str(), "utf-8" | "utf8") {
                return Err(ImportError::UnsupportedCharset(value.to_owned()));
            }
        }
        Ok(format)
    }
}

/// What an upload does to the rows it does not mention: `merge` (the default) keeps them,
/// `replace` removes them. Applying it is the caller's job; this is the parsed `?mode=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImportMode {
    #[default]
    Merge,
    Replace,
}

impl ImportMode {
    /// The `mode` query parameter: absent or empty is `merge`; case does not matter.
    pub fn from_query(mode: Option<&str>) -> Result<Self, ImportError> {
        match mode.map(str::trim) {
            None | Some("") => Ok(ImportMode::Merge),
            Some(m) if m.eq_ignore_ascii_case("merge") => Ok(ImportMode::Merge),
            Some(m) if m.eq_ignore_ascii_case("replace") => Ok(ImportMode::Replace),
            Some(m) => Err(ImportError::BadMode(m.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Merge => "merge",
            ImportMode::Replace => "replace",
        }
    }
}

impl std::str::FromStr for ImportMode {
    type Err = ImportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_query(Some(s))
    }
}

/// Bounds on one upload. The defaults fit the 100k-row goal with room to spare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read at most (after that: [`ImportError::TooBig`]).
    pub max_bytes: u64,
    /// Data rows at most (after that: [`ImportError::TooManyRows`]); bounds the key set.
    pub max_rows: u64,
    /// Rows per batch handed to the sink.
    pub batch_size: usize,
    /// Bad rows listed in a report at most; the report still counts them all.
    pub max_reported_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, max_rows: 250_000, batch_size: 1_000, max_reported_rows: 1_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(Format::from_content_type("text/csv").ok(), Some(Format::Csv));
        assert_eq!(Format::from_content_type("Text/CSV; charset=\"UTF-8\"; header=present").ok(), Some(Format::Csv));
        assert_eq!(Format::from_content_type("application/json;charset=utf-8").ok(), Some(Format::Json));
        assert!(
            matches!(Format::from_content_type("text/csv; charset=windows-1252"), Err(ImportError::UnsupportedCharset(c)) if c == "windows-1252")
        );
        assert!(matches!(Format::from_content_type("application/vnd.ms-excel"), Err(ImportError::UnsupportedContentType(_))));
    }

    #[test]
    fn modes() {
        assert_eq!(ImportMode::from_query(None).ok(), Some(ImportMode::Merge));
        assert_eq!(ImportMode::from_query(Some("")).ok(), Some(ImportMode::Merge));
        assert_eq!("Replace".parse::<ImportMode>().ok(), Some(ImportMode::Replace));
        assert_eq!(ImportMode::Replace.as_str(), "replace");
        assert!(matches!(ImportMode::from_query(Some("append")), Err(ImportError::BadMode(m)) if m == "append"));
    }
}
