//! What can be wrong with an upload. Every variant is the uploader's problem (a 4xx at the
//! server); nothing here means Tria broke.

use crate::DocumentKind;

/// Why a document could not be read. `code` is the stable name for an HTTP error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Over the configured size limit (HTTP 413).
    #[error("the document is {actual} bytes, over the limit of {limit} bytes")]
    TooLarge { limit: usize, actual: usize },
    /// A content type Tria does not read (HTTP 415).
    #[error("unsupported content type `{0}`: send text/markdown, text/plain, text/html or application/pdf")]
    UnsupportedType(String),
    /// A `charset` parameter naming no encoding Tria knows (HTTP 415).
    #[error("unsupported charset `{0}`: send UTF-8, or declare a charset such as windows-1252")]
    UnsupportedCharset(String),
    /// The bytes are not what the content type says, e.g. HTML sent as `application/pdf`.
    #[error("declared as {declared} but the body looks like {found}")]
    NotTheDeclaredType { declared: DocumentKind, found: &'static str },
    /// Text that is not valid in its charset (UTF-8 unless another was declared).
    #[error("the body is not valid {charset} (first bad byte at offset {offset})")]
    BadEncoding { charset: &'static str, offset: usize },
    /// A PDF that cannot be parsed.
    #[error("malformed {kind}: {reason}")]
    Malformed { kind: DocumentKind, reason: String },
    /// A PDF with more pages than the limit (they would all have to be read to index it).
    #[error("the PDF has {actual} pages, over the limit of {limit}")]
    TooManyPages { limit: u32, actual: u32 },
    /// Readable, but nothing to index: an empty page, a scanned PDF with no text layer.
    #[error("the document contains no text to index")]
    NoText,
}

impl IngestError {
    /// A stable machine-readable name for the error body's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "document_too_large",
            Self::UnsupportedType(_) => "unsupported_content_type",
            Self::UnsupportedCharset(_) => "unsupported_charset",
            Self::NotTheDeclaredType { .. } => "not_the_declared_type",
            Self::BadEncoding { .. } => "bad_encoding",
            Self::Malformed { .. } => "malformed_document",
            Self::TooManyPages { .. } => "too_many_pages",
            Self::NoText => "no_text",
        }
    }
}
