//! HTML reduced to text with its structure: `h1`..`h6` give the heading path; paragraphs,
//! list items and table rows become lines; page furniture (scripts, styles, navigation, banner
//! and footer, forms, hidden elements) is dropped.
//!
//! Only html5ever's tokenizer runs, no tree builder: elements are tracked on a flat stack, so
//! the work is linear in the input and nothing recurses, however deep the nesting.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use html5ever::{Attribute, LocalName};

use crate::Section;
use crate::text::tidy_paragraphs;

/// Elements whose content is never text to index.
const DROPPED: &[&str] = &[
    "script", "style", "nav", "aside", "noscript", "template", "form", "button", "select", "textarea", "iframe", "object", "canvas", "svg",
    "math",
];
/// ARIA roles of page furniture.
const DROPPED_ROLES: &[&str] = &["navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"];
/// Elements that never have content (no end tag).
const VOID: &[&str] = &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];
/// Elements that end a line where they start and end.
const LINE_BREAKING: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "br",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tr",
    "ul",
    "caption",
];
/// Line-breaking elements that also separate paragraphs.
const PARAGRAPH: &[&str] = &["blockquote", "dl", "ol", "p", "pre", "table", "ul", "figure", "details"];
/// Deeper than this, start tags are no longer tracked (their text is still read).
const MAX_TRACKED_DEPTH: usize = 4096;
/// How far down the stack an end tag looks for its start tag; bounds the work per tag.
const END_TAG_SEARCH: usize = 64;

/// Returns the page's own title (`<title>`, else the first `<h1>`) and its sections.
pub(crate) fn extract(html: &str) -> (Option<String>, Vec<Section>) {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(HtmlText::default(), TokenizerOpts::default());
    // The sink never asks to run a script, so `feed` only returns when the input is consumed.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.into_inner().finish()
}

#[derive(Default)]
struct HtmlText(RefCell<Reader>);

impl TokenSink for HtmlText {
    type Handle = ();

    fn process_token(&self, token: Token, _line_number: u64) -> TokenSinkResult<()> {
        let mut reader = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => return reader.start(&tag),
                TagKind::EndTag => reader.end(&tag.name),
            },
            Token::CharacterTokens(text) => reader.text(&text),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[derive(Default)]
struct Reader {
    /// Open elements, outermost first.
    open: Vec<LocalName>,
    /// Stack height at which the dropped element being skipped was opened.
    skip_from: Option<usize>,
    /// Stack height at which the open heading was opened, its level and its text.
    heading: Option<(usize, usize, String)>,
    title: Option<String>,
    in_title: bool,
    first_h1: Option<String>,
    /// Headings above the current text: (level, text).
    path: Vec<(usize, String)>,
    sections: Vec<Section>,
    /// Finished lines of the current section.
    body: String,
    line: String,
    /// Written before the first text of the line (a list bullet).
    line_prefix: String,
    space_pending: bool,
    pre_depth: usize,
    /// Item counters of open lists: `Some(n)` in an `<ol>`, `None` in a `<ul>`.
    lists: Vec<Option<u32>>,
}

impl Reader {
    fn start(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        let raw = match name {
            "script" => Some(TokenSinkResult::RawData(RawKind::ScriptData)),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Some(TokenSinkResult::RawData(RawKind::Rawtext)),
            "title" | "textarea" => Some(TokenSinkResult::RawData(RawKind::Rcdata)),
            "plaintext" => Some(TokenSinkResult::Plaintext),
            _ => None,
        };
        let is_void = VOID.contains(&name) || (tag.self_closing && matches!(name, "svg" | "math"));
        if !is_void && self.open.len() < MAX_TRACKED_DEPTH {
            self.open.push(tag.name.clone());
            if self.skip_from.is_none() && self.is_dropped(name, &tag.attrs) {
                self.skip_from = Some(self.open.len() - 1);
            }
        }
        if self.skip_from.is_some() {
            return raw.unwrap_or(TokenSinkResult::Continue);
        }
        if name == "title" {
            self.in_title = true;
        } else if let Some(level) = heading_level(name) {
            self.finish_heading();
            self.heading = Some((self.open.len() - 1, level, String::new()));
        } else if self.heading.is_none() {
            self.start_block(name);
        }
        raw.unwrap_or(TokenSinkResult::Continue)
    }

    fn is_dropped(&self, name: &str, attrs: &[Attribute]) -> bool {
        let attr = |n: &str| attrs.iter().find(|a| &*a.name.local == n).map(|a| a.value.to_ascii_lowercase());
        // A page's banner and footer are furniture; an article's own header holds its heading.
        let in_content = self.open.iter().any(|e| matches!(&**e, "article" | "main" | "section"));
        let hidden_style = attr("style").is_some_and(|s| {
            let s: String = s.split_whitespace().collect();
            s.contains("display:none") || s.contains("visibility:hidden")
        });
        DROPPED.contains(&name)
            || (matches!(name, "header" | "footer") && !in_content)
            || attr("hidden").is_some()
            || attr("aria-hidden").as_deref() == Some("true")
            || attr("role").is_some_and(|r| DROPPED_ROLES.contains(&r.trim()))
            || hidden_style
    }

