//! Hostile input: random and damaged bodies of every type return a result (never panic), and
//! the shapes that break naive readers (deep nesting, long page-tree chains) finish quickly.

use std::time::{Duration, Instant};

use lopdf::content::Operation;
use proptest::prelude::*;
use tria_ingest::{IngestError, IngestOptions, Upload};

use crate::support::{fixture, handbook_pdf, pdf_with, read};

const TYPES: [&str; 5] = ["text/markdown", "text/plain", "text/html", "application/pdf", "text/html; charset=windows-1252"];

fn extract(body: &[u8], content_type: &str) -> Result<tria_ingest::ExtractedDocument, IngestError> {
    tria_ingest::extract(&Upload { body, content_type, title: None }, &IngestOptions::default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048), t in 0..TYPES.len()) {
        let _ = extract(&body, TYPES[t]);
        // The same bytes behind a PDF header reach the PDF parser itself.
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend_from_slice(&body);
        let _ = extract(&pdf, "application/pdf");
    }

    #[test]
    fn random_markup_never_panics(body in "(<[a-z/!]{0,8}[ a-z=\"]{0,10}>?|&[a-z#0-9]{0,6};?|[a-z #\n]{0,12}){0,64}") {
        for t in TYPES {
            let _ = extract(body.as_bytes(), t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn damaged_documents_never_panic(cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..8)) {
        for (mut body, t) in [(handbook_pdf(), "application/pdf"), (fixture("help-page.html"), "text/html"), (fixture("returns-policy.md"), "text/markdown")] {
            for (at, byte) in &flips {
                let i = ((body.len() as f64) * at) as usize % body.len();
                body[i] = *byte;
            }
            let truncated = &body[..((body.len() as f64) * cut) as usize];
            let _ = extract(&body, t);
            let _ = extract(truncated, t);
        }
    }
}

/// Runs `f` on a thread with a 256 KiB stack (a recursive reader would overflow it) and fails
/// if it takes longer than `limit`.
fn on_small_stack<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let started = Instant::now();
    let out = std::thread::Builder::new().stack_size(256 * 1024).spawn(f).expect("spawns").join().expect("no overflow or panic");
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
    out
}

#[test]
fn deeply_nested_html_is_read_without_recursion() {
    let doc = on_small_stack(Duration::from_secs(20), || {
        let depth = 200_000;
        let html = format!("<h1>Deep</h1>{}<p>bottom text</p>{}", "<div><span>".repeat(depth), "</span></div>".repeat(depth));
        read(html.as_bytes(), "text/html")
    })
    .expect("reads");
    assert_eq!(doc.sections[0].text, "bottom text");
    // Unclosed elements and stray end tags cost no more than the markup's length.
    let doc = on_small_stack(Duration::from_secs(20), || {
        let html = format!("<p>start{}{}<p>end", "<b><i><table><tr><td>".repeat(50_000), "</em>".repeat(100_000));
        read(html.as_bytes(), "text/html")
    })
    .expect("reads");
    assert!(doc.sections[0].text.starts_with("start"));
}

#[test]
fn deeply_nested_markdown_lists_and_quotes_are_text() {
    let doc = on_small_stack(Duration::from_secs(20), || {
        let md = format!("# Deep\n\n{}text\n", "> - ".repeat(100_000));
        read(md.as_bytes(), "text/markdown")
    })
    .expect("reads");
    assert_eq!(doc.sections.len(), 1);
}

#[test]
fn deeply_nested_pdf_arrays_and_page_trees_do_not_overflow() {
    // A content stream whose TJ operand is nested 100,000 arrays deep.
    let deep = pdf_with(None, &[vec![]], |_| {
        let mut bytes = b"BT /F1 12 Tf ".to_vec();
        bytes.extend(std::iter::repeat_n(b'[', 100_000));
        bytes.extend(std::iter::repeat_n(b']', 100_000));
        bytes.extend_from_slice(b" TJ (after) Tj ET");
        vec![Operation::new("BI", vec![lopdf::Object::string_literal(bytes)])]
    });
    let _ = on_small_stack(Duration::from_secs(30), move || read(&deep, "application/pdf"));

    // A page tree 20,000 `Pages` nodes deep around one page.
    let chain = page_tree_chain(20_000);
    let got = on_small_stack(Duration::from_secs(30), move || read(&chain, "application/pdf"));
    assert!(got.is_err() || got.as_ref().is_ok_and(|d| d.sections.len() <= 1), "{got:?}");
}

/// A hand-written PDF whose page sits under `depth` nested page-tree nodes.
fn page_tree_chain(depth: usize) -> Vec<u8> {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 3 0 R >>".to_owned(),
        "<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 700 Td (deep page) Tj ET\nendstream".to_owned(),
    ];
    for i in 0..depth {
        let id = i + 3;
        let kid = if i + 1 == depth { depth + 3 } else { id + 1 };
        let parent = if i == 0 { String::new() } else { format!("/Parent {} 0 R", id - 1) };
        objects.push(format!("<< /Type /Pages /Kids [{kid} 0 R] /Count 1 {parent} >>"));
    }
    objects.push(format!(
        "<< /Type /Page /Parent {} 0 R /Contents 2 0 R /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        depth + 2
    ));
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}
