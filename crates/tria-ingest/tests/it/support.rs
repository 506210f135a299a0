//! Fixtures and PDFs (the testkit's lopdf writer) for the tests.

use std::path::PathBuf;

use tria_ingest::{ExtractedDocument, IngestError, IngestOptions, Upload};
pub(crate) use tria_testkit::pdf::{page, pdf, pdf_with, win_ansi};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ingest").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn read(body: &[u8], content_type: &str) -> Result<ExtractedDocument, IngestError> {
    tria_ingest::extract(&Upload { body, content_type, title: None }, &IngestOptions::default())
}

/// A three-page staff handbook.
pub(crate) fn handbook_pdf() -> Vec<u8> {
    pdf(
        Some("Staff Handbook"),
        &[
            page(&["Welcome to Harbour & Pine.", "This handbook explains our customer policies."]),
            page(&["Returns are accepted within 30 days.", "Refunds take 5 business days."]),
            page(&["Deliveries leave our warehouse at 2 pm.", "Caf\u{e9} orders ship separately."]),
        ],
    )
}
