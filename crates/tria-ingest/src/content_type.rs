//! The declared `Content-Type`: which reader to use, and the charset of a text body.

use std::fmt;

use encoding_rs::Encoding;

use crate::IngestError;

/// The kinds of document Tria reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Markdown,
    PlainText,
    Html,
    Pdf,
}

impl DocumentKind {
    /// The canonical media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown",
            Self::PlainText => "text/plain",
            Self::Html => "text/html",
            Self::Pdf => "application/pdf",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.media_type())
    }
}

/// A parsed `Content-Type` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredType {
    pub kind: DocumentKind,
    /// The `charset` parameter, when given (ignored for PDF).
    pub charset: Option<&'static Encoding>,
}

impl DeclaredType {
    /// Parses `type/subtype; charset=label` (case-insensitive, the label possibly quoted).
    /// `text/x-markdown` is accepted for Markdown, as older tools send it.
    pub fn parse(header: &str) -> Result<Self, IngestError> {
        let mut parts = header.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let kind = match essence.as_str() {
            "text/markdown" | "text/x-markdown" => DocumentKind::Markdown,
            "text/plain" => DocumentKind::PlainText,
            "text/html" => DocumentKind::Html,
            "application/pdf" => DocumentKind::Pdf,
            _ => return Err(IngestError::UnsupportedType(header.trim().to_owned())),
        };
        let mut charset = None;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else { continue };
            if name.trim().eq_ignore_ascii_case("charset") {
                let label = value.trim().trim_matches('"');
                let encoding = Encoding::for_label(label.as_bytes()).ok_or_else(|| IngestError::UnsupportedCharset(label.to_owned()))?;
                charset = Some(encoding);
            }
        }
        Ok(Self { kind, charset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types_and_charsets() {
        let t = DeclaredType::parse("Text/HTML; Charset=\"ISO-8859-1\"").expect("parses");
        assert_eq!(t.kind, DocumentKind::Html);
        // WHATWG maps the latin-1 labels to windows-1252.
        assert_eq!(t.charset, Some(encoding_rs::WINDOWS_1252));
        assert_eq!(DeclaredType::parse("text/markdown").expect("md").charset, None);
        assert_eq!(DeclaredType::parse("application/pdf").expect("pdf").kind, DocumentKind::Pdf);
        assert!(matches!(DeclaredType::parse("image/png"), Err(IngestError::UnsupportedType(t)) if t == "image/png"));
        assert!(matches!(DeclaredType::parse("text/plain; charset=klingon"), Err(IngestError::UnsupportedCharset(_))));
    }
}
