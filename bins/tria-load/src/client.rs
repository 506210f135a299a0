//! One chat exchange over HTTP: `POST /api/chat` (JSON) or `POST /api/v1/chat/stream` (SSE,
//! timing the first token and the token rate), classified into an [`Outcome`].

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::stats::{CacheLevel, Outcome, StreamTiming};

/// What one exchange produced.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub outcome: Outcome,
    /// The session the server put the message in (the next turn continues it).
    pub session_id: Option<String>,
    pub stream: Option<StreamTiming>,
}

impl Exchange {
    fn failed(outcome: Outcome) -> Self {
        Self { outcome, session_id: None, stream: None }
    }
}

/// The request to send.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub base_url: &'a str,
    pub key: &'a str,
    pub text: &'a str,
    pub session_id: Option<&'a str>,
    pub timeout: Duration,
}

fn body(m: &Message<'_>) -> serde_json::Value {
    match m.session_id {
        Some(id) => json!({ "message": m.text, "session_id": id }),
        None => json!({ "message": m.text }),
    }
}

fn classify(err: &reqwest::Error) -> Outcome {
    if err.is_timeout() {
        Outcome::Timeout
    } else if err.is_connect() {
        Outcome::Connect
    } else {
        Outcome::BadBody("io_error".into())
    }
}

/// `POST /api/chat`; the per-request timeout covers the whole exchange.
pub async fn chat(client: &reqwest::Client, m: Message<'_>) -> Exchange {
    let url = format!("{}/api/chat", m.base_url);
    let work = async {
        let response = client.post(url).bearer_auth(m.key).json(&body(&m)).send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| classify(&e))?;
        if !(200..300).contains(&status) {
            return Err(Outcome::Status(status));
        }
        let reply: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| Outcome::BadBody("bad_json".into()))?;
        if reply.get("reply").and_then(|r| r.as_str()).is_none() {
            return Err(Outcome::BadBody("no_reply".into()));
        }
        let cache = reply.get("cache").and_then(|c| c.as_str()).and_then(CacheLevel::parse);
        let session_id = reply.get("session_id").and_then(|s| s.as_str()).map(str::to_owned);
        Ok(Exchange { outcome: Outcome::Ok { status, cache }, session_id, stream: None })
    };
    match tokio::time::timeout(m.timeout, work).await {
        Ok(Ok(exchange)) => exchange,
        Ok(Err(outcome)) => Exchange::failed(outcome),
        Err(_) => Exchange::failed(Outcome::Timeout),
    }
}

/// One parsed Server-Sent Event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Splits complete events off the front of `buffer` (events end with a blank line).
pub fn drain_events(buffer: &mut String) -> Vec<SseEvent> {
    let mut events = Vec::new();
    loop {
        let normalized_end = buffer.find("\n\n").map(|i| (i, 2)).or_else(|| buffer.find("\r\n\r\n").map(|i| (i, 4)));
        let Some((end, sep)) = normalized_end else { break };
        let block: String = buffer.drain(..end + sep).collect();
        let mut event = SseEvent::default();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event.event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        // Comment-only blocks (keep-alives) carry no event.
        if !event.event.is_empty() || !event.data.is_empty() {
            events.push(event);
        }
    }
    events
}

/// `POST /api/v1/chat/stream`. `intended` is when the request should have gone out (open
/// model), so time to first token includes any wait before sending.
pub async fn stream(client: &reqwest::Client, m: Message<'_>, intended: Instant) -> Exchange {
    let url = format!("{}/api/v1/chat/stream", m.base_url);
    let work = async {
        let response = client.post(url).bearer_auth(m.key).json(&body(&m)).send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let _ = response.bytes().await;
            return Err(Outcome::Status(status));
        }
        let mut chunks = response.bytes_stream();
        let mut buffer = String::new();
        let (mut first_token, mut tokens) = (None::<Instant>, 0u32);
        let (mut cache, mut session_id) = (None, None);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| classify(&e))?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            for event in drain_events(&mut buffer) {
                match event.event.as_str() {
                    "meta" => {
                        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap_or_default();
                        session_id = data.get("session_id").and_then(|s| s.as_str()).map(str::to_owned);
                        cache = data.get("cache").and_then(|c| c.as_str()).and_then(CacheLevel::parse);
                    }
                    "token" => {
                        tokens += 1;
                        first_token.get_or_insert_with(Instant::now);
                    }
                    "done" => {
                        let now = Instant::now();
                        let first = first_token.unwrap_or(now);
                        let timing = StreamTiming { ttft: first.saturating_duration_since(intended), tokens, generation: now - first };
                        return Ok(Exchange { outcome: Outcome::Ok { status, cache }, session_id, stream: Some(timing) });
                    }
                    "error" => {
                        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap_or_default();
                        let code = data.get("code").and_then(|c| c.as_str()).unwrap_or("unknown");
                        return Err(Outcome::BadBody(format!("sse_error_{code}")));
                    }
                    _ => {}
                }
            }
        }
        Err(Outcome::BadBody("stream_cut_short".into()))
    };
    match tokio::time::timeout(m.timeout, work).await {
        Ok(Ok(exchange)) => exchange,
        Ok(Err(outcome)) => Exchange::failed(outcome),
        Err(_) => Exchange::failed(Outcome::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_at_blank_lines_and_partial_ones_wait_for_more_bytes() {
        let mut buffer = String::from("event: meta\ndata: {\"cache\":\"l1\"}\n\n: keep-alive\n\nevent: token\ndata: Hel");
        let events = drain_events(&mut buffer);
        assert_eq!(events, vec![SseEvent { event: "meta".into(), data: "{\"cache\":\"l1\"}".into() }]);
        assert_eq!(buffer, "event: token\ndata: Hel");
        buffer.push_str("lo \n\n");
        assert_eq!(drain_events(&mut buffer), vec![SseEvent { event: "token".into(), data: "Hello ".into() }]);
        assert!(buffer.is_empty());
    }
}
