use std::path::PathBuf;

use tria_ingest::{IngestOptions, Upload, page_label, to_chunks};
use tria_rag::chunk::{ChunkOptions, chunk_markdown, document_title};

use crate::support::{fixture, handbook_pdf, read};

/// An uploaded Markdown policy chunks exactly as the same file does through fixture seeding.
#[test]
fn markdown_uploads_chunk_exactly_like_fixture_policies() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tenants");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tenants")
        .flat_map(|t| std::fs::read_dir(t.expect("tenant").path().join("policies")).into_iter().flatten())
        .map(|e| e.expect("entry").path())
        .collect();
    files.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ingest/returns-policy.md"));
    assert!(files.len() > 5);
    for path in files {
        let markdown = std::fs::read_to_string(&path).expect("reads");
        let title = document_title(&markdown, "fallback");
        let upload = Upload { body: markdown.as_bytes(), content_type: "text/markdown", title: Some(&title) };
        let doc = tria_ingest::extract(&upload, &IngestOptions::default()).expect("extracts");
        let ours: Vec<_> = to_chunks(&doc, ChunkOptions::default()).expect("chunks").into_iter().map(|c| c.chunk).collect();
        let theirs = chunk_markdown(&title, &markdown, ChunkOptions::default()).expect("chunks");
        assert_eq!(ours, theirs, "{}", path.display());
    }
}

#[test]
fn html_chunks_cite_their_headings() {
    let doc = read(&fixture("help-page.html"), "text/html").expect("reads");
    let chunks = to_chunks(&doc, ChunkOptions::default()).expect("chunks");
    let paths: Vec<&str> = chunks.iter().map(|c| c.chunk.heading_path.as_str()).collect();
    let title = "Shipping & Delivery | Harbour & Pine Help Centre";
    assert_eq!(
        paths,
        [
            format!("{title} › Shipping & Delivery"),
            format!("{title} › Shipping & Delivery › Delivery times"),
            format!("{title} › Shipping & Delivery › Delivery times › Tracking your parcel"),
            format!("{title} › Shipping & Delivery › Missing parcels"),
        ]
    );
    assert!(chunks[1].chunk.text.contains("Express | Next day | \u{a3}9.95"));
}

#[test]
fn pdf_chunks_name_their_page() {
    let doc = read(&handbook_pdf(), "application/pdf").expect("reads");
    let chunks = to_chunks(&doc, ChunkOptions::default()).expect("chunks");
    assert_eq!(chunks.len(), 3);
    for (i, c) in chunks.iter().enumerate() {
        let page = u32::try_from(i + 1).expect("page");
        assert_eq!(c.page, Some(page));
        assert_eq!(c.chunk.heading_path, format!("Staff Handbook › {}", page_label(page)));
    }
    assert_eq!(chunks[1].chunk.text, "Returns are accepted within 30 days. Refunds take 5 business days.");
}

#[test]
fn text_lines_that_look_like_headings_stay_text() {
    let doc = read(b"<h1>Tags</h1><p># not a heading</p><p>## nor this</p>", "text/html").expect("reads");
    let chunks = to_chunks(&doc, ChunkOptions::default()).expect("chunks");
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].chunk.heading_path, "Tags");
    assert_eq!(chunks[0].chunk.text, "# not a heading ## nor this");
}
