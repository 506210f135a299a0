//! Uploaded documents (Markdown, plain text, HTML, PDF) read into heading-pathed text sections,
//! with a typed error for every bad upload; `to_chunks` hands them to tria-rag's chunker.

mod chunks;
mod content_type;
mod error;
mod html;
mod markdown;
mod pdf;
mod text;

pub use chunks::{DocumentChunk, page_label, to_chunks};
pub use content_type::{DeclaredType, DocumentKind};
pub use error::IngestError;

/// The title of a document that has none of its own and was given none.
pub const UNTITLED: &str = "Untitled document";

/// Limits applied to every upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestOptions {
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// Most pages a PDF may have.
    pub max_pdf_pages: u32,
}

impl IngestOptions {
    /// 20 MB, the suggested limit.
    pub const DEFAULT_MAX_BYTES: usize = 20 * 1024 * 1024;
    /// Far above a real policy handbook, low enough that a crafted page tree cannot keep a
    /// worker busy for minutes.
    pub const DEFAULT_MAX_PDF_PAGES: u32 = 5_000;
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { max_bytes: Self::DEFAULT_MAX_BYTES, max_pdf_pages: Self::DEFAULT_MAX_PDF_PAGES }
    }
}

/// One uploaded document as it arrived.
#[derive(Clone, Copy, Debug)]
pub struct Upload<'a> {
    pub body: &'a [u8],
    /// The `Content-Type` header, e.g. `text/html; charset=windows-1252`.
    pub content_type: &'a str,
    /// A title given with the upload (`?title=`); wins over the document's own.
    pub title: Option<&'a str>,
}

/// A document's text, cut at its headings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedDocument {
    /// The given title, else the document's own (Markdown's first `# ` heading, HTML's
    /// `<title>` or first `<h1>`, the PDF's Info `/Title`), else [`UNTITLED`].
    pub title: String,
    pub kind: DocumentKind,
    /// In document order; never empty, and no section has empty text.
    pub sections: Vec<Section>,
}

/// The text under one heading (or of one PDF page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Headings above the text, outermost first (may start with the title); empty for text
    /// before the first heading and for PDF pages.
    pub heading_path: Vec<String>,
    /// Paragraphs separated by blank lines; lines within a paragraph by `\n`.
    pub text: String,
    /// 1-based page number, for PDF sections.
    pub page: Option<u32>,
}

/// Reads `upload` into sections, checking size, type and encoding first.
pub fn extract(upload: &Upload<'_>, options: &IngestOptions) -> Result<ExtractedDocument, IngestError> {
    if upload.body.len() > options.max_bytes {
        return Err(IngestError::TooLarge { limit: options.max_bytes, actual: upload.body.len() });
    }
    let declared = DeclaredType::parse(upload.content_type)?;
    let (own_title, sections) = match declared.kind {
        DocumentKind::Pdf => pdf::extract(upload.body, options)?,
        kind => {
            let text = text::decode(upload.body, &declared)?;
            match kind {
                DocumentKind::Markdown => markdown::extract(&text),
                DocumentKind::Html => html::extract(&text),
                _ => (None, text::plain_sections(&text)),
            }
        }
    };
    let sections: Vec<Section> = sections.into_iter().filter(|s| !s.text.trim().is_empty()).collect();
    if sections.is_empty() {
        return Err(IngestError::NoText);
    }
    let title = [upload.title, own_title.as_deref()]
        .into_iter()
        .flatten()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|t| !t.is_empty())
        .unwrap_or_else(|| UNTITLED.to_owned());
    Ok(ExtractedDocument { title, kind: declared.kind, sections })
}
