//! Small PDFs written with lopdf (feature `pdf`), for the tests that upload or read one: pages
//! of Helvetica text lines, or pages whose content streams the test writes itself.

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// One page's lines, as [`pdf`] takes them.
pub fn page(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| (*l).to_owned()).collect()
}

/// A PDF whose pages each show the given lines (one `Td` line each) in Helvetica 11, with
/// `title` in its document information when given.
pub fn pdf(title: Option<&str>, pages: &[Vec<String>]) -> Vec<u8> {
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
pub fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
}

/// A PDF with one page per entry of `pages`, whose content stream is `ops` of that entry; the
/// pages' resources name Helvetica (WinAnsiEncoding) `F1`.
pub fn pdf_with(title: Option<&str>, pages: &[Vec<String>], ops: impl Fn(&[String]) -> Vec<Operation>) -> Vec<u8> {
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
