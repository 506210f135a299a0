//! Server-Sent Events decoding, robust to chunk boundaries: bytes arrive in arbitrary pieces
//! (mid-line, mid-UTF-8 character, `\r\n` split in two), events come out whole.

/// Incremental decoder of an `text/event-stream` body into the `data` of each event.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    data: Vec<String>,
}

/// A line that is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event stream line is not UTF-8")]
pub struct SseError;

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the body; returns the data of every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<String>, SseError> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        // Splitting on the byte b'\n' is safe for UTF-8: it never occurs inside a multi-byte char.
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line).map_err(|_| SseError)?;
            self.line(&line, &mut events);
        }
        Ok(events)
    }

    /// The body ended: an event without its closing blank line still counts.
    pub fn finish(&mut self) -> Result<Vec<String>, SseError> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8(rest).map_err(|_| SseError)?;
            self.line(line.trim_end_matches('\r'), &mut events);
        }
        self.dispatch(&mut events);
        Ok(events)
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            self.dispatch(events);
        } else if let Some(value) = line.strip_prefix("data:") {
            self.data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
        // Comments (`:`), `event:`, `id:` and `retry:` carry nothing the chat protocol uses.
    }

    fn dispatch(&mut self, events: &mut Vec<String>) {
        if !self.data.is_empty() {
            events.push(self.data.join("\n"));
            self.data.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = ": keep-alive\r\n\r\ndata: {\"a\":\"é→ü\"}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata:[DONE]\n\n";

    fn expected() -> Vec<String> {
        vec!["{\"a\":\"é→ü\"}".to_owned(), "line1\nline2".to_owned(), "[DONE]".to_owned()]
    }

    #[test]
    fn whole_body_at_once() {
        let mut d = SseDecoder::new();
        let mut out = d.push(BODY.as_bytes()).expect("utf-8");
        out.extend(d.finish().expect("utf-8"));
        assert_eq!(out, expected());
    }

    #[test]
    fn every_split_point_and_byte_by_byte_give_the_same_events() {
        let bytes = BODY.as_bytes();
        for split in 0..bytes.len() {
            let mut d = SseDecoder::new();
            let mut out = d.push(&bytes[..split]).expect("utf-8");
            out.extend(d.push(&bytes[split..]).expect("utf-8"));
            out.extend(d.finish().expect("utf-8"));
            assert_eq!(out, expected(), "split at {split}");
        }
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for b in bytes {
            out.extend(d.push(std::slice::from_ref(b)).expect("utf-8"));
        }
        assert_eq!(out, expected());
    }

    #[test]
    fn trailing_event_without_blank_line_and_invalid_utf8() {
        let mut d = SseDecoder::new();
        assert!(d.push(b"data: tail").expect("utf-8").is_empty());
        assert_eq!(d.finish().expect("utf-8"), vec!["tail".to_owned()]);
        assert_eq!(SseDecoder::new().push(b"data: \xff\xfe\n"), Err(SseError));
    }
}
