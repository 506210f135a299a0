//! The adapter to tria-rag: sections become the `Chunk`s policy ingestion stores, cut by the
//! same chunker (token budget, sentence boundaries, overlap) as fixture policies.

use tria_rag::RagError;
use tria_rag::chunk::{Chunk, ChunkOptions, HEADING_SEPARATOR, chunk_markdown};

use crate::ExtractedDocument;

/// A chunk and the PDF page its text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentChunk {
    /// `heading_path` starts with the document title, as for fixture policies; a PDF page's
    /// chunks end it with [`page_label`] so citations name the page without a schema change.
    pub chunk: Chunk,
    pub page: Option<u32>,
}

/// How a page shows in a heading path: `page 3`.
pub fn page_label(page: u32) -> String {
    format!("page {page}")
}

/// Cuts every section with tria-rag's `chunk_markdown`, in document order.
///
/// Each section is handed over as a small Markdown document: its heading path as `#` lines,
/// then its text with any line that would read as a heading indented by a space (the chunker
/// trims lines, so the text is unchanged). A Markdown upload therefore chunks exactly as
/// `chunk_markdown(title, original)` does.
pub fn to_chunks(document: &ExtractedDocument, options: ChunkOptions) -> Result<Vec<DocumentChunk>, RagError> {
    let mut out = Vec::new();
    for section in &document.sections {
        let mut headings: Vec<String> = section.heading_path.clone();
        if let Some(page) = section.page {
            if headings.is_empty() {
                headings.push(document.title.clone());
            }
            headings.push(page_label(page));
        }
        let mut markdown = String::new();
        for (depth, heading) in headings.iter().enumerate() {
            // Markdown has six levels; deeper headings (never produced today) join the sixth.
            let level = (depth + 1).min(6);
            if depth >= 6 {
                markdown.pop();
                markdown.push_str(HEADING_SEPARATOR);
            } else {
                markdown.push_str(&"#".repeat(level));
                markdown.push(' ');
            }
            markdown.push_str(&heading.replace(['\n', '\r'], " "));
            markdown.push('\n');
        }
        markdown.push('\n');
        for line in section.text.lines() {
            if line.starts_with('#') {
                markdown.push(' ');
            }
            markdown.push_str(line);
            markdown.push('\n');
        }
        let chunks = chunk_markdown(&document.title, &markdown, options)?;
        out.extend(chunks.into_iter().map(|chunk| DocumentChunk { chunk, page: section.page }));
    }
    Ok(out)
}
