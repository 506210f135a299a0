use tria_ingest::{DocumentKind, Section};

use crate::support::{fixture, read};

fn help_page() -> tria_ingest::ExtractedDocument {
    read(&fixture("help-page.html"), "text/html; charset=utf-8").expect("reads")
}

fn all_text(sections: &[Section]) -> String {
    sections.iter().map(|s| format!("{}\n{}", s.heading_path.join(" / "), s.text)).collect::<Vec<_>>().join("\n")
}

#[test]
fn headings_give_the_heading_path_and_entities_are_decoded() {
    let doc = help_page();
    assert_eq!(doc.kind, DocumentKind::Html);
    assert_eq!(doc.title, "Shipping & Delivery | Harbour & Pine Help Centre");
    let paths: Vec<String> = doc.sections.iter().map(|s| s.heading_path.join(" / ")).collect();
    assert_eq!(
        paths,
        [
            // The site name in the page banner is dropped with the banner, so the page starts at its h1.
            "Shipping & Delivery",
            "Shipping & Delivery / Delivery times",
            "Shipping & Delivery / Delivery times / Tracking your parcel",
            "Shipping & Delivery / Missing parcels",
        ]
    );
    assert_eq!(
        doc.sections[0].text,
        "We ship to every address in the UK and Ireland. Orders placed before 2 pm ship the same business day."
    );
}

#[test]
fn tables_and_lists_become_readable_lines() {
    let doc = help_page();
    assert_eq!(doc.sections[1].text, "Service | Time | Price\nStandard | 3\u{2013}5 days | \u{a3}4.95\nExpress | Next day | \u{a3}9.95");
    assert_eq!(doc.sections[2].text, "1. Open the email titled \"Your order is on its way\".\n2. Follow the tracking link.");
    assert_eq!(
        doc.sections[3].text,
        "- Check with your neighbours first.\n- Contact us within 14 days \u{2014} we'll trace it.\n\nLast updated 3 March 2025."
    );
}

#[test]
fn page_furniture_and_hidden_text_are_dropped() {
    let text = all_text(&help_page().sections);
    for noise in [
        "TRACKING-SCRIPT",
        "font-family",
        "NAV-ACCOUNT-LINK",
        "BREADCRUMB-NOISE",
        "HIDDEN-DIV-TEXT",
        "HIDDEN-STYLE-TEXT",
        "ARIA-HIDDEN-ICON",
        "NOSCRIPT-TEXT",
        "TEMPLATE-TEXT",
        "FORM-LABEL",
        "FORM-BUTTON",
        "ASIDE-PROMO",
        "SITE-FOOTER",
        "SCRIPT-WRITTEN",
        "Harbour & Pine Ltd",
    ] {
        assert!(!text.contains(noise), "{noise} survived in:\n{text}");
    }
}

#[test]
fn unclosed_furniture_ends_with_its_parent() {
    // `<nav>` is never closed; the `</div>` around it closes it, as a browser would.
    let doc = read(b"<div><nav>MENU<p>MORE MENU</div><p>Real text.</p>", "text/html").expect("reads");
    assert_eq!(all_text(&doc.sections), "\nReal text.");
}

#[test]
fn pre_keeps_its_lines_and_br_breaks_lines() {
    let doc = read(b"<h1>Codes</h1><pre>SKU-1   mug\nSKU-2   cup</pre><p>one<br>two</p>", "text/html").expect("reads");
    assert_eq!(doc.sections[0].text, "SKU-1   mug\nSKU-2   cup\n\none\ntwo");
}

#[test]
fn a_meta_charset_is_honoured_when_the_header_has_none() {
    let body = b"<html><head><meta charset=\"windows-1252\"></head><body><p>Caf\xe9</p></body></html>";
    let doc = read(body, "text/html").expect("reads");
    assert_eq!(doc.sections[0].text, "Caf\u{e9}");
    assert_eq!(doc.title, tria_ingest::UNTITLED);
}
