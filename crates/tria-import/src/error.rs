//! Whole-upload failures. Bad rows are not listed one error each: they are collected into a
//! [`RowReport`] carried by [`ImportError::Rows`].

use crate::report::RowReport;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("unsupported content type {0:?}: send text/csv or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported charset {0:?}: send UTF-8")]
    UnsupportedCharset(String),
    #[error("unknown import mode {0:?}: use merge or replace")]
    BadMode(String),
    #[error("the upload is empty")]
    Empty,
    #[error("the upload is UTF-16: save it as UTF-8 (\"CSV UTF-8\" in spreadsheet programs)")]
    Utf16,
    #[error("the upload is larger than {limit} bytes")]
    TooBig { limit: u64 },
    #[error("the upload has more than {limit} rows")]
    TooManyRows { limit: u64 },
    #[error("the CSV has no header row")]
    NoHeader,
    #[error("the header row (line 1) is not valid UTF-8: save the file as UTF-8")]
    HeaderNotUtf8,
    #[error("the header names column {0:?} more than once")]
    DuplicateColumn(String),
    #[error("missing required column(s): {}", .missing.join(", "))]
    MissingColumns { missing: Vec<&'static str> },
    #[error("not a JSON array of objects: {0}")]
    NotJsonArray(String),
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson { line: usize, column: usize, message: String },
    #[error("{}", .0)]
    Rows(RowReport),
    #[error("the tenant's currency {0:?} is not an ISO 4217 code")]
    BadTenantCurrency(String),
    #[error("the upload changed between validating and writing it")]
    SourceChanged,
    #[error("cannot read the upload: {0}")]
    Io(#[from] std::io::Error),
}

impl ImportError {
    /// Whether the uploader can fix it (a 4xx), as opposed to a failure on our side.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, ImportError::BadTenantCurrency(_) | ImportError::SourceChanged | ImportError::Io(_))
    }

    /// The bad-row report, when that is what went wrong.
    pub fn report(&self) -> Option<&RowReport> {
        match self {
            ImportError::Rows(report) => Some(report),
            _ => None,
        }
    }
}

/// Writing failed: the upload itself, or the caller's sink.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("writing a batch failed: {0}")]
    Sink(E),
}
