//! Heading-aware chunking: a Markdown document is cut at its headings, then long sections are
//! cut by token count on sentence boundaries with a small overlap, keeping the heading path so
//! every chunk can be cited as "Document › Section › Subsection".

use crate::{RagError, tokens};

/// Separator between heading levels in a heading path.
pub const HEADING_SEPARATOR: &str = " › ";

#[derive(Clone, Copy, Debug)]
pub struct ChunkOptions {
    /// Aim for chunks about this long.
    pub target_tokens: usize,
    /// Never exceed this (a single over-long sentence is cut on token boundaries).
    pub max_tokens: usize,
    /// Tokens of trailing context repeated at the start of the next chunk of the same section.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self { target_tokens: 250, max_tokens: 300, overlap_tokens: 40 }
    }
}

/// A piece of a document, ready to store and index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub heading_path: String,
    pub text: String,
    pub token_count: usize,
}

/// The document's title: its first `# ` heading, or `fallback`.
pub fn document_title(markdown: &str, fallback: &str) -> String {
    markdown
        .lines()
        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| fallback.to_owned())
}

/// One heading's text in a Markdown document: the headings above it (outermost first, the
/// document's `# ` title included) and its body, trimmed. Public so other readers of documents
/// (tria-ingest) split Markdown exactly as chunking does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkdownSection {
    pub headings: Vec<String>,
    pub body: String,
}

/// Cuts `markdown` at its ATX headings (`#` to `######`, not inside fenced code); sections with
/// an empty body are left out.
pub fn markdown_sections(markdown: &str) -> Vec<MarkdownSection> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut body = String::new();
    let mut in_code = false;
    let flush = |stack: &Vec<(usize, String)>, body: &mut String, out: &mut Vec<MarkdownSection>| {
        let text = body.trim();
        if !text.is_empty() {
            out.push(MarkdownSection { headings: stack.iter().map(|(_, h)| h.clone()).collect(), body: text.to_owned() });
        }
        body.clear();
    };
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let level = if in_code { 0 } else { line.chars().take_while(|c| *c == '#').count() };
        let is_heading = (1..=6).contains(&level) && line[level..].starts_with(' ');
        if is_heading {
            flush(&stack, &mut body, &mut out);
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, line[level..].trim().trim_end_matches('#').trim().to_owned()));
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    flush(&stack, &mut body, &mut out);
    out
}

/// Sentences and list items, in order, each keeping its trailing whitespace trimmed.
fn sentences(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in body.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut start = 0;
            let bytes = line.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                let ends_sentence = matches!(b, b'.' | b'?' | b'!') && bytes.get(i + 1) == Some(&b' ');
                if ends_sentence {
                    out.push(line[start..=i].trim().to_owned());
                    start = i + 1;
                }
            }
            let rest = line[start..].trim();
            if !rest.is_empty() {
                out.push(rest.to_owned());
            }
        }
    }
    out
}

/// Cuts `markdown` into chunks. `title` heads every heading path.
pub fn chunk_markdown(title: &str, markdown: &str, opts: ChunkOptions) -> Result<Vec<Chunk>, RagError> {
    let mut chunks = Vec::new();
    for section in markdown_sections(markdown) {
        let mut path: Vec<&str> = section.headings.iter().map(String::as_str).collect();
        if path.first() != Some(&title) {
            path.insert(0, title);
        }
        let heading_path = path.join(HEADING_SEPARATOR);
        let mut pieces: Vec<(String, usize)> = Vec::new();
        for sentence in sentences(&section.body) {
            let n = tokens::count(&sentence)?;
            if n <= opts.max_tokens {
                pieces.push((sentence, n));
            } else {
                let ids = tokens::encode(&sentence)?;
                for window in ids.chunks(opts.target_tokens) {
                    pieces.push((tokens::decode(window)?, window.len()));
                }
            }
        }
        let mut current: Vec<(String, usize)> = Vec::new();
        let mut current_tokens = 0;
        let mut fresh = 0; // pieces in `current` that are not overlap from the previous chunk
        for (piece, n) in pieces {
            if current_tokens + n > opts.target_tokens && fresh > 0 {
                chunks.push(make_chunk(&heading_path, &current)?);
                // Carry the tail of this chunk into the next as overlap.
                let mut overlap = Vec::new();
                let mut overlap_tokens = 0;
                for (p, pn) in current.iter().rev() {
                    if overlap_tokens + pn > opts.overlap_tokens {
                        break;
                    }
                    overlap_tokens += pn;
                    overlap.insert(0, (p.clone(), *pn));
                }
                current = overlap;
                current_tokens = overlap_tokens;
                fresh = 0;
            }
            current_tokens += n;
            current.push((piece, n));
            fresh += 1;
        }
        if fresh > 0 {
            chunks.push(make_chunk(&heading_path, &current)?);
        }
    }
    Ok(chunks)
}

fn make_chunk(heading_path: &str, pieces: &[(String, usize)]) -> Result<Chunk, RagError> {
    let text = pieces.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(" ");
    Ok(Chunk { heading_path: heading_path.to_owned(), token_count: tokens::count(&text)?, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Returns\n\nIntro line.\n\n## Window\n\nYou can return items within 30 days. Bring the receipt.\n\n### Exceptions\n\nOpened food cannot be returned.\n\n## Refunds\n\nRefunds take 5 business days.\n";

    #[test]
    fn sections_keep_their_heading_path() {
        let chunks = chunk_markdown("Returns", DOC, ChunkOptions::default()).expect("chunks");
        let paths: Vec<_> = chunks.iter().map(|c| c.heading_path.as_str()).collect();
        assert_eq!(paths, ["Returns", "Returns › Window", "Returns › Window › Exceptions", "Returns › Refunds"]);
        assert_eq!(chunks[1].text, "You can return items within 30 days. Bring the receipt.");
        assert!(chunks.iter().all(|c| c.token_count > 0));
    }

    #[test]
    fn long_sections_split_under_the_limit_with_overlap() {
        let sentence = "Orders placed before 2 pm ship the same business day from our Ohio warehouse. ";
        let body = sentence.repeat(60);
        let doc = format!("# Shipping\n\n## Dispatch\n\n{body}\n");
        let opts = ChunkOptions { target_tokens: 100, max_tokens: 120, overlap_tokens: 20 };
        let chunks = chunk_markdown("Shipping", &doc, opts).expect("chunks");
        assert!(chunks.len() > 5, "got {}", chunks.len());
        assert!(chunks.iter().all(|c| c.token_count <= 120), "{:?}", chunks.iter().map(|c| c.token_count).collect::<Vec<_>>());
        // Overlap: each chunk after the first starts with the sentence that ended the previous.
        assert!(chunks[1].text.starts_with("Orders placed"));
    }

    #[test]
    fn a_sentence_longer_than_the_limit_is_cut_on_token_boundaries() {
        let word_soup = "cup ".repeat(700);
        let doc = format!("# Cups\n\n{word_soup}\n");
        let chunks = chunk_markdown("Cups", &doc, ChunkOptions::default()).expect("chunks");
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| c.token_count <= 300));
    }

    #[test]
    fn headings_inside_code_blocks_are_not_headings() {
        let doc = "# T\n\n```\n# not a heading\n```\n";
        let chunks = chunk_markdown("T", doc, ChunkOptions::default()).expect("chunks");
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].text.contains("# not a heading"));
        assert_eq!(document_title(doc, "x"), "T");
        assert_eq!(document_title("no heading", "fallback"), "fallback");
    }
}
