//! PDF text, page by page, with lopdf: each page's content stream is walked for its text
//! operators, decoded through the page's font encodings (ToUnicode maps included).
//!
//! lopdf bounds nesting and decompression itself; the page count and the text kept are bounded
//! here, and a panic inside the parser is caught and reported as a malformed PDF.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::content::Content;
use lopdf::{Document, Encoding, LoadOptions, Object, ObjectId};

use crate::text::{sniff_binary, tidy_paragraphs};
use crate::{DocumentKind, IngestError, IngestOptions, Section};

/// Largest decompressed stream (page content, font map) read: far above any real page.
const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;
/// Most text kept from one document; a crafted file repeating a string cannot grow past it.
const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;
/// A `TJ` gap wider than this (thousandths of an em, negative moves right) is a word space.
const TJ_WORD_GAP: f32 = -180.0;

pub(crate) fn extract(body: &[u8], options: &IngestOptions) -> Result<(Option<String>, Vec<Section>), IngestError> {
    let header_at = body.windows(5).take(1024).position(|w| w == b"%PDF-");
    if header_at.is_none() {
        return Err(IngestError::NotTheDeclaredType { declared: DocumentKind::Pdf, found: sniff_kind(body) });
    }
    catch_unwind(AssertUnwindSafe(|| read(body, options))).unwrap_or_else(|_| Err(malformed("the PDF parser could not read it")))
}

fn malformed(reason: impl Into<String>) -> IngestError {
    IngestError::Malformed { kind: DocumentKind::Pdf, reason: reason.into() }
}

/// What a body that is not a PDF looks like, for the error message.
fn sniff_kind(body: &[u8]) -> &'static str {
    if let Some(binary) = sniff_binary(body) {
        return binary;
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<body") { "HTML" } else { "text" }
}

fn read(body: &[u8], options: &IngestOptions) -> Result<(Option<String>, Vec<Section>), IngestError> {
    let load = LoadOptions { max_decompressed_size: Some(MAX_STREAM_BYTES), ..LoadOptions::default() };
    let doc = Document::load_mem_with_options(body, load).map_err(|e| malformed(e.to_string()))?;
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        return Err(malformed("it is encrypted with a password"));
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(malformed("it has no pages"));
    }
    let page_count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    if page_count > options.max_pdf_pages {
        return Err(IngestError::TooManyPages { limit: options.max_pdf_pages, actual: page_count });
    }
    let mut sections = Vec::new();
    let mut first_error = None;
    let mut text_bytes = 0;
    for (number, page_id) in pages {
        match page_text(&doc, page_id) {
            Ok(text) => {
                let lines: Vec<String> = text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
                let text = tidy_paragraphs(&lines.join("\n"));
                text_bytes += text.len();
                if text_bytes > MAX_TEXT_BYTES {
                    return Err(malformed("it holds more text than any real document"));
                }
                if !text.is_empty() {
                    sections.push(Section { heading_path: Vec::new(), text, page: Some(number) });
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // Pages that fail are skipped; a document whose every page failed is malformed, not empty.
    if let (true, Some(e)) = (sections.is_empty(), first_error) {
        return Err(malformed(e.to_string()));
    }
    Ok((info_title(&doc), sections))
}

fn info_title(doc: &Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let (_, info) = doc.dereference(info).ok()?;
    let title = info.as_dict().ok()?.get(b"Title").ok()?;
    let (_, title) = doc.dereference(title).ok()?;
    lopdf::decode_text_string(title).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The text of one page, a line per text line as the content stream positions it.
fn page_text(doc: &Document, page_id: ObjectId) -> lopdf::Result<String> {
    let encodings: BTreeMap<Vec<u8>, Encoding<'_>> = doc
        .get_page_fonts(page_id)?
        .into_iter()
        .filter_map(|(name, font)| font.get_font_encoding_with_limit(doc, MAX_STREAM_BYTES).ok().map(|e| (name, e)))
        .collect();
    let content = doc.get_page_content_with_limit(page_id, MAX_STREAM_BYTES)?;
    let mut out = PageText::default();
    let mut font: Option<&Encoding<'_>> = None;
    // A stream that breaks part-way keeps the text before the break.
    for operation in Content::decode_iter(&content).map_while(Result::ok) {
        let operands = &operation.operands;
        match operation.operator.as_str() {
            "Tf" => font = operands.first().and_then(|o| o.as_name().ok()).and_then(|n| encodings.get(n)),
            "Tj" => out.show(font, operands.first()),
            "TJ" => {
                for item in operands.first().and_then(|o| o.as_array().ok()).into_iter().flatten() {
                    match item {
                        Object::String(..) => out.show(font, Some(item)),
                        other => {
                            if other.as_float().is_ok_and(|gap| gap < TJ_WORD_GAP) {
                                out.space();
                            }
                        }
                    }
                }
            }
            "'" => {
                out.new_line();
                out.show(font, operands.first());
            }
            "\"" => {
                out.new_line();
                out.show(font, operands.get(2));
            }
            "Td" | "TD" => {
                let dy = operands.get(1).and_then(|o| o.as_float().ok()).unwrap_or(0.0);
                if dy.abs() > f32::EPSILON { out.new_line() } else { out.space() }
            }
            "Tm" => {
                let y = operands.get(5).and_then(|o| o.as_float().ok());
                if y != out.line_y {
                    out.new_line()
                } else {
                    out.space()
                }
                out.line_y = y;
            }
            "T*" | "ET" => out.new_line(),
            _ => {}
        }
    }
    Ok(out.text)
}

#[derive(Default)]
struct PageText {
    text: String,
    /// The vertical position last set by `Tm`, to tell a new line from a move along it.
    line_y: Option<f32>,
}

impl PageText {
    fn show(&mut self, font: Option<&Encoding<'_>>, string: Option<&Object>) {
        let (Some(font), Some(Object::String(bytes, _))) = (font, string) else { return };
        let Ok(decoded) = font.bytes_to_string(bytes) else { return };
        // Fonts without a Unicode map decode to control characters; they are not text.
        self.text.extend(decoded.chars().filter(|c| !c.is_control() || *c == '\n').map(|c| if c == '\n' { ' ' } else { c }));
    }

    fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with([' ', '\n']) {
            self.text.push(' ');
        }
    }

    fn new_line(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }
}
