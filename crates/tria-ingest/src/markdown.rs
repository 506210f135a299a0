//! Markdown is split by tria-rag's own section splitter, so an uploaded policy is cut exactly
//! as a fixture policy is.

use tria_rag::chunk::{document_title, markdown_sections};

use crate::Section;

pub(crate) fn extract(markdown: &str) -> (Option<String>, Vec<Section>) {
    let title = Some(document_title(markdown, "")).filter(|t| !t.is_empty());
    let sections =
        markdown_sections(markdown).into_iter().map(|s| Section { heading_path: s.headings, text: s.body, page: None }).collect();
    (title, sections)
}
