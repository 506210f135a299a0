//! Fixtures and a small PDF writer (lopdf) for the tests.

use std::path::PathBuf;

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use tria_ingest::{ExtractedDocument, IngestError, IngestOptions, Upload};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ingest").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn read(body: &[u8], content_type: &str) -> Result<ExtractedDocument, IngestError> {
    tria_ingest::extract(&Upload { body, content_type, title: None }, &IngestOptions::default())
}

/// A PDF whose pages each show the given lines (one `Td` line each) in Helvetica.
pub(crate) fn pdf(title: Option<&str>, pages: &[Vec<String>]) -> Vec<u8> {
    pdf_with(title, pages, |lines| {
        let mut ops = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 11.into()])];
        ops.push(Operation::new("Td", vec![72.into(), 770.into()]));
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                ops.push(Operation::new("Td", vec![0.into(), (-14).into()]));
            }
            ops.push(Operation::new("Tj", vec![Object::string_literal(win_ansi(line))]));
        }
        ops.push(Operation::new("ET", vec![]));
        ops
    })
}

/// Latin-1 bytes, which WinAnsiEncoding shares above 0xA0.
pub(crate) fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
}

/// A PDF whose pages' content streams are given as operations.
pub(crate) fn pdf_with(title: Option<&str>, pages: &[Vec<String>], ops: impl Fn(&[String]) -> Vec<Operation>) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for lines in pages {
        let content = Content { operations: ops(lines) };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("encodes")));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page_id.into());
    }
    let count = i64::try_from(kids.len()).expect("page count");
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    if let Some(title) = title {
        let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal(title) });
        doc.trailer.set("Info", info_id);
    }
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saves");
    out
}

/// A three-page staff handbook.
pub(crate) fn handbook_pdf() -> Vec<u8> {
    let page = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    pdf(
        Some("Staff Handbook"),
        &[
            page(&["Welcome to Harbour & Pine.", "This handbook explains our customer policies."]),
            page(&["Returns are accepted within 30 days.", "Refunds take 5 business days."]),
            page(&["Deliveries leave our warehouse at 2 pm.", "Caf\u{e9} orders ship separately."]),
        ],
    )
}
