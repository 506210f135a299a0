//! Labelled example messages: `fixtures/intents/{label}.txt`, one message per line, `#` comments.
//! A tenant can add its own files in another directory; examples from all directories are pooled.

use std::path::Path;

use tria_core::IntentLabel;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledExample {
    pub label: IntentLabel,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error("reading intent examples in {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: the file name must be an intent label (e.g. order_status.txt)")]
    UnknownLabel { path: String },
}

/// The examples of one label from the text of its file.
pub fn parse_examples(label: IntentLabel, text: &str) -> Vec<LabelledExample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| LabelledExample { label, text: l.to_owned() })
        .collect()
}

/// Every `{label}.txt` in `dir`, sorted by file name for a stable order.
pub fn load_examples(dir: &Path) -> Result<Vec<LabelledExample>, ExampleError> {
    let io = |source| ExampleError::Io { path: dir.display().to_string(), source };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let label: IntentLabel = stem.parse().map_err(|_| ExampleError::UnknownLabel { path: path.display().to_string() })?;
        let text = std::fs::read_to_string(&path).map_err(|source| ExampleError::Io { path: path.display().to_string(), source })?;
        out.extend(parse_examples(label, &text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let ex = parse_examples(IntentLabel::Greeting, "# about\nhi\n\n  hello  \n");
        assert_eq!(ex.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["hi", "hello"]);
    }
}
