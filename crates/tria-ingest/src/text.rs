//! Text bodies: checking they are text at all, decoding their charset, and plain text's single
//! section.

use encoding_rs::{Encoding, UTF_8};

use crate::{DeclaredType, DocumentKind, IngestError, Section};

/// What the first bytes say a body is, for `NotTheDeclaredType`; `None` when it may be text.
pub(crate) fn sniff_binary(body: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF-", "a PDF"),
        (b"PK\x03\x04", "a ZIP archive (e.g. .docx)"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\xD0\xCF\x11\xE0", "an old Office document"),
        (b"\x1F\x8B", "gzip-compressed data"),
    ];
    if let Some((_, what)) = MAGIC.iter().find(|(magic, _)| body.starts_with(magic)) {
        return Some(what);
    }
    // Text has no NULs and few control characters; a UTF-16 body (which has NULs) is only
    // text when its BOM says so.
    if Encoding::for_bom(body).is_some_and(|(e, _)| e != UTF_8) {
        return None;
    }
    let controls = body.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)).count();
    let has_nul = body.contains(&0);
    (has_nul || controls * 100 > body.len()).then_some("binary data")
}

/// Decodes a text body: a BOM wins, then the declared charset, then (for HTML) a
/// `<meta charset>` in the first KiB, then UTF-8. Line ends become `\n`.
pub(crate) fn decode(body: &[u8], declared: &DeclaredType) -> Result<String, IngestError> {
    if let Some(found) = sniff_binary(body) {
        return Err(IngestError::NotTheDeclaredType { declared: declared.kind, found });
    }
    let (encoding, bom_len) = match Encoding::for_bom(body) {
        Some((encoding, len)) => (encoding, len),
        None => {
            let meta = (declared.kind == DocumentKind::Html).then(|| meta_charset(body)).flatten();
            (declared.charset.or(meta).unwrap_or(UTF_8), 0)
        }
    };
    let bytes = &body[bom_len..];
    let text = if encoding == UTF_8 {
        std::str::from_utf8(bytes).map_err(|e| IngestError::BadEncoding { charset: "UTF-8", offset: bom_len + e.valid_up_to() })?.to_owned()
    } else {
        encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or(IngestError::BadEncoding { charset: encoding.name(), offset: bom_len })?
            .into_owned()
    };
    Ok(if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text })
}

/// The `charset=` of a `<meta>` within the first KiB (what browsers pre-scan), ASCII-only.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    Encoding::for_label(label.as_bytes())
}

/// Plain text is one section: trailing spaces dropped, runs of blank lines cut to one.
pub(crate) fn plain_sections(text: &str) -> Vec<Section> {
    vec![Section { heading_path: Vec::new(), text: tidy_paragraphs(text), page: None }]
}

/// Trims each line's end and collapses blank-line runs, keeping paragraphs apart.
pub(crate) fn tidy_paragraphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidies_paragraphs() {
        assert_eq!(tidy_paragraphs("a  \nb\n\n\n\nc\n"), "a\nb\n\nc");
    }

    #[test]
    fn sniffs_binary() {
        assert_eq!(sniff_binary(b"%PDF-1.7\n"), Some("a PDF"));
        assert_eq!(sniff_binary(b"abc\0def"), Some("binary data"));
        assert_eq!(sniff_binary("plain text, caf\u{e9}\n".as_bytes()), None);
        assert_eq!(sniff_binary(b"\xFF\xFEh\0i\0"), None, "UTF-16 with a BOM is text");
    }
}