    fn start_block(&mut self, name: &str) {
        match name {
            "ul" => self.lists.push(None),
            "ol" => self.lists.push(Some(0)),
            "pre" => self.pre_depth += 1,
            _ => {}
        }
        if PARAGRAPH.contains(&name) {
            self.end_paragraph();
        } else if LINE_BREAKING.contains(&name) {
            self.end_line();
        }
        match name {
            "li" => {
                let bullet = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{n}. ")
                    }
                    _ => "- ".to_owned(),
                };
                self.line_prefix = bullet;
            }
            "td" | "th" if !self.line.is_empty() => self.line.push_str(" | "),
            "td" | "th" => {}
            _ if !LINE_BREAKING.contains(&name) && !self.line.is_empty() && is_inline_gap(name) => {
                self.space_pending = true;
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &LocalName) {
        let floor = self.open.len().saturating_sub(END_TAG_SEARCH);
        let Some(at) = (floor..self.open.len()).rev().find(|&i| &self.open[i] == name) else { return };
        // Close everything down to `at` (elements left open inside it end with it).
        while self.open.len() > at {
            let Some(closed) = self.open.pop() else { break };
            let height = self.open.len();
            if self.skip_from == Some(height) {
                self.skip_from = None;
                continue;
            }
            if self.skip_from.is_some() {
                continue;
            }
            self.end_element(&closed, height);
        }
    }

    fn end_element(&mut self, name: &str, height: usize) {
        if name == "title" {
            self.in_title = false;
        } else if self.heading.as_ref().is_some_and(|(h, _, _)| *h == height) {
            self.finish_heading();
        } else if self.heading.is_none() {
            match name {
                "ul" | "ol" => {
                    self.lists.pop();
                }
                "pre" => self.pre_depth = self.pre_depth.saturating_sub(1),
                _ => {}
            }
            if PARAGRAPH.contains(&name) {
                self.end_paragraph();
            } else if LINE_BREAKING.contains(&name) {
                self.end_line();
            } else if is_inline_gap(name) {
                self.space_pending = true;
            }
        }
    }

    fn text(&mut self, text: &str) {
        if self.skip_from.is_some() {
            return;
        }
        if self.in_title {
            self.title.get_or_insert_with(String::new).push_str(text);
        } else if let Some((_, _, heading)) = &mut self.heading {
            heading.push_str(text);
        } else if self.pre_depth > 0 {
            for (i, part) in text.split('\n').enumerate() {
                if i > 0 {
                    self.end_line();
                }
                self.push_word(part.trim_end());
            }
        } else {
            for (i, word) in text.split(char::is_whitespace).enumerate() {
                if i > 0 {
                    self.space_pending = true;
                }
                if !word.is_empty() {
                    self.push_word(word);
                }
            }
        }
    }

    fn push_word(&mut self, word: &str) {
        if word.is_empty() {
            return;
        }
        if self.line.is_empty() {
            self.line.push_str(&std::mem::take(&mut self.line_prefix));
        } else if self.space_pending && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
        self.space_pending = false;
        self.line.push_str(word);
    }

    fn end_line(&mut self) {
        let line = self.line.trim();
        if !line.is_empty() {
            self.body.push_str(line);
            self.body.push('\n');
        }
        self.line.clear();
        self.line_prefix.clear();
        self.space_pending = false;
    }

    fn end_paragraph(&mut self) {
        self.end_line();
        if !self.body.is_empty() && !self.body.ends_with("\n\n") {
            self.body.push('\n');
        }
    }

    /// Ends the section under the current path and starts one under the finished heading.
    fn finish_heading(&mut self) {
        let Some((_, level, text)) = self.heading.take() else { return };
        let text = collapse_whitespace(&text);
        if text.is_empty() {
            return;
        }
        self.end_section();
        if level == 1 && self.first_h1.is_none() {
            self.first_h1 = Some(text.clone());
        }
        while self.path.last().is_some_and(|(l, _)| *l >= level) {
            self.path.pop();
        }
        self.path.push((level, text));
    }

    fn end_section(&mut self) {
        self.end_line();
        let text = tidy_paragraphs(&std::mem::take(&mut self.body));
        if !text.is_empty() {
            let heading_path = self.path.iter().map(|(_, h)| h.clone()).collect();
            self.sections.push(Section { heading_path, text, page: None });
        }
    }

    fn finish(mut self) -> (Option<String>, Vec<Section>) {
        self.finish_heading();
        self.end_section();
        let title = self.title.as_deref().map(collapse_whitespace).filter(|t| !t.is_empty()).or(self.first_h1);
        (title, self.sections)
    }
}

fn heading_level(name: &str) -> Option<usize> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Inline elements that separate words when the markup has no space (`<td>`-less grids of
/// `<span>`s, `<label>` next to text); plain `<b>`, `<a>` and the like do not.
fn is_inline_gap(name: &str) -> bool {
    matches!(name, "img" | "label" | "td" | "th")
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
