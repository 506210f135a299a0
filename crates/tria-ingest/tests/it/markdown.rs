use tria_ingest::{DocumentKind, IngestOptions, Upload};

use crate::support::{fixture, read};

#[test]
fn headings_give_the_heading_path() {
    let doc = read(&fixture("returns-policy.md"), "text/markdown").expect("reads");
    assert_eq!(doc.title, "Returns and Refunds");
    assert_eq!(doc.kind, DocumentKind::Markdown);
    let paths: Vec<String> = doc.sections.iter().map(|s| s.heading_path.join(" / ")).collect();
    assert_eq!(
        paths,
        [
            "Returns and Refunds",
            "Returns and Refunds / Return window",
            "Returns and Refunds / Return window / Items we cannot take back",
            "Returns and Refunds / Refunds",
            "Returns and Refunds / Exchanges",
        ]
    );
    let refunds = &doc.sections[3];
    assert!(refunds.text.starts_with("Refunds go back"), "{}", refunds.text);
    assert!(refunds.text.contains("- Store credit: immediately."));
    assert!(doc.sections[2].text.contains("# this line is inside a code block"), "code blocks are not headings");
    assert!(doc.sections.iter().all(|s| s.page.is_none()));
}

#[test]
fn a_given_title_wins_and_a_bom_and_crlf_are_fine() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(b"# Hours\r\n\r\nOpen 9 to 5.\r\n");
    let upload = Upload { body: &body, content_type: "text/markdown; charset=utf-8", title: Some("  Opening   hours ") };
    let doc = tria_ingest::extract(&upload, &IngestOptions::default()).expect("reads");
    assert_eq!(doc.title, "Opening hours");
    assert_eq!(doc.sections[0].heading_path, ["Hours"]);
    assert_eq!(doc.sections[0].text, "Open 9 to 5.");
}

#[test]
fn plain_text_is_one_section_with_its_paragraphs() {
    let doc = read(b"Opening hours\n\nWe open at 9.   \nWe close at 5.\n\n\n\nClosed on Sundays.\n", "text/plain").expect("reads");
    assert_eq!(doc.title, tria_ingest::UNTITLED);
    assert_eq!(doc.sections.len(), 1);
    assert!(doc.sections[0].heading_path.is_empty());
    assert_eq!(doc.sections[0].text, "Opening hours\n\nWe open at 9.\nWe close at 5.\n\nClosed on Sundays.");
}

#[test]
fn windows_1252_is_read_when_declared() {
    let body = b"Caf\xe9 cr\xe8me \x80 5\n";
    let doc = read(body, "text/plain; charset=windows-1252").expect("reads");
    assert_eq!(doc.sections[0].text, "Caf\u{e9} cr\u{e8}me \u{20ac} 5");
    let latin1 = read(body, "text/plain; charset=ISO-8859-1").expect("reads");
    assert_eq!(latin1.sections[0].text, doc.sections[0].text);
}
