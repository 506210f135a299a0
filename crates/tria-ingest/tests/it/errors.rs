use tria_ingest::{DocumentKind, IngestError, IngestOptions, Upload};

use crate::support::{fixture, handbook_pdf, read};

#[test]
fn over_the_size_limit() {
    let body = vec![b'a'; 101];
    let options = IngestOptions { max_bytes: 100, ..IngestOptions::default() };
    let got = tria_ingest::extract(&Upload { body: &body, content_type: "text/plain", title: None }, &options);
    assert_eq!(got, Err(IngestError::TooLarge { limit: 100, actual: 101 }));
    assert_eq!(IngestOptions::default().max_bytes, 20 * 1024 * 1024);
}

#[test]
fn unsupported_types_and_charsets() {
    let err = read(b"a,b\n1,2\n", "text/csv").expect_err("refused");
    assert_eq!(err, IngestError::UnsupportedType("text/csv".into()));
    assert_eq!(err.code(), "unsupported_content_type");
    assert_eq!(read(b"x", "text/plain; charset=ebcdic-42"), Err(IngestError::UnsupportedCharset("ebcdic-42".into())));
}

#[test]
fn bodies_that_are_not_the_declared_type() {
    let html_as_pdf = read(&fixture("help-page.html"), "application/pdf").expect_err("refused");
    assert_eq!(html_as_pdf, IngestError::NotTheDeclaredType { declared: DocumentKind::Pdf, found: "HTML" });
    assert_eq!(html_as_pdf.to_string(), "declared as application/pdf but the body looks like HTML");
    assert_eq!(
        read(b"just some words", "application/pdf"),
        Err(IngestError::NotTheDeclaredType { declared: DocumentKind::Pdf, found: "text" })
    );
    assert_eq!(
        read(&handbook_pdf(), "text/markdown"),
        Err(IngestError::NotTheDeclaredType { declared: DocumentKind::Markdown, found: "a PDF" })
    );
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    assert_eq!(read(png, "text/html"), Err(IngestError::NotTheDeclaredType { declared: DocumentKind::Html, found: "a PNG image" }));
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    assert_eq!(
        read(&binary, "text/markdown"),
        Err(IngestError::NotTheDeclaredType { declared: DocumentKind::Markdown, found: "binary data" })
    );
}

#[test]
fn text_that_is_not_utf8() {
    let got = read(b"# Caf\xe9\n\nCr\xe8me.\n", "text/markdown");
    assert_eq!(got, Err(IngestError::BadEncoding { charset: "UTF-8", offset: 5 }));
    assert_eq!(got.expect_err("bad").code(), "bad_encoding");
}

#[test]
fn a_corrupt_pdf_is_malformed() {
    let got = read(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF", "application/pdf");
    assert!(matches!(got, Err(IngestError::Malformed { kind: DocumentKind::Pdf, .. })), "{got:?}");
    let got = read(b"%PDF-1.4\n\x00\x01\x02garbage garbage", "application/pdf");
    assert!(matches!(got, Err(IngestError::Malformed { .. })), "{got:?}");
}

#[test]
fn documents_without_text() {
    for (body, content_type) in [
        (&b""[..], "text/plain"),
        (b"   \n\n\t\n", "text/markdown"),
        (b"# Just a heading\n", "text/markdown"),
        (b"<html><head><title>Empty</title><script>var x = 1;</script></head><body><nav>Menu</nav></body></html>", "text/html"),
    ] {
        assert_eq!(read(body, content_type), Err(IngestError::NoText), "{content_type}: {:?}", String::from_utf8_lossy(body));
    }
}
